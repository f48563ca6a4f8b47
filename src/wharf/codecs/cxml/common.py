"""What every cXML request shares: the header, parties, addresses, items, money and comments.

Readers take an element, the XPath-like pointer it was found at, and a :class:`Reading` that
collects what the whole document needs (notes the reader adds, the canonical-path → XML-pointer
origins for error reports, the document currency). They build plain field mappings that
:func:`wharf.codecs.xml.build` validates into canonical Structs in one go, so msgspec checks
every pattern and rule and its errors still point into the XML.

Writers build :mod:`xml.etree.ElementTree` elements: ElementTree escapes text and attributes,
and the cXML vocabulary has no namespaces, so no prefix bookkeeping is needed.

The ``SharedSecret`` in ``Header/Sender/Credential`` is deliberately never read into any of
these structures; :class:`Header` keeps it only so that error texts can be scrubbed of it.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

from wharf.codecs.xml import parse_date, parse_decimal, text_of
from wharf.errors import DocumentError

if TYPE_CHECKING:
    from decimal import Decimal

    from wharf.codecs.base import Envelope
    from wharf.model import Address, ItemRef, Money, Party

__all__ = (
    "BUYER_ROLES",
    "DEFAULT_VERSION",
    "SUPPLIER_ROLES",
    "Header",
    "MoneyFields",
    "QuantityFields",
    "Reading",
    "comments",
    "contact_party",
    "credential_domain",
    "date_attr",
    "datetime_text",
    "decimal_text",
    "header_of",
    "item_fields",
    "known_item",
    "money_fields",
    "order_reference",
    "party_from_contact",
    "party_from_ship_bill",
    "quantity_fields",
    "sub",
    "uom_code",
    "write_comments",
    "write_cxml",
    "write_item_id",
    "write_party_contact",
    "write_postal_address",
    "write_ship_bill",
)

DEFAULT_VERSION = "1.2.050"
"""The cXML version written when the envelope does not name one."""

SUPPLIER_ROLES = ("supplierCorporate", "supplierMasterAccount", "supplierAccount", "seller")
"""``Contact/@role`` values read as the supplier; the first is written."""
BUYER_ROLES = ("buyerCorporate", "buyerMasterAccount", "buyerAccount", "buyer")
"""``Contact/@role`` values read as the buyer; the first is written."""

_GTIN_DOMAINS = frozenset({"gtin", "ean", "ean-13", "eanid", "upc", "gtin-14", "gtin14"})
_GLN_DOMAINS = frozenset({"gln", "iln", "ean"})
_DUNS_DOMAINS = frozenset({"duns", "duns+4", "dunsplus4"})
_QUALIFIER_DOMAINS = {"ZZ": "NetworkID", "01": "DUNS", "1": "DUNS", "14": "GLN", "UL": "GLN"}


class MoneyFields(TypedDict):
    """The fields of a canonical Money, as read (validated later by msgspec)."""

    amount: Decimal
    currency: str


class QuantityFields(TypedDict):
    """The fields of a canonical Quantity, as read."""

    value: Decimal
    uom: str


@dataclass(frozen=True, slots=True)
class Header:
    """The cXML envelope of one body: message id, version, sender and recipient identities."""

    payload_id: str | None
    version: str | None
    timestamp: str | None
    from_identity: str | None
    to_identity: str | None
    secrets: tuple[str, ...] = ()
    """Every non-empty SharedSecret in the header, kept only to scrub error texts."""

    def redact(self, text: str) -> str:
        """``text`` with every SharedSecret — also quoted, or cut short as error texts do — as ``***``."""
        for secret in self.secrets:
            for form in (secret, repr(secret)[1:-1]):
                text = text.replace(form, "***")
            # Error texts quote at most 40 characters of a value: scrub long prefixes too.
            for length in range(len(secret) - 1, min(len(secret), 8) - 1, -1):
                if secret[:length] in text:
                    text = text.replace(secret[:length], "***")
        return text


def header_of(root: ET.Element, doctype_system_id: str | None) -> Header:
    """Read ``cXML/@payloadID``, the version (from the DTD URL or ``@version``) and credentials."""
    version = None
    if doctype_system_id:
        # http://xml.cxml.org/schemas/cXML/1.2.050/cXML.dtd
        parts = doctype_system_id.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2][:1].isdigit():
            version = parts[-2]
    header = root.find("Header")
    secrets: list[str] = []
    from_identity = to_identity = None
    if header is not None:
        from_identity = text_of(header.find("From/Credential/Identity"))
        to_identity = text_of(header.find("To/Credential/Identity"))
        for secret in header.iterfind("Sender/Credential/SharedSecret"):
            value = "".join(secret.itertext()).strip()
            if value:
                secrets.append(value)
    return Header(
        payload_id=root.get("payloadID") or None,
        version=version or root.get("version") or None,
        timestamp=root.get("timestamp") or None,
        from_identity=from_identity,
        to_identity=to_identity,
        secrets=tuple(sorted(secrets, key=len, reverse=True)),
    )


@dataclass(slots=True)
class Reading:
    """The state of reading one request: where it is, notes to add, origins, the currency."""

    where: str
    header: Header
    notes: list[str] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)
    currency: str | None = None

    def added_notes(self) -> list[str]:
        """The notes this reading added (they may quote values), scrubbed of secrets."""
        return [self.header.redact(note) for note in self.notes]

    def source(self) -> dict[str, object]:
        """The document's SourceRef fields: cXML version, payloadID, request path."""
        return {
            "format": "cxml",
            "version": self.header.version,
            "interchange_control": self.header.payload_id,
            "position": self.where,
        }

    def party(
        self, parent: ET.Element, roles: tuple[str, ...], fallback: str | None
    ) -> dict[str, object] | None:
        """The first ``Contact`` with one of ``roles``, else a Party with the fallback identity."""
        party = contact_party(parent, *roles)
        if party is None and fallback:
            party = {"id": fallback}
        return party

    def money(self, element: ET.Element | None, pointer: str) -> MoneyFields | None:
        """A ``Money`` element as canonical money; None when absent or empty."""
        if element is None:
            return None
        raw = text_of(element)
        if raw is None:
            return None
        amount = parse_decimal(raw, pointer, "amount")
        currency = self.currency_code(element.get("currency"), pointer + "/@currency")
        return MoneyFields(amount=amount, currency=currency)

    def currency_code(self, raw: str | None, pointer: str) -> str:
        """A valid ISO 4217 code; a placeholder becomes ``XXX`` (no currency) with a note."""
        code = (raw or "").strip()
        if len(code) == 3 and code.isascii() and code.isalpha() and code.isupper():
            if self.currency is None:
                self.currency = code
            return code
        note = f"currency {code!r} at {pointer} is not an ISO 4217 code; XXX (no currency) used"
        if not any(n.startswith(f"currency {code!r}") for n in self.notes):
            self.notes.append(note)
        if self.currency is None:
            self.currency = "XXX"
        return "XXX"


