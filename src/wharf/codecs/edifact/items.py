"""LIN groups: the item a line names and its quantity, price and line number; writing an item.

Why this module exists: the four mapped messages describe items alike. LIN C212 and PIA carry
item numbers typed by 7143: EN/SRV/UP (GS1 GTIN), IN (buyer's item number → ``sku``), BP (buyer's
part), SA/VN/VP/MF (supplier's part); an untyped number is a GTIN when it has the digits of one,
else the supplier's part. IMD C273 gives the description. QTY and PRI are read by qualifier
priority; a PRI with a unit price basis (5284, "per 100") is divided down to a price per unit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wharf.codecs.edifact.groups import first_of
from wharf.codecs.edifact.values import check_digits, fault, joined, parse_number, read_uom
from wharf.codecs.edifact.writer import number, wrap
from wharf.model import ItemRef

if TYPE_CHECKING:
    from decimal import Decimal

    from wharf.codecs.edifact.groups import Line
    from wharf.codecs.edifact.values import Fields
    from wharf.codecs.edifact.writer import SegmentWriter
    from wharf.model import Quantity

__all__ = (
    "item_of",
    "line_number_of",
    "price_of",
    "quantity_of",
    "required_item",
    "substitute_of",
    "unique_line_number",
    "write_item",
    "write_price",
    "write_quantity",
    "write_substitute",
)

# LIN/PIA item number types (7143) and the ItemRef field each fills.
_GTIN_TYPES = frozenset(("EN", "SRV", "UP", "EAN", "GTIN"))
_ITEM_FIELDS: dict[str, str] = {
    "IN": "sku",
    "BP": "buyer_part",
    "SA": "supplier_part",
    "VN": "supplier_part",
    "VP": "supplier_part",
    "MF": "supplier_part",
}


# --- line items -----------------------------------------------------------------------------


def item_of(line: Line, f: Fields, *, pia: tuple[str, ...] = ("1", "5", "")) -> ItemRef | None:
    """The item a LIN group names: LIN C212, PIA ids (of qualifiers ``pia``), IMD text."""
    ids: dict[str, str] = {}
    c212 = f.parts(line.seg, 3)
    if c212:
        _add_id(ids, c212, line.position, "LIN", 3)
    description: list[str] = []
    for seg, position in line.segments:
        tag = seg[0]
        if tag == "PIA" and f.code(seg, 1) in pia:
            for element in range(2, min(len(seg), 7)):
                _add_id(ids, f.parts(seg, element), position, "PIA", element)
        elif tag == "IMD":
            text = joined(f.parts(seg, 3), 3, 5)
            if text:
                description.append(text)
    if not ids:
        return None
    return ItemRef(
        sku=ids.get("sku"),
        gtin=ids.get("gtin"),
        supplier_part=ids.get("supplier_part"),
        buyer_part=ids.get("buyer_part"),
        description=" ".join(description) or None,
    )


def substitute_of(line: Line, f: Fields) -> ItemRef | None:
    """PIA+3 ("substituted by") ids of a line."""
    ids: dict[str, str] = {}
    for seg, position in line.segments:
        if seg[0] == "PIA" and f.code(seg, 1) == "3":
            for element in range(2, min(len(seg), 7)):
                _add_id(ids, f.parts(seg, element), position, "PIA", element)
    if not ids:
        return None
    return ItemRef(
        sku=ids.get("sku"),
        gtin=ids.get("gtin"),
        supplier_part=ids.get("supplier_part"),
        buyer_part=ids.get("buyer_part"),
    )


def _add_id(ids: dict[str, str], c212: list[str], position: int, tag: str, el: int) -> None:
    """Record one C212 (7140 item number : 7143 type) under the ItemRef field it fills."""
    value = c212[0]
    if not value:
        return
    kind = c212[1].upper() if len(c212) > 1 else ""
    if kind in _GTIN_TYPES or (
        not kind and len(value) in (8, 12, 13, 14) and value.isascii() and value.isdigit()
    ):
        name = "gtin"
        value = check_digits(value, (8, 12, 13, 14), "GTIN", position=position, tag=tag, element=el)
    else:
        name = _ITEM_FIELDS.get(kind, "supplier_part" if not kind else "")
        if not name:
            return
    ids.setdefault(name, value)


def quantity_of(
    line: Line, qualifiers: tuple[str, ...], f: Fields, *, fallback: bool = True
) -> tuple[Decimal, str, str | None, int] | None:
    """QTY C186 (6063:6060:6411): value, canonical UOM, UOM as sent if mapped, position.

    The first of ``qualifiers`` wins; with ``fallback`` any QTY does when none matches.
    A missing unit means "piece" in EANCOM, written as ``EA``.
    """
    found = first_of(line.segments, "QTY", qualifiers, f)
    if found is None and fallback:
        found = next(((s, p) for s, p in line.segments if s[0] == "QTY"), None)
    if found is None:
        return None
    seg, position = found
    value = parse_number(f.text(seg, 1, 1), position=position, tag="QTY", element=1)
    if value < 0:
        raise fault(f"quantity {value} is negative", position=position, tag="QTY", element=1)
    unit = f.text(seg, 1, 2)
    if not unit:
        return value, "EA", None, position
    uom, original = read_uom(unit, position=position, tag="QTY", element=1)
    return value, uom, original, position


_PRICE_QUALIFIERS = ("AAA", "INV", "NTP", "AAB", "CAL", "AAE", "AAF")


def price_of(line: Line, f: Fields) -> tuple[Decimal, int] | None:
    """PRI C509 (5125:5118:5375:5387:5284:6411): the unit price, divided by its basis."""
    found = first_of(line.segments, "PRI", _PRICE_QUALIFIERS, f)
    if found is None:
        found = next(((s, p) for s, p in line.segments if s[0] == "PRI"), None)
    if found is None:
        return None
    seg, position = found
    price = parse_number(f.text(seg, 1, 1), position=position, tag="PRI", element=1)
    basis_text = f.text(seg, 1, 4)
    if basis_text:
        basis = parse_number(basis_text, position=position, tag="PRI", element=1)
        if basis <= 0:
            raise fault(
                f"unit price basis {basis_text!r} must be positive",
                position=position,
                tag="PRI",
                element=1,
            )
        if basis != 1:
            price = price / basis
    return price, position


def required_item(line: Line, f: Fields) -> ItemRef:
    """The line's item (see :func:`item_of`); a line naming none is refused (0085 code 13)."""
    item = item_of(line, f)
    if item is None:
        raise fault(
            "the line names no item (LIN C212 or PIA)",
            position=line.position,
            tag="LIN",
            element=3,
            code="13",
        )
    return item


