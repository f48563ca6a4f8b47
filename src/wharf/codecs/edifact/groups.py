"""The shape every mapped message shares, and the segment groups the readers have in common.

Why this module exists: ORDERS, ORDRSP, DESADV and INVOIC all have a header (BGM, DTM, FTX, RFF,
NAD, CUX...), a detail section of LIN groups, and (except DESADV) a summary after ``UNS+S``.
:func:`scan` makes one pass over a message and cuts it into those parts; the readers then look
things up in short lists instead of each walking the segments with its own state machine. DESADV
packaging (CPS groups) is cut out here too: segments after a CPS and before its first LIN belong
to the CPS, and every LIN remembers the CPS it sits in.

Values are read lazily: a DTM or MOA the mapping never uses is never parsed, so an odd qualifier
in a segment Wharf ignores (``MOA+201:TEST``) cannot reject a message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wharf.codecs.edifact.values import check_code, fault, joined, parse_date, parse_number

if TYPE_CHECKING:
    import datetime as dt
    from decimal import Decimal

    from wharf.codecs.edifact.envelope import Message
    from wharf.codecs.edifact.values import Fields
    from wharf.model import SourceRef

__all__ = (
    "Context",
    "Cps",
    "Line",
    "Scan",
    "Seg",
    "amount_of",
    "currency_of",
    "date_of",
    "document_number",
    "first",
    "first_of",
    "moa_value",
    "notes_of",
    "refs_of",
    "scan",
)

Seg = tuple[list[str], int]
"""A raw segment and its position in the message (UNH = 1)."""


@dataclass(frozen=True, slots=True)
class Context:
    """What a message reader needs besides the message."""

    fields: Fields
    source: SourceRef
    message_ref: str
    sender: str
    """UNB interchange sender id (the fallback supplier for documents a supplier sends)."""
    recipient: str


@dataclass(slots=True)
class Line:
    """One LIN group: the LIN segment and everything up to the next LIN, CPS or UNS."""

    seg: list[str]
    position: int
    segments: list[Seg] = field(default_factory=list)
    cps: int | None = None
    """Index into :attr:`Scan.packs` of the CPS group the line sits in."""


@dataclass(slots=True)
class Cps:
    """One CPS packaging group: CPS and its segments up to the first LIN (PAC, PCI, GIN...)."""

    seg: list[str]
    position: int
    segments: list[Seg] = field(default_factory=list)


@dataclass(slots=True)
class Scan:
    """A message cut into header, CPS groups, LIN groups and summary."""

    header: list[Seg] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    packs: list[Cps] = field(default_factory=list)
    summary: list[Seg] = field(default_factory=list)
    bgm: Seg | None = None
    uns: int | None = None
    """Position of UNS (the start of the summary section), when there is one."""
    by_tag: dict[str, list[Seg]] = field(default_factory=dict)
    """The header's segments by tag, for lookups that do not depend on order."""

    def tagged(self, tag: str) -> list[Seg]:
        """The header segments with ``tag``, in order."""
        return self.by_tag.get(tag, [])


def scan(message: Message) -> Scan:
    """Cut a message into header, CPS groups, LIN groups and summary (UNH/UNT left out)."""
    out = Scan()
    target = out.header
    header, by_tag = out.header, out.by_tag
    cps: int | None = None
    segments = message.segments
    last = len(segments) - 1 if segments[-1][0] == "UNT" else len(segments)
    for position in range(2, last + 1):
        seg = segments[position - 1]
        tag = seg[0]
        if tag == "LIN":
            line = Line(seg, position, cps=cps)
            out.lines.append(line)
            target = line.segments
        elif tag == "CPS":
            group = Cps(seg, position)
            cps = len(out.packs)
            out.packs.append(group)
            target = group.segments
        elif tag == "UNS":
            out.uns = position
            target = out.summary
        elif tag == "BGM" and out.bgm is None:
            out.bgm = (seg, position)
        else:
            target.append((seg, position))
            if target is header:
                by_tag.setdefault(tag, []).append((seg, position))
    return out