def money_fields(money: Money) -> tuple[str, str]:
    """(amount text, currency) for writing a canonical Money."""
    return decimal_text(money.amount), money.currency


def decimal_text(value: Decimal) -> str:
    """A decimal without exponent, its scale kept (``1.50``)."""
    return format(value, "f")


def quantity_fields(
    element: ET.Element, pointer: str, uom_element: ET.Element | None, uom_pointer: str
) -> QuantityFields:
    """``@quantity`` with a sibling ``UnitOfMeasure`` as a canonical Quantity."""
    raw = element.get("quantity")
    if raw is None:
        raise DocumentError("the quantity is missing", pointer=pointer + "/@quantity")
    value = parse_decimal(raw, pointer + "/@quantity", "quantity")
    if value < 0:
        raise DocumentError(f"quantity {raw.strip()} is negative", pointer=pointer + "/@quantity")
    return QuantityFields(value=value, uom=uom_code(uom_element, uom_pointer))


def uom_code(element: ET.Element | None, pointer: str) -> str:
    """A ``UnitOfMeasure`` code (UN/ECE Rec 20: EA, BX, C62...), upper-cased."""
    raw = text_of(element)
    if raw is None:
        raise DocumentError("the unit of measure is missing", pointer=pointer)
    code = raw.upper()
    if not (1 <= len(code) <= 3 and code.isascii() and code.isalnum()):
        raise DocumentError(f"unit of measure {raw!r} is not a UN/ECE Rec 20 code", pointer=pointer)
    return code


def date_attr(element: ET.Element, name: str, pointer: str) -> dt.date | None:
    """The date part of a date-time attribute, as written; None when absent or empty."""
    raw = element.get(name)
    if raw is None or not raw.strip():
        return None
    return parse_date(raw, f"{pointer}/@{name}", name)


def comments(element: ET.Element) -> list[str]:
    """The text of each ``Comments`` child (attachments left out), one note per element."""
    notes = []
    for comment in element.iterfind("Comments"):
        parts = [comment.text or ""]
        parts.extend(child.tail or "" for child in comment)
        text = "".join(parts).strip()
        if text:
            notes.append(text)
    return notes


def order_reference(element: ET.Element | None, pointer: str, reading: Reading) -> str:
    """The PO number of an ``OrderReference``: ``@orderID``, else the referenced payloadID."""
    if element is None:
        raise DocumentError("the OrderReference is missing", pointer=pointer)
    order_id = (element.get("orderID") or "").strip()
    if order_id:
        return order_id
    reference = element.find("DocumentReference")
    payload_id = (reference.get("payloadID") or "").strip() if reference is not None else ""
    if not payload_id:
        raise DocumentError("the OrderReference has no orderID", pointer=f"{pointer}/@orderID")
    reading.notes.append(
        f"{pointer} has no orderID; the order's payloadID {payload_id!r} is used as PO number"
    )
    return payload_id


