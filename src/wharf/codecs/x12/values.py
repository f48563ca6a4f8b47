"""Element values → canonical values, and errors that point at the element that is wrong.

Every transaction-set reader goes through these helpers, so the rules live in one place:

* Numbers: X12 ``R`` (explicit decimal point, optional leading ``-``) becomes ``Decimal``, never
  float; ``N2`` (TDS01, SAC05) has two implied decimals (``387530`` is ``3875.30``); a value with
  a decimal point in an N2 element is read as written. ``1e5``, ``NaN``, ``+1`` are not numbers.
* Dates: ``CCYYMMDD``, or ``YYMMDD`` (3060 and older; years < 50 are 20xx). Times ``HHMM``,
  ``HHMMSS``, ``HHMMSSD``, ``HHMMSSDD``.
* Codes are checked against the canonical patterns before a Struct is built (msgspec validates
  constraints on decode only, not on ``__init__``), so a bad unit of measure or currency is a
  pointed error, not an invalid document slipping through.
* Errors: :func:`bad` builds a ``DocumentError`` with ``pointer=/segments/<n>/<element>``, the
  segment number within the transaction set (ST = 1), its id, the element position and the
  AK403 code (1 missing, 4 too short, 5 too long, 6 invalid character, 7 invalid code value,
  8 invalid date); :func:`missing` one for a missing segment (AK304 code 3).
* Optional values that cannot be read (``DTM*011*200``, an unknown country) are not fatal: the
  reader drops them and records why in :attr:`ReadContext.warnings`, which end up in the
  document's ``notes`` prefixed with ``x12:``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from wharf.errors import DocumentError
from wharf.model import Address, ItemRef, Party, Quantity

if TYPE_CHECKING:
    from collections.abc import Mapping

    from wharf.codecs.x12.overrides import ItemOverrides
    from wharf.model import SourceRef

__all__ = (
    "PartyLoop",
    "ReadContext",
    "bad",
    "currency_of",
    "date_of",
    "decimal_of",
    "el",
    "implied_of",
    "is_currency",
    "is_gtin",
    "is_uom",
    "item_ref",
    "missing",
    "need",
    "need_decimal",
    "need_uom",
    "quantity",
    "text_of",
    "time_of",
)

_DIGITS = frozenset("0123456789")
_UOM_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def el(segment: list[str], index: int) -> str:
    """Element ``index`` of a segment, stripped; ``""`` when absent."""
    return segment[index].strip() if len(segment) > index else ""


def text_of(value: str) -> str:
    """Free text with raw line breaks (AAFES MTX) turned into spaces."""
    if "\n" in value or "\r" in value:
        value = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")
    return value.strip()


def bad(pos: int, segment: list[str], element: int | None, code: str, detail: str) -> DocumentError:
    """A pointed error at segment ``pos`` (ST = 1), element ``element``, AK403 ``code``."""
    seg_id = segment[0][:3] if segment else "?"
    ref = f"{seg_id}{element:02d}" if element is not None else seg_id
    pointer = f"/segments/{pos}" + (f"/{element}" if element is not None else "")
    return DocumentError(
        f"{ref} (segment {pos}): {detail}", pointer=pointer, segment=pos, segment_id=seg_id,
        element=element, code=code,
    )


def missing(pos: int, seg_id: str, detail: str) -> DocumentError:
    """A pointed error for a mandatory segment that is not there (AK304 code 3)."""
    return DocumentError(
        f"{seg_id} missing (expected by segment {pos}): {detail}", pointer=f"/segments/{pos}",
        segment=pos, segment_id=seg_id, code="3",
    )


def need(pos: int, segment: list[str], index: int, name: str) -> str:
    """A mandatory element's value, or a pointed 'missing' error (AK403 code 1)."""
    value = el(segment, index)
    if not value:
        raise bad(pos, segment, index, "1", f"{name} is missing")
    return value


def decimal_of(value: str) -> Decimal | None:
    """An X12 ``R`` number, or None when ``value`` is not one."""
    digits = value[1:] if value[:1] == "-" else value
    if not digits or not digits.isascii() or not digits.replace(".", "", 1).isdigit():
        return None
    return Decimal(value)


