"""997 Functional Acknowledgment: built for every inbound interchange, read when a partner sends one.

Outbound (our answer to a partner's interchange): one 997 per functional group, in a reply
interchange that swaps the inbound sender and receiver, keeps the inbound ISA13 and GS06 as its
own control numbers (the caller may renumber with :func:`write_997`), and uses the **sender's
GS08 version** for the group (ISA12 follows it; AK103 is written from 005010 on).

* ``AK1`` functional id + group control; per transaction set ``AK2`` id + control, then for a
  rejected set ``AK3`` (segment id, position within the set with ST = 1, AK304 code) and ``AK4``
  (element position, AK403 code, a copy of the bad value), and ``AK5`` (A accepted, E accepted
  with errors noted, R rejected + AK502 codes); ``AK9`` (A/E/P/R, sets declared in GE01,
  received, accepted, AK905 group codes).
* How a :class:`~wharf.errors.DocumentError` becomes AK3/AK4/AK5 (:func:`set_ack`): an error
  pointing at ST or SE concerns the set's frame or type and its ``code`` is the AK502 code
  (1 not supported, 2 SE missing, 3 control numbers differ, 4 wrong count, 6/7 bad ST); any
  other error yields AK3 (with ``code`` as AK304 when no element is named, else AK304 ``8``) +
  AK4 (``code`` as AK403) and AK5 ``R`` with code ``5``.

Inbound (a partner acknowledging what Wharf sent): :func:`read_997` turns one 997 transaction
set into a :class:`~wharf.codecs.base.FunctionalAck` — AK102 is the acknowledged group control,
AK9 A/E count as accepted, AK2/AK5 fill ``transactions``, AK3/AK4/AK5/AK9 codes ``errors``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wharf.codecs.base import Envelope, FunctionalAck
from wharf.codecs.x12.envelope import is_number
from wharf.codecs.x12.values import el, missing
from wharf.codecs.x12.writer import DEFAULT_VERSION, GroupOut, render_interchange

if TYPE_CHECKING:
    from collections.abc import Sequence

    from wharf.errors import DocumentError

__all__ = ("GroupAck", "SegmentNote", "SetAck", "read_997", "set_ack", "write_997")


@dataclass(frozen=True, slots=True)
class SegmentNote:
    """One AK3 (and its AK4 when an element is named)."""

    segment_id: str
    position: int
    code: str
    """AK304: 1 unrecognized, 2 unexpected, 3 mandatory segment missing, 8 element errors…"""
    element: int | None = None
    element_code: str | None = None
    """AK403: 1 missing, 4 too short, 5 too long, 6 invalid character, 7 invalid code, 8 date."""
    value: str | None = None


@dataclass(frozen=True, slots=True)
class SetAck:
    """The verdict on one transaction set: AK2 … AK5."""

    set_id: str
    control: str
    status: str
    """AK501: ``A``, ``E`` or ``R``."""
    codes: tuple[str, ...] = ()
    notes: tuple[SegmentNote, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupAck:
    """The verdict on one functional group: AK1 … AK9."""

    functional_id: str
    control: str
    version: str
    sets: tuple[SetAck, ...]
    declared: str | None = None
    """GE01 as sent (AK902); the number of sets received when absent or not a number."""
    codes: tuple[str, ...] = ()
    sender: str | None = None
    """The inbound GS02/GS03, which the 997's GS swaps."""
    receiver: str | None = None

    @property
    def accepted(self) -> int:
        return sum(1 for s in self.sets if s.status in ("A", "E"))

    @property
    def status(self) -> str:
        received, accepted = len(self.sets), self.accepted
        if received and not accepted:
            return "R"
        if accepted < received:
            return "P"
        return "E" if self.codes else "A"


def set_ack(
    set_id: str,
    control: str,
    error: DocumentError | None,
    *,
    noted: Sequence[str] = (),
    value: str | None = None,
) -> SetAck:
    """The AK2..AK5 verdict for a set from its error (None = accepted); see the module doc."""
    if error is None:
        return SetAck(set_id, control, "E" if noted else "A", tuple(noted))
    if error.segment_id in ("ST", "SE"):
        return SetAck(set_id, control, "R", (error.code or "5", *noted))
    position = error.segment or 1
    if error.element is not None:
        note = SegmentNote(error.segment_id or "", position, "8", error.element,
                           error.code or "7", value)
    else:
        note = SegmentNote(error.segment_id or "", position, error.code or "8")
    return SetAck(set_id, control, "R", ("5", *noted), (note,))


_DELIMITERS = str.maketrans("", "", "*~>^\r\n")
# GS01 for a group that came without GS (sets right after the ISA), from its ST01.
_FUNCTIONAL_IDS = {"850": "PO", "855": "PR", "856": "SH", "810": "IN", "846": "IB", "832": "SC",
                   "940": "OW", "820": "RA", "997": "FA"}


def _isa_id(value: str) -> str:
    return value.translate(_DELIMITERS).strip()[:15] or "UNKNOWN"