# --- parties --------------------------------------------------------------------------------


def _postal_address(element: ET.Element | None) -> dict[str, object] | None:
    if element is None:
        return None
    lines = [t for t in (text_of(e) for e in element.iterfind("DeliverTo")) if t]
    lines.extend(t for t in (text_of(e) for e in element.iterfind("Street")) if t)
    address: dict[str, object] = {}
    if lines:
        address["lines"] = lines
    for key, tag in (("city", "City"), ("region", "State"), ("postal_code", "PostalCode")):
        value = text_of(element.find(tag))
        if value:
            address[key] = value
    country = element.find("Country")
    if country is not None:
        code = (country.get("isoCountryCode") or "").strip().upper()
        if len(code) == 2 and code.isascii() and code.isalpha():
            address["country"] = code
    return address or None


def _ids(party: dict[str, object], holder: ET.Element) -> None:
    for ref in holder.iterfind("IdReference"):
        domain = (ref.get("domain") or "").strip().lower()
        identifier = (ref.get("identifier") or "").strip()
        if not identifier:
            continue
        # An id that does not look like a GLN or DUNS is not one, whatever the domain says.
        if domain in _GLN_DOMAINS and "gln" not in party and _digits(identifier, 13):
            party["gln"] = identifier
        elif domain in _DUNS_DOMAINS and "duns" not in party and _digits(identifier, 9, 13):
            party["duns"] = identifier


def _digits(value: str, *lengths: int) -> bool:
    return len(value) in lengths and value.isascii() and value.isdigit()


def party_from_contact(
    contact: ET.Element, holder: ET.Element | None = None
) -> dict[str, object] | None:
    """A ``Contact`` (``@addressID``, ``Name``, ``PostalAddress``, ``IdReference``) as a Party.

    ``holder`` is the element around the contact that may carry further ``IdReference``s
    (``InvoicePartner`` does).
    """
    party: dict[str, object] = {}
    address_id = (contact.get("addressID") or "").strip()
    if address_id:
        party["id"] = address_id
    name = text_of(contact.find("Name"))
    if name:
        party["name"] = name
    _ids(party, contact)
    if holder is not None:
        _ids(party, holder)
    address = _postal_address(contact.find("PostalAddress"))
    if address:
        party["address"] = address
    return party or None


def party_from_ship_bill(element: ET.Element) -> dict[str, object] | None:
    """A ``ShipTo``/``BillTo`` (``Address`` + ``IdReference``s) as a Party."""
    address = element.find("Address")
    if address is None:
        return None
    party = party_from_contact(address, element) or {}
    return party or None


def contact_party(parent: ET.Element, *roles: str) -> dict[str, object] | None:
    """The first ``Contact`` child with one of ``roles`` as a Party."""
    for contact in parent.iterfind("Contact"):
        if contact.get("role") in roles:
            return party_from_contact(contact)
    return None


def item_fields(
    item_id: ET.Element | None, description: str | None, pointer: str
) -> dict[str, object]:
    """An ``ItemID`` (supplier/buyer part, ``IdReference`` GTIN/SKU) and description as ItemRef.

    Raises DocumentError when the item has no identification at all.
    """
    item = known_item(item_id, description)
    if item is None:
        raise DocumentError("the item has no SupplierPartID, BuyerPartID or GTIN", pointer=pointer)
    return item


def known_item(item_id: ET.Element | None, description: str | None) -> dict[str, object] | None:
    """Like :func:`item_fields`, but None when the item has no identification."""
    item: dict[str, object] = {}
    if item_id is not None:
        supplier_part = text_of(item_id.find("SupplierPartID"))
        if supplier_part:
            item["supplier_part"] = supplier_part
        buyer_part = text_of(item_id.find("BuyerPartID"))
        if buyer_part:
            item["buyer_part"] = buyer_part
        for ref in item_id.iterfind("IdReference"):
            domain = (ref.get("domain") or "").strip().lower()
            identifier = (ref.get("identifier") or "").strip()
            if not identifier:
                continue
            if (
                domain in _GTIN_DOMAINS
                and "gtin" not in item
                and _digits(identifier, 8, 12, 13, 14)
            ):
                item["gtin"] = identifier
            elif domain == "sku" and "sku" not in item:
                item["sku"] = identifier
    if not ("supplier_part" in item or "buyer_part" in item or "gtin" in item or "sku" in item):
        return None
    if description:
        item["description"] = description
    return item


# --- writing --------------------------------------------------------------------------------


