"""Writing X12: transaction sets as segment lists, wrapped in GS/GE and a fixed-width ISA/IEA.

Wharf always writes the same, conservative dialect: element separator ``*``, component
separator ``>``, segment terminator ``~`` (no line breaks: some VANs count them as data),
repetition separator ``^`` from ISA 00402 on (``U`` before). The ISA is padded to its fixed width
(106 characters with the terminator) because many receivers still slice it by offset.

X12 has no escape character, so a delimiter inside a text value cannot be sent: ``* ~ > ^`` and
line breaks in free text are replaced by spaces. Trailing empty elements are dropped. Numbers are
written as plain decimals (``R``; no exponent) or with two implied decimals (``N2``: TDS, SAC05),
rounding half-up to the cent. Text outside ASCII is written as UTF-8 (what the reader
expects first). Envelope identifiers and versions are the caller's: a value that
cannot be written (an id longer than 15 characters, a delimiter in an id) raises ``ValueError``,
a programming error rather than partner input.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from wharf.codecs.base import Envelope
    from wharf.model import ItemRef, Party

__all__ = (
    "GroupOut", "SetWriter", "ck_date", "isa_version", "item_ids", "n2", "num", "render_interchange",
    "write_party",
)

ELEMENT = "*"
COMPONENT = ">"
TERMINATOR = "~"
DEFAULT_VERSION = "004010"

_UNSAFE = str.maketrans({"*": " ", "~": " ", ">": " ", "^": " ", "\r": " ", "\n": " "})


def num(value: Decimal) -> str:
    """An ``R`` number: plain notation, no exponent."""
    text = format(value, "f")
    return "0" if text in ("-0", "0E-0") else text


def n2(value: Decimal) -> str:
    """An ``N2`` number: cents as an integer (``3875.30`` → ``387530``)."""
    return str(int(value.scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def ck_date(value: dt.date) -> str:
    return value.strftime("%Y%m%d")


def isa_version(version: str) -> str:
    """ISA12 for a GS08 version (``004010VICS`` → ``00401``)."""
    if len(version) < 6 or not (version[:6].isascii() and version[:6].isdigit()):
        raise ValueError(f"x12: {version!r} is not an X12 version (like 004010 or 005010)")
    return version[:5]


class SetWriter:
    """One transaction set being written: ``add`` segments, then ``finish`` adds SE."""

    __slots__ = ("segments",)

    def __init__(self, set_id: str, control: str = "0001") -> None:
        self.segments: list[str] = [f"ST{ELEMENT}{set_id}{ELEMENT}{control}"]

    def add(self, seg_id: str, *values: str | None) -> None:
        """Append a segment; None is an empty element, trailing empties are dropped."""
        cleaned = [(value or "").translate(_UNSAFE).strip() for value in values]
        while cleaned and not cleaned[-1]:
            cleaned.pop()
        self.segments.append(ELEMENT.join((seg_id, *cleaned)))

    def finish(self) -> list[str]:
        control = self.segments[0].rsplit(ELEMENT, 1)[1]
        self.segments.append(f"SE{ELEMENT}{len(self.segments) + 1}{ELEMENT}{control}")
        return self.segments


_DELIMITERS = str.maketrans("", "", "*~>^\r\n")


def _envelope_id(value: str, what: str) -> str:
    if not value or len(value) > 15 or value.translate(_DELIMITERS) != value:
        raise ValueError(f"x12: {what} {value!r} must be 1-15 characters without delimiters")
    return value


@dataclass(frozen=True, slots=True)
class GroupOut:
    """One functional group to write: GS01, GS06, GS08 and its transaction sets."""

    functional_id: str
    control: str
    version: str
    sets: Sequence[list[str]]
    sender: str | None = None
    """GS02 when it differs from the ISA sender (a 997 answers the inbound GS03)."""
    receiver: str | None = None


def render_interchange(envelope: Envelope, groups: Sequence[GroupOut]) -> bytes:
    """ISA + one GS..GE per group + IEA, as bytes."""
    control = envelope.control_number
    if not 0 < control <= 999_999_999:
        raise ValueError(f"x12: control number {control} is not in 1..999999999")
    sender = _envelope_id(envelope.sender_id, "sender id")
    receiver = _envelope_id(envelope.receiver_id, "receiver id")
    isa12 = max((isa_version(group.version) for group in groups), default="00401")
    created = envelope.created
    day = f"{created.year:04d}{created.month:02d}{created.day:02d}"
    clock = f"{created.hour:02d}{created.minute:02d}"
    isa = ELEMENT.join((
        "ISA", "00", " " * 10, "00", " " * 10,
        _qualifier(envelope.sender_qualifier), sender.ljust(15),
        _qualifier(envelope.receiver_qualifier), receiver.ljust(15), day[2:], clock,
        "^" if isa12 >= "00402" else "U", isa12, f"{control:09d}", "0",
        "T" if envelope.test else "P", COMPONENT,
    ))
    out = [isa]
    for group in groups:
        out.append(ELEMENT.join((
            "GS", group.functional_id, group.sender or sender, group.receiver or receiver,
            day, clock, group.control, "X", group.version,
        )))
        for segments in group.sets:
            out.extend(segments)
        out.append(f"GE{ELEMENT}{len(group.sets)}{ELEMENT}{group.control}")
    out.append(f"IEA{ELEMENT}{len(groups)}{ELEMENT}{control:09d}")
    return (TERMINATOR.join(out) + TERMINATOR).encode("utf-8")


def _qualifier(value: str) -> str:
    if len(value) != 2 or value.translate(_DELIMITERS) != value:
        raise ValueError(f"x12: id qualifier {value!r} must be 2 characters")
    return value


def item_ids(item: ItemRef) -> list[str | None]:
    """Qualifier/value pairs for an item: BP buyer part, VP vendor part, UP/EN/UK GTIN, SK."""
    pairs: list[str | None] = []
    if item.buyer_part:
        pairs += ["BP", item.buyer_part]
    if item.supplier_part:
        pairs += ["VP", item.supplier_part]
    if item.gtin:
        pairs += [_GTIN_QUALIFIER[len(item.gtin)], item.gtin]
    if item.sku:
        pairs += ["SK", item.sku]
    return pairs


_GTIN_QUALIFIER = {8: "EN", 12: "UP", 13: "EN", 14: "UK"}


def write_party(writer: SetWriter, code: str, party: Party | None) -> None:
    """An N1 loop: N1 (GLN as UL, else D-U-N-S as 1/9, else the id as 92), N3 pairs, N4."""
    if party is None:
        return
    qualifier: str | None
    ident: str | None
    if party.gln:
        qualifier, ident = "UL", party.gln
    elif party.duns:
        qualifier, ident = ("1" if len(party.duns) == 9 else "9"), party.duns
    elif party.id:
        qualifier, ident = "92", party.id
    else:
        qualifier, ident = None, None
    writer.add("N1", code, party.name, qualifier, ident)
    address = party.address
    if address is None:
        return
    lines = list(address.lines)
    for index in range(0, len(lines), 2):
        writer.add("N3", *lines[index : index + 2])
    if address.city or address.region or address.postal_code or address.country:
        writer.add("N4", address.city, address.region, address.postal_code, address.country)