def _qualifier(value: str) -> str:
    cleaned = value.translate(_DELIMITERS).strip()
    return cleaned if len(cleaned) == 2 else "ZZ"


def _version(version: str) -> str:
    return version if len(version) >= 6 and is_number(version[:6]) else DEFAULT_VERSION


def _clean(value: str) -> str:
    """A partner's value echoed in the 997, without delimiters (X12 cannot escape them)."""
    return value.translate(_DELIMITERS).strip()


def _segment(*values: str) -> str:
    """Elements joined, trailing empty ones dropped (X12 does not allow them)."""
    return "*".join(values).rstrip("*")


def _997(group: GroupAck, control: str) -> list[str]:
    # Built from strings directly: this runs for every inbound interchange.
    version = _version(group.version)
    functional_id = _clean(group.functional_id) or _FUNCTIONAL_IDS.get(
        group.sets[0].set_id if group.sets else "", "")
    out = [f"ST*997*{control}", _segment("AK1", functional_id, _clean(group.control),
                                         version if version >= "005010" else "")]
    for ack in group.sets:
        out.append(_segment("AK2", _clean(ack.set_id), _clean(ack.control)))
        for note in ack.notes:
            out.append(f"AK3*{_clean(note.segment_id)}*{note.position}**{note.code}")
            if note.element is not None:
                value = _clean(note.value or "")[:99]
                ak4 = f"AK4*{note.element}**{note.element_code}"
                out.append(f"{ak4}*{value}" if value else ak4)
        out.append("*".join(("AK5", ack.status, *ack.codes[:5])))
    received = len(group.sets)
    declared = group.declared if group.declared and is_number(group.declared) else str(received)
    out.append("*".join(("AK9", group.status, declared, str(received), str(group.accepted),
                         *group.codes[:5])))
    out.append(f"SE*{len(out) + 1}*{control}")
    return out


def write_997(
    groups: Sequence[GroupAck],
    *,
    sender_id: str,
    receiver_id: str,
    control_number: int,
    sender_qualifier: str = "ZZ",
    receiver_qualifier: str = "ZZ",
    test: bool = False,
    created: dt.datetime | None = None,
) -> bytes:
    """An interchange holding one 997 per group (each in its own GS*FA, in its GS08 version).

    ``sender_id`` is Wharf's id (the inbound receiver), ``receiver_id`` the partner's.
    Identifiers are cleaned of delimiters and cut to 15 characters; a control number that is
    not in 1..999999999 becomes 1.
    """
    envelope = Envelope(
        sender_id=_isa_id(sender_id), receiver_id=_isa_id(receiver_id),
        control_number=control_number if 0 < control_number <= 999_999_999 else 1,
        sender_qualifier=_qualifier(sender_qualifier),
        receiver_qualifier=_qualifier(receiver_qualifier),
        test=test, created=created or dt.datetime.now(dt.UTC),
    )
    outs = []
    for index, group in enumerate(groups, 1):
        control = group.control if is_number(group.control) and len(group.control) <= 9 else str(
            index)
        outs.append(GroupOut(
            "FA", control, _version(group.version), [_997(group, f"{index:04d}")],
            sender=_isa_id(group.receiver) if group.receiver else None,
            receiver=_isa_id(group.sender) if group.sender else None,
        ))
    return render_interchange(envelope, outs)


def read_997(segments: list[list[str]]) -> FunctionalAck:
    """A partner's 997 (one transaction set, ST = segment 1) as a FunctionalAck."""
    group_control = ""
    status = ""
    transactions: dict[str, str] = {}
    errors: list[str] = []
    current = ""
    for seg in segments:
        seg_id = seg[0]
        if seg_id == "AK1":
            group_control = el(seg, 2)
        elif seg_id == "AK2":
            current = el(seg, 2)
        elif seg_id == "AK3":
            errors.append(f"set {current}: segment {el(seg, 1)} at {el(seg, 2)}: code "
                          f"{el(seg, 4) or '?'}")
        elif seg_id == "AK4":
            errors.append(f"set {current}: element {el(seg, 1)}: code {el(seg, 3) or '?'}")
        elif seg_id == "AK5":
            transactions[current] = el(seg, 1)
            codes = [code for code in seg[2:7] if code.strip()]
            if codes:
                errors.append(f"set {current}: {el(seg, 1)} " + " ".join(c.strip() for c in codes))
        elif seg_id == "AK9":
            status = el(seg, 1)
            codes = [code.strip() for code in seg[5:10] if code.strip()]
            if codes:
                errors.append(f"group {group_control}: {status} " + " ".join(codes))
    if not group_control:
        raise missing(2, "AK1", "a 997 needs its AK1 segment")
    if not status:
        raise missing(len(segments), "AK9", "a 997 needs its AK9 segment")
    return FunctionalAck(
        format="x12", acknowledged_control=group_control, accepted=status in ("A", "E"),
        transactions=transactions, errors=errors,
    )