def sub(
    parent: ET.Element, tag: str, text: str | None = None, attrs: dict[str, str] | None = None
) -> ET.Element:
    """Append a child element with optional text and attributes."""
    element = ET.SubElement(parent, tag, attrs or {})
    if text is not None:
        element.text = text
    return element


def credential_domain(qualifier: str) -> str:
    """An X12-style id qualifier as a cXML credential domain (ZZ → NetworkID, 01 → DUNS)."""
    return _QUALIFIER_DOMAINS.get(qualifier, qualifier)


def write_cxml(
    request: ET.Element,
    envelope: Envelope,
    dtd: str,
    *,
    shared_secret: str | None = None,
    user_agent: str = "Wharf",
) -> bytes:
    """Wrap a request element in ``cXML`` with a Header built from the envelope."""
    version = envelope.version or DEFAULT_VERSION
    created = envelope.created
    root = ET.Element(
        "cXML",
        {
            "payloadID": f"{envelope.control_number}.{created:%Y%m%dT%H%M%S}@wharf",
            "timestamp": created.isoformat(timespec="seconds"),
            "xml:lang": "en-US",
        },
    )
    header = sub(root, "Header")
    for tag, identity, qualifier in (
        ("From", envelope.sender_id, envelope.sender_qualifier),
        ("To", envelope.receiver_id, envelope.receiver_qualifier),
    ):
        credential = sub(
            sub(header, tag), "Credential", attrs={"domain": credential_domain(qualifier)}
        )
        sub(credential, "Identity", identity)
    sender = sub(header, "Sender")
    credential = sub(
        sender, "Credential", attrs={"domain": credential_domain(envelope.sender_qualifier)}
    )
    sub(credential, "Identity", envelope.sender_id)
    if shared_secret:
        sub(credential, "SharedSecret", shared_secret)
    sub(sender, "UserAgent", user_agent)
    wrapper = sub(
        root, "Request", attrs={"deploymentMode": "test" if envelope.test else "production"}
    )
    wrapper.append(request)
    doctype = f'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/{version}/{dtd}">'
    text = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{doctype}\n{text}\n'.encode()


def write_postal_address(parent: ET.Element, address: Address) -> None:
    postal = sub(parent, "PostalAddress")
    for line in address.lines:
        sub(postal, "Street", line)
    sub(postal, "City", address.city or "")
    if address.region:
        sub(postal, "State", address.region)
    if address.postal_code:
        sub(postal, "PostalCode", address.postal_code)
    country = address.country or ""
    sub(postal, "Country", country, {"isoCountryCode": country})


def _write_ids(parent: ET.Element, party: Party) -> None:
    if party.gln:
        sub(parent, "IdReference", attrs={"identifier": party.gln, "domain": "GLN"})
    if party.duns:
        sub(parent, "IdReference", attrs={"identifier": party.duns, "domain": "DUNS"})


def write_party_contact(parent: ET.Element, party: Party, role: str) -> ET.Element:
    """A Party as ``Contact role=…`` (Name, PostalAddress, IdReference)."""
    attrs = {"role": role}
    if party.id:
        attrs["addressID"] = party.id
    contact = sub(parent, "Contact", attrs=attrs)
    sub(contact, "Name", party.name or "", {"xml:lang": "en"})
    if party.address is not None:
        write_postal_address(contact, party.address)
    _write_ids(contact, party)
    return contact


def write_ship_bill(parent: ET.Element, tag: str, party: Party) -> None:
    """A Party as ``ShipTo``/``BillTo``: ``Address`` plus ``IdReference``s."""
    holder = sub(parent, tag)
    attrs = {"addressID": party.id} if party.id else {}
    address = sub(holder, "Address", attrs=attrs)
    sub(address, "Name", party.name or "", {"xml:lang": "en"})
    if party.address is not None:
        write_postal_address(address, party.address)
    _write_ids(holder, party)


def write_item_id(parent: ET.Element, item: ItemRef) -> None:
    """An ItemRef as ``ItemID`` (SupplierPartID first, as the DTD wants it)."""
    item_id = sub(parent, "ItemID")
    sub(item_id, "SupplierPartID", item.supplier_part or "")
    if item.buyer_part:
        sub(item_id, "BuyerPartID", item.buyer_part)
    if item.gtin:
        sub(item_id, "IdReference", attrs={"identifier": item.gtin, "domain": "GTIN"})
    if item.sku:
        sub(item_id, "IdReference", attrs={"identifier": item.sku, "domain": "SKU"})


def write_comments(parent: ET.Element, notes: tuple[str, ...]) -> None:
    for note in notes:
        sub(parent, "Comments", note, {"xml:lang": "en"})


def datetime_text(value: dt.date | dt.datetime) -> str:
    """A date (as midnight UTC) or a date-time in cXML's ISO 8601 form."""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return f"{value.isoformat()}T00:00:00+00:00"
