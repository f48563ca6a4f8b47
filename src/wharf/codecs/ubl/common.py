"""What every UBL 2.x document shares: namespaces, parties, addresses, items, amounts.

Elements are found by namespace URI (ElementTree's Clark names, ``{urn:…}ID``), so a
document may bind ``cbc``/``cac`` to any prefix (``Harry:ID``) or use a default namespace.
Readers build plain field mappings validated into canonical Structs by
:func:`wharf.codecs.xml.build`; pointers name elements with the conventional ``cac:``/``cbc:``
prefixes. Writers emit the conventional prefixes with the namespaces declared on the root.

Identifiers: a party's GLN is an ``EndpointID`` or ``PartyIdentification/ID`` with scheme
``0088``/``GLN``, its D-U-N-S one with scheme ``0060``/``DUNS``; an id that does not look like
one (wrong length, not digits) is kept as the party's plain ``id`` instead. An item's GTIN is a
``StandardItemIdentification/ID``; its SKU an ``AdditionalItemIdentification/ID`` with scheme
``SKU``. Quantities keep their UN/ECE Rec 20 ``unitCode`` (C62, KGM, LTR...); a quantity
without one is read as ``C62`` ("one"), with a note.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from wharf.codecs.xml import parse_date, parse_decimal, text_of
from wharf.errors import DocumentError

if TYPE_CHECKING:
    import datetime as dt
    from decimal import Decimal

    from wharf.model import Address, ItemRef, Money, Party

__all__ = (
    "CAC",
    "CAC_NS",
    "CBC",
    "CBC_NS",
    "MoneyFields",
    "QuantityFields",
    "Reading",
    "decimal_text",
    "document_namespace",
    "first_text",
    "item_fields",
    "party_fields",
    "sub",
    "ubl_root",
    "write_amount",
    "write_item",
    "write_party",
)

_UBL = "urn:oasis:names:specification:ubl:schema:xsd:"
CAC_NS = _UBL + "CommonAggregateComponents-2"
CBC_NS = _UBL + "CommonBasicComponents-2"
CAC = "{" + CAC_NS + "}"
CBC = "{" + CBC_NS + "}"

_GLN_SCHEMES = frozenset({"0088", "GLN", "EAN"})
_DUNS_SCHEMES = frozenset({"0060", "DUNS", "DUNS+4"})


def document_namespace(name: str) -> str:
    """The namespace of a UBL document element (``Invoice`` → ``urn:…:Invoice-2``)."""
    return f"{_UBL}{name}-2"


class MoneyFields(TypedDict):
    """The fields of a canonical Money, as read."""

    amount: Decimal
    currency: str


class QuantityFields(TypedDict):
    """The fields of a canonical Quantity, as read."""

    value: Decimal
    uom: str


def first_text(element: ET.Element, *paths: str) -> str | None:
    """The stripped text of the first of ``paths`` (Clark-name paths) that has any."""
    for path in paths:
        value = text_of(element.find(path))
        if value:
            return value
    return None


@dataclass(slots=True)
class Reading:
    """The state of reading one UBL document: its root path, notes, origins, currency."""

    where: str
    version: str | None
    notes: list[str] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)
    currency: str | None = None

    def source(self) -> dict[str, object]:
        return {"format": "ubl", "version": self.version, "position": self.where}

    def date(self, element: ET.Element | None, pointer: str, what: str = "date") -> dt.date | None:
        raw = text_of(element)
        return parse_date(raw, pointer, what) if raw is not None else None

    def amount(self, element: ET.Element | None, pointer: str) -> MoneyFields | None:
        """An amount with ``@currencyID`` (else the document currency); None when empty."""
        raw = text_of(element)
        if element is None or raw is None:
            return None
        value = parse_decimal(raw, pointer, "amount")
        code = (element.get("currencyID") or "").strip() or self.currency
        if code is None:
            raise DocumentError("the amount has no currencyID", pointer=f"{pointer}/@currencyID")
        return MoneyFields(
            amount=value, currency=self.currency_code(code, f"{pointer}/@currencyID")
        )

    def currency_code(self, raw: str, pointer: str) -> str:
        """A valid ISO 4217 code; a placeholder becomes ``XXX`` (no currency) with a note."""
        code = raw.strip()
        if len(code) == 3 and code.isascii() and code.isalpha() and code.isupper():
            if self.currency is None:
                self.currency = code
            return code
        if not any(n.startswith(f"currency {code!r}") for n in self.notes):
            self.notes.append(f"currency {code!r} at {pointer} is not an ISO 4217 code; XXX used")
        if self.currency is None:
            self.currency = "XXX"
        return "XXX"

    def quantity(
        self, element: ET.Element | None, pointer: str, *, allow_negative: bool = False
    ) -> QuantityFields:
        """A quantity with its ``@unitCode``; negative only where the caller allows it."""
        raw = text_of(element)
        if element is None or raw is None:
            raise DocumentError("the quantity is missing", pointer=pointer)
        value = parse_decimal(raw, pointer, "quantity")
        if value < 0:
            if not allow_negative:
                raise DocumentError(f"quantity {raw} is negative", pointer=pointer)
            value = -value
            self.notes.append(f"{pointer} is negative ({raw}); kept as {value}, amounts as stated")
        unit = (element.get("unitCode") or "").strip().upper()
        if not unit:
            unit = "C62"
            self.notes.append(f"{pointer} has no unitCode; C62 (one) is assumed")
        elif not (len(unit) <= 3 and unit.isascii() and unit.isalnum()):
            raise DocumentError(
                f"unitCode {unit!r} is not a UN/ECE Rec 20 code", pointer=f"{pointer}/@unitCode"
            )
        return QuantityFields(value=value, uom=unit)


def _digits(value: str, *lengths: int) -> bool:
    return len(value) in lengths and value.isascii() and value.isdigit()


def _address(element: ET.Element | None) -> dict[str, object] | None:
    if element is None:
        return None
    lines = []
    street = text_of(element.find(f"{CBC}StreetName"))
    number = text_of(element.find(f"{CBC}BuildingNumber"))
    if street:
        lines.append(f"{street} {number}" if number else street)
    additional = text_of(element.find(f"{CBC}AdditionalStreetName"))
    if additional:
        lines.append(additional)
    lines.extend(
        t for t in (text_of(e) for e in element.iterfind(f"{CAC}AddressLine/{CBC}Line")) if t
    )
    address: dict[str, object] = {}
    if lines:
        address["lines"] = lines
    city = text_of(element.find(f"{CBC}CityName"))
    if city:
        address["city"] = city
    region = first_text(element, f"{CBC}CountrySubentity", f"{CBC}CountrySubentityCode")
    if region:
        address["region"] = region
    postal_code = text_of(element.find(f"{CBC}PostalZone"))
    if postal_code:
        address["postal_code"] = postal_code
    country = (text_of(element.find(f"{CAC}Country/{CBC}IdentificationCode")) or "").upper()
    if len(country) == 2 and country.isascii() and country.isalpha():
        address["country"] = country
    return address or None


def party_fields(
    element: ET.Element | None, address: ET.Element | None = None
) -> dict[str, object] | None:
    """A ``cac:Party`` as a canonical Party (``address`` stands in when the party has none)."""
    party: dict[str, object] = {}
    if element is not None:
        candidates = list(element.iterfind(f"{CAC}PartyIdentification/{CBC}ID"))
        endpoint = element.find(f"{CBC}EndpointID")
        if endpoint is not None:
            candidates.append(endpoint)
        for candidate in candidates:
            value = text_of(candidate)
            if not value:
                continue
            scheme = (candidate.get("schemeID") or "").strip().upper()
            # A well-formed GLN or D-U-N-S is never the plain id, even when a first one was found.
            if scheme in _GLN_SCHEMES and _digits(value, 13):
                party.setdefault("gln", value)
            elif scheme in _DUNS_SCHEMES and _digits(value, 9, 13):
                party.setdefault("duns", value)
            elif "id" not in party:
                party["id"] = value
        name = first_text(
            element, f"{CAC}PartyName/{CBC}Name", f"{CAC}PartyLegalEntity/{CBC}RegistrationName"
        )
        if name:
            party["name"] = name
        postal = _address(element.find(f"{CAC}PostalAddress"))
        if postal:
            party["address"] = postal
    if "address" not in party:
        fallback = _address(address)
        if fallback:
            party["address"] = fallback
    return party or None


def item_fields(
    element: ET.Element | None, pointer: str, po_line: str | None, reading: Reading
) -> dict[str, object]:
    """A ``cac:Item`` as a canonical ItemRef.

    An item with no identification at all is named by the PO line it answers
    (``buyer_part`` ``"po-line:<n>"``, with a note) when there is one; otherwise it is an error.
    """
    item: dict[str, object] = {}
    if element is not None:
        for key, path in (
            ("supplier_part", f"{CAC}SellersItemIdentification/{CBC}ID"),
            ("buyer_part", f"{CAC}BuyersItemIdentification/{CBC}ID"),
        ):
            value = text_of(element.find(path))
            if value:
                item[key] = value
        for standard in element.iterfind(f"{CAC}StandardItemIdentification/{CBC}ID"):
            value = text_of(standard)
            if value and _digits(value, 8, 12, 13, 14):
                item["gtin"] = value
                break
        for additional in element.iterfind(f"{CAC}AdditionalItemIdentification/{CBC}ID"):
            value = text_of(additional)
            if value and (additional.get("schemeID") or "").upper() == "SKU":
                item["sku"] = value
                break
        description = first_text(element, f"{CBC}Description", f"{CBC}Name")
        if description:
            item["description"] = description
    if not ("supplier_part" in item or "buyer_part" in item or "gtin" in item or "sku" in item):
        if po_line is None:
            raise DocumentError("the item has no identification", pointer=pointer)
        item["buyer_part"] = f"po-line:{po_line}"
        reading.notes.append(
            f"{pointer} has no identification; buyer_part 'po-line:{po_line}' used"
        )
    return item


# --- writing --------------------------------------------------------------------------------


def sub(
    parent: ET.Element, tag: str, text: str | None = None, attrs: dict[str, str] | None = None
) -> ET.Element:
    """Append ``tag`` (``cbc:ID``, ``cac:Party``) with optional text and attributes."""
    element = ET.SubElement(parent, tag, attrs or {})
    if text is not None:
        element.text = text
    return element


def decimal_text(value: Decimal) -> str:
    """xsd:decimal text: no exponent, the scale kept."""
    return format(value, "f")


def ubl_root(name: str, customization: str, profile: str, version: str | None) -> ET.Element:
    """The root element with UBL's namespaces declared and the profile identifiers."""
    root = ET.Element(
        name, {"xmlns": document_namespace(name), "xmlns:cac": CAC_NS, "xmlns:cbc": CBC_NS}
    )
    if version:
        sub(root, "cbc:UBLVersionID", version)
    sub(root, "cbc:CustomizationID", customization)
    sub(root, "cbc:ProfileID", profile)
    return root