def unique_line_number(line: Line, index: int, f: Fields, seen: set[str]) -> str:
    """:func:`line_number_of`, refused when an earlier line of the message used it."""
    line_number = line_number_of(line, index, f)
    if line_number in seen:
        raise fault(
            f"line number {line_number!r} appears twice",
            position=line.position,
            tag="LIN",
            element=1,
        )
    seen.add(line_number)
    return line_number


def line_number_of(line: Line, index: int, f: Fields) -> str:
    """LIN 1082, or the line's position among the LINs (from 1) when the sender left it out."""
    number = f.text(line.seg, 1)
    if not number:
        return str(index + 1)
    if len(number) > 20:
        raise fault(
            f"line number {number!r} is longer than 20 characters",
            position=line.position,
            tag="LIN",
            element=1,
            code="39",
        )
    return number


def write_item(
    w: SegmentWriter,
    number_: str,
    item: ItemRef,
    *,
    gtin_type: str,
    action: str | None = None,
    describe: bool = True,
) -> None:
    """LIN (GTIN in C212), PIA with the other ids (1 = additional, 5 = main), IMD."""
    ids = [
        (v, t)
        for v, t in ((item.sku, "IN"), (item.buyer_part, "BP"), (item.supplier_part, "SA"))
        if v
    ]
    w.add("LIN", number_, action, (item.gtin, gtin_type) if item.gtin else None)
    if ids:
        w.add("PIA", "1" if item.gtin else "5", *ids)
    if describe and item.description:
        w.add("IMD", "F", None, ("", "", "", *wrap(item.description, 256, 2)))


def write_substitute(w: SegmentWriter, item: ItemRef, *, gtin_type: str) -> None:
    """PIA+3 ("substituted by") with every id of the substitute."""
    ids = [
        (v, t)
        for v, t in (
            (item.gtin, gtin_type),
            (item.sku, "IN"),
            (item.buyer_part, "BP"),
            (item.supplier_part, "SA"),
        )
        if v
    ]
    w.add("PIA", "3", *ids)


def write_quantity(w: SegmentWriter, qualifier: str, quantity: Quantity) -> None:
    w.add("QTY", (qualifier, number(quantity.value), quantity.uom))


def write_price(w: SegmentWriter, price: Decimal) -> None:
    w.add("PRI", ("AAA", number(price)))
