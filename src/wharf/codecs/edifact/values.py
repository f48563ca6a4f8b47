"""Reading values out of segments: components, numbers, dates, codes, with pointed errors.

Why this module exists: every reader needs the same few conversions, and each must fail the same
way — a :class:`~wharf.errors.DocumentError` whose pointer is ``/segments/<n>/<element>`` (``n``
counted from UNH = 1, elements from 1 after the tag) and whose ``code`` is the 0085 syntax error
code the CONTRL will carry. The canonical model's constraints (GTIN digits, UOM pattern, currency
code...) are checked here too: msgspec only enforces them when decoding, not when a Struct is
built in Python, and checking them here lets the error point at the element that broke them.

Numbers take either decimal mark (syntax 4 allows both; the UNA one is only advice), an optional
leading minus, and no exponent, thousands separator or blank. Dates follow DTM's format qualifier
(2379): 102 CCYYMMDD, 203 CCYYMMDDHHMM, 204 CCYYMMDDHHMMSS, 101 YYMMDD, 201 YYMMDDHHMM, 718/719
ranges (the start is used); without a qualifier the length decides. A 102 date carrying a time
(``199910060000:102``, seen in the wild) is read as 203.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from wharf.codecs.edifact.syntax import PARK, unescape
from wharf.errors import DocumentError

if TYPE_CHECKING:
    from wharf.codecs.edifact.syntax import ServiceChars

__all__ = (
    "Fields",
    "check_code",
    "check_digits",
    "fault",
    "parse_date",
    "parse_number",
    "read_uom",
)

# Common non-standard units seen from suppliers, mapped to UN/ECE Rec 20 codes.
UOM_ALIASES: dict[str, str] = {
    "GBND": "PK",  # Gebinde (German: container, package)
    "PACK": "PK",
    "SCHA": "BX",  # Schachtel (German: box)
    "KART": "CT",  # Karton
    "PIECE": "PCE",
    "PIECES": "PCE",
    "STCK": "PCE",
    "EACH": "EA",
}


def fault(
    detail: str, *, position: int, tag: str, element: int | None = None, code: str = "12"
) -> DocumentError:
    """A pointed error at segment ``position`` (UNH = 1), element ``element`` (from 1)."""
    pointer = f"/segments/{position}" if element is None else f"/segments/{position}/{element}"
    return DocumentError(
        f"{tag} (segment {position}): {detail}",
        pointer=pointer,
        segment=position,
        segment_id=tag,
        element=element,
        code=code,
    )


class Fields:
    """Unescaped access to elements and components of raw segments."""

    __slots__ = ("_component", "_escaped", "_service")

    def __init__(self, service: ServiceChars, escaped: bool) -> None:
        self._service = service
        self._component = service.component
        self._escaped = escaped

    def code(self, seg: list[str], i: int) -> str:
        """The first component of element ``i`` as sent: for qualifiers and codes."""
        if i >= len(seg):
            return ""
        value = seg[i]
        cut = value.find(self._component)
        return value if cut < 0 else value[:cut]

    def text(self, seg: list[str], i: int, j: int = 0) -> str:
        """Component ``j`` of element ``i`` (the tag is element 0), unescaped, or ``""``."""
        if i >= len(seg):
            return ""
        value = seg[i]
        if self._component in value:
            parts = value.split(self._component)
            value = parts[j] if j < len(parts) else ""
        elif j:
            return ""
        if self._escaped and PARK in value:
            return unescape(value, self._service)
        return value

    def parts(self, seg: list[str], i: int) -> list[str]:
        """All components of element ``i`` (``[]`` when absent), unescaped."""
        if i >= len(seg):
            return []
        parts = seg[i].split(self._component)
        if self._escaped and PARK in seg[i]:
            return [unescape(p, self._service) for p in parts]
        return parts


def joined(parts: list[str], start: int, stop: int) -> str:
    """Non-empty components ``start..stop-1`` joined by a space (names, free text)."""
    return " ".join(p for p in parts[start:stop] if p)


def parse_number(value: str, *, position: int, tag: str, element: int) -> Decimal:
    """A numeric data element: digits, one decimal mark (``.`` or ``,``), optional minus."""
    if not value:
        raise fault("a number is missing", position=position, tag=tag, element=element, code="13")
    text = value[1:] if value[0] == "-" else value
    marks = text.count(".") + text.count(",")
    digits = text.replace(".", "").replace(",", "")
    if marks > 1:
        raise fault(
            f"{value!r} has more than one decimal mark",
            position=position,
            tag=tag,
            element=element,
            code="19",
        )
    if not digits or not (digits.isascii() and digits.isdigit()):
        raise fault(
            f"{value!r} is not a number", position=position, tag=tag, element=element, code="37"
        )
    return Decimal(value.replace(",", ".") if marks else value)


def _pivot_year(yy: int) -> int:
    # POSIX convention for two-digit years: 69-99 → 19xx, 00-68 → 20xx.
    return 1900 + yy if yy >= 69 else 2000 + yy


def parse_date(
    value: str, fmt: str, *, position: int, tag: str, element: int = 1
) -> tuple[dt.date, dt.time | None]:
    """A DTM value in format ``fmt`` (2379): the date, and the time when it has one."""
    if not value:
        raise fault("the date is missing", position=position, tag=tag, element=element, code="13")
    text = value
    if fmt in ("718", "719") or (not fmt and "-" in value):
        text = value.split("-", 1)[0]
    if not (text.isascii() and text.isdigit()):
        raise fault(
            f"{value!r} is not a date in format {fmt or '(none)'}",
            position=position,
            tag=tag,
            element=element,
        )
    size = len(text)
    try:
        # The length decides (six or ten digits: two-digit year), so that a 102 date that
        # carries a time, or a 101 date sent with the century, still reads right.
        if size in (6, 10):
            year, rest = _pivot_year(int(text[:2])), text[2:]
        elif size in (8, 12, 14):
            year, rest = int(text[:4]), text[4:]
        else:
            raise ValueError(f"{size} digits fit no date format")
        day = dt.date(year, int(rest[:2]), int(rest[2:4]))
        clock = rest[4:]
        if not clock:
            return day, None
        second = int(clock[4:6]) if len(clock) == 6 else 0
        return day, dt.time(int(clock[:2]), int(clock[2:4]), second)
    except ValueError as exc:
        raise fault(
            f"{value!r} is not a valid date/time in format {fmt or '(none)'}: {exc}",
            position=position,
            tag=tag,
            element=element,
        ) from None


def read_uom(value: str, *, position: int, tag: str, element: int) -> tuple[str, str | None]:
    """A unit of measure as a canonical code, and the code as sent when it had to be mapped."""
    code = value.upper() if value.isascii() else value
    alias = UOM_ALIASES.get(code)
    if alias is not None:
        return alias, value
    if 1 <= len(code) <= 3 and code.isascii() and code.isalnum():
        return code, (value if code != value else None)
    raise fault(
        f"unit of measure {value!r} is not a UN/ECE Rec 20 or X12 code",
        position=position,
        tag=tag,
        element=element,
    )


def check_digits(
    value: str, lengths: tuple[int, ...], what: str, *, position: int, tag: str, element: int
) -> str:
    """``value`` if it is all digits of one of ``lengths``; a pointed error otherwise."""
    if len(value) in lengths and value.isascii() and value.isdigit():
        return value
    raise fault(f"{value!r} is not a valid {what}", position=position, tag=tag, element=element)


def check_code(value: str, size: int, what: str, *, position: int, tag: str, element: int) -> str:
    """An upper-case letter code of exactly ``size`` letters (currency, country); any case in."""
    if len(value) == size and value.isascii() and value.isalpha():
        return value.upper()
    raise fault(f"{value!r} is not a valid {what}", position=position, tag=tag, element=element)