def implied_of(value: str, places: int = 2) -> Decimal | None:
    """An X12 ``N2`` number (implied decimals); a value with a point is read as written."""
    if "." in value:
        return decimal_of(value)
    number = decimal_of(value)
    return None if number is None else number.scaleb(-places)


def need_decimal(pos: int, segment: list[str], index: int, name: str) -> Decimal:
    value = need(pos, segment, index, name)
    number = decimal_of(value)
    if number is None:
        raise bad(pos, segment, index, "6", f"{name} {value!r} is not a number")
    return number


def date_of(value: str) -> dt.date | None:
    """``CCYYMMDD`` or ``YYMMDD``; None when not a real date."""
    if not (value.isascii() and value.isdigit()):
        return None
    if len(value) == 6:
        year = int(value[:2])
        value = ("20" if year < 50 else "19") + value
    if len(value) != 8:
        return None
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def time_of(value: str) -> dt.time | None:
    """``HHMM[SS[D[D]]]``; None when not a real time."""
    if not (value.isascii() and value.isdigit()) or len(value) not in (4, 6, 7, 8):
        return None
    fraction = value[6:]
    try:
        return dt.time(
            int(value[:2]), int(value[2:4]), int(value[4:6] or 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
        )
    except ValueError:
        return None


def is_uom(value: str) -> bool:
    return 0 < len(value) <= 3 and _UOM_CHARS.issuperset(value)


def is_currency(value: str) -> bool:
    return len(value) == 3 and value.isascii() and value.isalpha() and value.isupper()


def currency_of(pos: int, segment: list[str]) -> str:
    """CUR02, checked to be an ISO 4217 code (AK403 code 7 otherwise)."""
    code = el(segment, 2)
    if not is_currency(code):
        raise bad(pos, segment, 2, "7", f"{code!r} is not an ISO 4217 currency code")
    return code


def is_gtin(value: str) -> bool:
    return len(value) in (8, 12, 13, 14) and _DIGITS.issuperset(value)


def need_uom(pos: int, segment: list[str], index: int) -> str:
    value = need(pos, segment, index, "the unit of measure")
    if not is_uom(value):
        raise bad(pos, segment, index, "7", f"{value!r} is not a unit of measure code")
    return value


def quantity(pos: int, segment: list[str], q_index: int, u_index: int, name: str) -> Quantity:
    """A mandatory quantity + unit of measure pair, validated."""
    size = len(segment)
    text = segment[q_index].strip() if size > q_index else ""
    uom = segment[u_index].strip() if size > u_index else ""
    # Fast path: plain digits and a well-formed unit, the overwhelmingly common case.
    if text.isascii() and text.replace(".", "", 1).isdigit() and 0 < len(uom) <= 3 and (
        _UOM_CHARS.issuperset(uom)
    ):
        return Quantity(value=Decimal(text), uom=uom)
    value = need_decimal(pos, segment, q_index, name)
    if value < 0:
        raise bad(pos, segment, q_index, "6", f"{name} {value} is negative")
    return Quantity(value=value, uom=need_uom(pos, segment, u_index))


@dataclass(slots=True)
class ReadContext:
    """What a transaction-set reader needs besides its segments."""

    source: SourceRef
    overrides: ItemOverrides
    sender: str = ""
    """The interchange sender (ISA06, else GS02); empty for a bare body."""
    receiver: str = ""
    group_date: dt.date | None = None
    warnings: list[str] = field(default_factory=list)

    def warn(self, pos: int, segment: list[str], element: int | None, detail: str) -> None:
        seg_id = segment[0][:3] if segment else "?"
        ref = f"{seg_id}{element:02d}" if element is not None else seg_id
        self.warnings.append(f"x12: {ref} (segment {pos}) ignored: {detail}")

    def party_or_envelope(self, party: Party | None, envelope_id: str) -> Party | None:
        if party is not None:
            return party
        return Party(id=envelope_id) if envelope_id else None


# --- parties (N1 loops) ----------------------------------------------------------------------

# ISO 3166 alpha-3 codes seen in N404 instead of alpha-2.
_ALPHA3: Mapping[str, str] = {"USA": "US", "CAN": "CA", "MEX": "MX", "GBR": "GB", "DEU": "DE",
                              "FRA": "FR", "CHN": "CN", "JPN": "JP", "NLD": "NL"}


@dataclass(slots=True)
class _Pending:
    pos: int
    segment: list[str]
    lines: list[str] = field(default_factory=list)
    n4: list[str] | None = None
    n4_pos: int = 0


class PartyLoop:
    """Collects N1/N3/N4 loops; the first loop per entity code (N101) wins."""

    __slots__ = ("_current", "_found")

    def __init__(self) -> None:
        self._found: dict[str, _Pending] = {}
        self._current: _Pending | None = None

    def feed(self, pos: int, segment: list[str]) -> None:
        """Take an N1, N3 or N4 segment (N2, REF, PER in the loop are not kept)."""
        seg_id = segment[0]
        if seg_id == "N1":
            self._current = _Pending(pos, segment)
            self._found.setdefault(el(segment, 1), self._current)
        elif self._current is not None:
            if seg_id == "N3":
                self._current.lines.extend(v for v in (el(segment, 1), el(segment, 2)) if v)
            elif seg_id == "N4":
                self._current.n4, self._current.n4_pos = segment, pos

    def end(self) -> None:
        """The N1 loop is over: later N3/N4 segments belong to no party."""
        self._current = None

    def other(self, ctx: ReadContext, exclude: frozenset[str]) -> tuple[str, Party] | None:
        """The first party whose entity code is not in ``exclude`` (a last-resort supplier)."""
        for code, pending in self._found.items():
            if code not in exclude:
                party = _build_party(ctx, pending)
                if party is not None:
                    return code, party
        return None

    def party(self, ctx: ReadContext, *codes: str) -> Party | None:
        """The party of the first entity code in ``codes`` that is present."""
        for code in codes:
            pending = self._found.get(code)
            if pending is not None:
                party = _build_party(ctx, pending)
                if party is not None:
                    return party
        return None


def _build_party(ctx: ReadContext, pending: _Pending) -> Party | None:
    segment = pending.segment
    name = text_of(el(segment, 2)) or None
    qualifier, ident = el(segment, 3), el(segment, 4)
    gln = duns = party_id = None
    if qualifier == "UL" and len(ident) == 13 and _DIGITS.issuperset(ident):
        gln = ident
    elif qualifier in ("1", "9") and len(ident) in (9, 13) and _DIGITS.issuperset(ident):
        duns = ident
    elif ident:
        party_id = ident
    address = None
    n4 = pending.n4
    if pending.lines or n4 is not None:
        city = region = postal = country = None
        if n4 is not None:
            city = text_of(el(n4, 1)) or None
            region = el(n4, 2) or None
            postal = el(n4, 3) or None
            code = el(n4, 4)
            if len(code) == 2 and code.isascii() and code.isalpha() and code.isupper():
                country = code
            elif code in _ALPHA3:
                country = _ALPHA3[code]
            elif code:
                ctx.warn(pending.n4_pos, n4, 4, f"{code!r} is not an ISO 3166 country code")
        if pending.lines or city or region or postal or country:
            address = Address(lines=tuple(text_of(line) for line in pending.lines), city=city,
                              region=region, postal_code=postal, country=country)
    if not (party_id or name or gln or duns or address):
        return None
    return Party(id=party_id, name=name, gln=gln, duns=duns, address=address)


# --- items -----------------------------------------------------------------------------------

# Product/service id qualifier (235) -> (ItemRef slot, rank); the lowest rank wins a slot.
_SKU, _GTIN, _SUPPLIER, _BUYER, _DESCRIPTION = range(5)
_SLOTS: Mapping[str, int] = {"sku": _SKU, "gtin": _GTIN, "supplier_part": _SUPPLIER,
                             "buyer_part": _BUYER}
_QUALIFIERS: Mapping[str, tuple[int, int]] = {
    "VP": (_SUPPLIER, 0), "VN": (_SUPPLIER, 1), "VC": (_SUPPLIER, 2), "VA": (_SUPPLIER, 3),
    "MG": (_SUPPLIER, 4), "IB": (_SUPPLIER, 5),
    "BP": (_BUYER, 0), "IN": (_BUYER, 1), "CB": (_BUYER, 2),
    "UP": (_GTIN, 0), "EN": (_GTIN, 1), "UK": (_GTIN, 2), "UA": (_GTIN, 3),
    "SK": (_SKU, 0),
    "PD": (_DESCRIPTION, 0),
}
_Found = list[tuple[int, str] | None]


def _pairs(
    ctx: ReadContext,
    pos: int,
    segment: list[str],
    first: int,
    found: _Found,
    taken: set[int] | None,
    *,
    quiet: bool = False,
) -> tuple[tuple[int, str] | None, int]:
    """Read qualifier/value pairs into ``found``: (first unknown-qualifier value, known hits)."""
    unknown: tuple[int, str] | None = None
    hits = 0
    get = _QUALIFIERS.get
    for index in range(first, len(segment) - 1, 2):
        value = segment[index + 1].strip()
        if not value or (taken and index + 1 in taken):
            continue
        qualifier = segment[index].strip()
        known = get(qualifier)
        if known is None:
            if unknown is None:
                unknown = (index + 1, value)
            continue
        slot, rank = known
        if slot == _GTIN and not is_gtin(value):
            if not quiet:
                ctx.warn(pos, segment, index + 1, f"{value!r} is not a GTIN")
            continue
        if qualifier == "IB" and is_gtin(value):
            slot, rank = _GTIN, 4  # an ISBN-13 is an EAN
        hits += 1
        held = found[slot]
        if held is None or rank < held[0]:
            found[slot] = (rank, value)
    return unknown, hits


def item_ref(
    ctx: ReadContext,
    pos: int,
    segment: list[str],
    first: int,
    description: str | None = None,
    code: str | None = None,
) -> ItemRef | None:
    """The item named by qualifier/value pairs from element ``first`` on (plus overrides).

    Without any known qualifier the item is still named, as the supplier's part, by the first
    pair's value (``ST`` style, ``TP``, ``N4`` … or an IT1 ``PO``) or else by ``code`` (the PID04
    description code of a service line); either is noted. None when nothing names it.
    """
    found: _Found = [None, None, None, None, None]
    taken: set[int] | None = None
    overrides = ctx.overrides.for_segment(segment[0])
    if overrides:
        taken = set()
        for target, index in overrides:
            value = el(segment, index)
            if value:
                found[_SLOTS[target]] = (-1, value)
                taken.add(index)
    unknown, hits = _pairs(ctx, pos, segment, first, found, taken)
    if not hits and unknown is not None:
        # No known qualifier where the pairs belong: an extra separator shifts them by one in
        # some guides' samples (D&H 855: PO1*1*140*******UP*...). Try one element further.
        shifted = list(found)
        if _pairs(ctx, pos, segment, first + 1, shifted, taken, quiet=True)[1]:
            ctx.warn(pos, segment, first, "product ids are shifted by one element; read shifted")
            found, unknown = shifted, None
    sku, gtin, supplier_part, buyer_part, named = found
    if gtin is not None and not is_gtin(gtin[1]):
        raise bad(pos, segment, None, "7", f"{gtin[1]!r} is not a GTIN (8, 12, 13 or 14 digits)")
    if sku is None and gtin is None and supplier_part is None and buyer_part is None:
        if unknown is not None:
            ctx.warn(pos, segment, unknown[0] - 1, f"qualifier {el(segment, unknown[0] - 1)!r} "
                     f"is not a product id qualifier; its value is read as the supplier's part")
            supplier_part = unknown
        elif code:
            ctx.warnings.append(f"x12: {segment[0][:3]} (segment {pos}) names no item; the PID "
                                f"description code {code!r} is read as the supplier's part")
            supplier_part = (0, code)
        else:
            return None
    if description is None and named is not None:
        description = text_of(named[1])
    return ItemRef(
        sku=sku[1] if sku else None,
        gtin=gtin[1] if gtin else None,
        supplier_part=supplier_part[1] if supplier_part else None,
        buyer_part=buyer_part[1] if buyer_part else None,
        description=description,
    )