def write_amount(parent: ET.Element, tag: str, money: Money) -> ET.Element:
    return sub(parent, tag, decimal_text(money.amount), {"currencyID": money.currency})


def _write_address(parent: ET.Element, tag: str, address: Address) -> None:
    element = sub(parent, tag)
    if address.lines:
        sub(element, "cbc:StreetName", address.lines[0])
    if len(address.lines) > 1:
        sub(element, "cbc:AdditionalStreetName", address.lines[1])
    if address.city:
        sub(element, "cbc:CityName", address.city)
    if address.postal_code:
        sub(element, "cbc:PostalZone", address.postal_code)
    if address.region:
        sub(element, "cbc:CountrySubentity", address.region)
    for line in address.lines[2:]:
        sub(sub(element, "cac:AddressLine"), "cbc:Line", line)
    if address.country:
        sub(sub(element, "cac:Country"), "cbc:IdentificationCode", address.country)


def write_party(
    parent: ET.Element, tag: str | None, party: Party, party_tag: str = "cac:Party"
) -> None:
    """``<tag><cac:Party>…</cac:Party></tag>``; with tag None the party element alone."""
    holder = sub(parent, tag) if tag else parent
    element = sub(holder, party_tag)
    if party.gln:
        sub(element, "cbc:EndpointID", party.gln, {"schemeID": "0088"})
    if party.id:
        sub(sub(element, "cac:PartyIdentification"), "cbc:ID", party.id)
    if party.gln:
        sub(sub(element, "cac:PartyIdentification"), "cbc:ID", party.gln, {"schemeID": "0088"})
    if party.duns:
        sub(sub(element, "cac:PartyIdentification"), "cbc:ID", party.duns, {"schemeID": "0060"})
    if party.name:
        sub(sub(element, "cac:PartyName"), "cbc:Name", party.name)
    if party.address is not None:
        _write_address(element, "cac:PostalAddress", party.address)


def write_item(parent: ET.Element, item: ItemRef) -> None:
    element = sub(parent, "cac:Item")
    if item.description:
        sub(element, "cbc:Name", item.description)
    if item.buyer_part:
        sub(sub(element, "cac:BuyersItemIdentification"), "cbc:ID", item.buyer_part)
    if item.supplier_part:
        sub(sub(element, "cac:SellersItemIdentification"), "cbc:ID", item.supplier_part)
    if item.gtin:
        sub(
            sub(element, "cac:StandardItemIdentification"),
            "cbc:ID",
            item.gtin,
            {"schemeID": "0160"},
        )
    if item.sku:
        sub(
            sub(element, "cac:AdditionalItemIdentification"),
            "cbc:ID",
            item.sku,
            {"schemeID": "SKU"},
        )


def serialize(root: ET.Element) -> bytes:
    """The document as UTF-8 bytes with an XML declaration."""
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body + b"\n"