def first(segments: list[Seg], tag: str, qualifier: str, f: Fields) -> Seg | None:
    """The first ``tag`` segment whose first component of element 1 is ``qualifier``."""
    for seg, position in segments:
        if seg[0] == tag and f.code(seg, 1) == qualifier:
            return seg, position
    return None


def first_of(segments: list[Seg], tag: str, qualifiers: tuple[str, ...], f: Fields) -> Seg | None:
    """The ``tag`` segment with the qualifier that comes first in ``qualifiers``."""
    found: dict[str, Seg] = {}
    for seg, position in segments:
        if seg[0] == tag:
            found.setdefault(f.code(seg, 1), (seg, position))
    for qualifier in qualifiers:
        if qualifier in found:
            return found[qualifier]
    return None


# --- header values --------------------------------------------------------------------------


def date_of(
    segments: list[Seg], qualifiers: tuple[str, ...], f: Fields
) -> tuple[dt.date, dt.time | None] | None:
    """The DTM with the first of ``qualifiers`` found, parsed (C507: 2005:2380:2379)."""
    found = first_of(segments, "DTM", qualifiers, f)
    if found is None:
        return None
    seg, position = found
    return parse_date(f.text(seg, 1, 1), f.text(seg, 1, 2), position=position, tag="DTM")


def notes_of(segments: list[Seg], f: Fields) -> list[str]:
    """FTX free texts (C108 components joined by a space), one note per segment."""
    out: list[str] = []
    for seg, _ in segments:
        if seg[0] == "FTX":
            text = joined(f.parts(seg, 4), 0, 5)
            if text:
                out.append(text)
    return out


def currency_of(segments: list[Seg], f: Fields) -> str | None:
    """CUX C504: the reference currency (6347 = 2), else the first one named."""
    chosen: Seg | None = None
    for seg, position in segments:
        if (
            seg[0] == "CUX"
            and f.text(seg, 1, 1)
            and (chosen is None or (f.code(seg, 1) == "2" and f.code(chosen[0], 1) != "2"))
        ):
            chosen = (seg, position)
    if chosen is None:
        return None
    seg, position = chosen
    return check_code(
        f.text(seg, 1, 1),
        3,
        "ISO 4217 currency code",
        position=position,
        tag="CUX",
        element=1,
    )


def refs_of(segments: list[Seg], qualifier: str, f: Fields) -> list[tuple[str, str, int]]:
    """RFF C506 values with ``qualifier``: (reference, line number, position)."""
    return [
        (f.text(seg, 1, 1), f.text(seg, 1, 2), position)
        for seg, position in segments
        if seg[0] == "RFF" and f.code(seg, 1) == qualifier and f.text(seg, 1, 1)
    ]


def amount_of(
    segments: list[Seg], qualifiers: tuple[str, ...], f: Fields, currency: str | None
) -> Decimal | None:
    """The MOA (C516: 5025:5004:6345) with the first of ``qualifiers``, as a decimal."""
    found = first_of(segments, "MOA", qualifiers, f)
    if found is None:
        return None
    return moa_value(found, f, currency)


def moa_value(found: Seg, f: Fields, currency: str | None) -> Decimal:
    """An MOA amount; a currency in C516 other than the message's is a pointed error."""
    seg, position = found
    value = parse_number(f.text(seg, 1, 1), position=position, tag="MOA", element=1)
    stated = f.text(seg, 1, 2)
    if stated and currency and stated.upper() != currency:
        raise fault(
            f"amount in {stated!r}, the message in {currency} (CUX)",
            position=position,
            tag="MOA",
            element=1,
        )
    return value


def document_number(scan: Scan, ctx: Context) -> tuple[str, tuple[str, ...]]:
    """BGM document number (C106/1004); without one, the UNH reference stands in (noted)."""
    if scan.bgm is not None:
        number = ctx.fields.text(scan.bgm[0], 2, 0)
        if number:
            return number, ()
    return ctx.message_ref, (
        f"EDIFACT: no document number in BGM; the message reference {ctx.message_ref} stands in",
    )
