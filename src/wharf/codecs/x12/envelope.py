"""Interchange → functional groups → transaction sets, with the envelope checked.

What is fatal and what is only reported follows one rule: **a document is judged by its own
ST/SE frame; counts and outer trailers are reported but do not sink intact transaction sets.**

* Fatal for the transaction set (an error part, ``AK5*R`` in the 997): SE missing (AK502
  code 2), SE02 not ST02 (code 3), ST01 not a 3-digit id (code 6), ST02 empty (code 7). Without a
  matching SE the set's end cannot be trusted: the SE found may close another set.
* Noted (``AK5*E``, accepted with errors noted): SE01 not the number of segments from ST to SE
  (code 4). Three real samples in the corpus (a D&H guide excerpt, a NAPA 5010 PO, a BISG 832)
  carry a wrong SE01 around perfectly readable content.
* Group (``GS``/``GE``): GE01 not the number of sets (AK905 code 5), GE02 not GS06 (code 4),
  GE missing (code 3) → ``AK9`` status ``E``; the sets in it are still read. Real senders get
  GE01 wrong (a Walmart 856 in the corpus) while every set in the group is intact.
* Interchange (``ISA``/``IEA``): IEA01/IEA02 mismatches and a missing IEA are TA1 material, which
  the 997 cannot carry; they are kept in :attr:`Interchange.issues` and nothing is rejected for
  them (one EDI.Net sample has IEA02 ≠ ISA13 and perfectly good content).

A body without envelope (starting at ST, pasted from a guide or uploaded by a portal) has no
control structure to reconcile and nobody to send a 997 to: there SE02 ≠ ST02 is tolerated too
(the AAFES sample in the corpus has it); only a missing SE is fatal.

Control numbers compare as strings, or as integers when both are digits (``3438`` is
``000003438``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wharf.errors import DocumentError

if TYPE_CHECKING:
    from wharf.codecs.x12.tokenizer import Delimiters, RawInterchange

__all__ = (
    "Group", "Interchange", "TransactionSet", "is_number", "read_envelopes", "same_control",
)

_ENVELOPE = frozenset(("SE", "ST", "GS", "GE", "IEA", "ISA"))


def is_number(value: str) -> bool:
    """1-18 ASCII digits: ``str.isdigit`` alone accepts ``²`` (which ``int`` refuses) and
    ``int`` refuses more than 4300 digits, so both are ruled out before any ``int()``."""
    return len(value) <= 18 and value.isascii() and value.isdigit()


def same_control(a: str, b: str) -> bool:
    """True when two control numbers agree (leading zeros do not matter)."""
    return a == b or (is_number(a) and is_number(b) and int(a) == int(b))


def _value(segment: list[str], index: int) -> str:
    return segment[index].strip() if len(segment) > index else ""


@dataclass(slots=True)
class TransactionSet:
    """One ST..SE: its segments (ST is segment 1) and, if its frame is broken, why."""

    set_id: str
    control: str
    segments: list[list[str]]
    number: int
    """Body-wide number of the ST segment."""
    problem: DocumentError | None = None
    """A framing error (ST/SE); its ``code`` is the AK502 code."""
    noted: list[str] = field(default_factory=list)
    """AK502 codes of problems that do not reject the set (a wrong SE01)."""

    @property
    def where(self) -> str:
        return f"ST {self.control or '?'} ({self.set_id or '?'})"


@dataclass(slots=True)
class Group:
    """One GS..GE (``gs`` is None for transaction sets outside any group)."""

    gs: list[str] | None
    sets: list[TransactionSet] = field(default_factory=list)
    declared: str | None = None
    """GE01 as sent."""
    codes: list[str] = field(default_factory=list)
    """AK905-AK909 codes: what is wrong with the group's envelope."""
    closed: bool = False

    @property
    def functional_id(self) -> str:
        return _value(self.gs, 1) if self.gs else ""

    @property
    def sender(self) -> str:
        return _value(self.gs, 2) if self.gs else ""

    @property
    def receiver(self) -> str:
        return _value(self.gs, 3) if self.gs else ""

    @property
    def date(self) -> str:
        return _value(self.gs, 4) if self.gs else ""

    @property
    def control(self) -> str:
        return _value(self.gs, 6) if self.gs else ""

    @property
    def version(self) -> str:
        return _value(self.gs, 8) if self.gs else ""


@dataclass(slots=True)
class Interchange:
    """One ISA..IEA (``isa`` is None for a bare body) and its groups."""

    delimiters: Delimiters
    isa: list[str] | None
    groups: list[Group]
    issues: list[str] = field(default_factory=list)

    def _isa(self, index: int) -> str:
        return self.isa[index] if self.isa is not None and len(self.isa) > index else ""

    @property
    def sender_qualifier(self) -> str:
        return self._isa(5)

    @property
    def sender(self) -> str:
        return self._isa(6)

    @property
    def receiver_qualifier(self) -> str:
        return self._isa(7)

    @property
    def receiver(self) -> str:
        return self._isa(8)

    @property
    def control(self) -> str:
        return self._isa(13)

    @property
    def test(self) -> bool:
        return self._isa(15) == "T"


def _framing(ts: TransactionSet, segment: int, element: int | None, code: str, detail: str) -> None:
    if ts.problem is not None:
        return
    pointer = f"/segments/{segment}" + (f"/{element}" if element is not None else "")
    seg_id = "ST" if segment == 1 else "SE"
    ts.problem = DocumentError(
        f"{ts.where}: {detail}", pointer=pointer, segment=segment, segment_id=seg_id,
        element=element, code=code,
    )


def _open_set(segment: list[str], number: int) -> TransactionSet:
    ts = TransactionSet(_value(segment, 1), _value(segment, 2), [segment], number)
    if not (len(ts.set_id) == 3 and is_number(ts.set_id)):
        _framing(ts, 1, 1, "6", f"ST01 {ts.set_id!r} is not a transaction set identifier")
    elif not ts.control:
        _framing(ts, 1, 2, "7", "ST02 (the transaction set control number) is empty")
    return ts


def _close_set(ts: TransactionSet, enveloped: bool) -> None:
    count = len(ts.segments)
    se = ts.segments[-1]
    declared = _value(se, 1)
    if not (is_number(declared) and int(declared) == count):
        ts.noted.append("4")
    if enveloped and not same_control(_value(se, 2), ts.control):
        _framing(ts, count, 2, "3", f"SE02 {_value(se, 2)!r} does not match ST02 {ts.control!r}")


def _missing_se(ts: TransactionSet) -> None:
    _framing(ts, len(ts.segments) + 1, None, "2", "the transaction set trailer SE is missing")


def _close_group(group: Group, ge: list[str] | None) -> None:
    group.closed = True
    if ge is None:
        group.codes.append("3")
        return
    group.declared = _value(ge, 1)
    if not (is_number(group.declared) and int(group.declared) == len(group.sets)):
        group.codes.append("5")
    if not same_control(_value(ge, 2), group.control):
        group.codes.append("4")


def read_envelopes(raw: RawInterchange) -> Interchange:
    """Structure one tokenized interchange into groups and transaction sets, checking trailers."""
    enveloped = raw.isa is not None
    interchange = Interchange(raw.delimiters, raw.isa, [])
    groups = interchange.groups
    issues = interchange.issues
    group: Group | None = None
    current: TransactionSet | None = None
    start = 0
    iea: list[str] | None = None
    segments = raw.segments
    base = raw.first + (1 if enveloped else 0)
    # Only envelope segments need a look; a set's content is sliced out in one go at its SE.
    for index, segment in enumerate(segments):
        seg_id = segment[0]
        if seg_id not in _ENVELOPE:
            if current is None and len(issues) < 20:
                issues.append(f"segment {base + index}: {seg_id[:3]!r} outside a transaction "
                              f"set, ignored")
            continue
        if current is not None:
            if seg_id == "SE":
                current.segments = segments[start : index + 1]
                _close_set(current, enveloped)
                current = None
                continue
            current.segments = segments[start:index]
            _missing_se(current)
            current = None
        if seg_id == "ST":
            if group is None or group.closed:
                group = Group(None)
                groups.append(group)
            current = _open_set(segment, base + index)
            start = index
            group.sets.append(current)
        elif seg_id == "GS":
            if group is not None and group.gs is not None and not group.closed:
                _close_group(group, None)
            group = Group(segment)
            groups.append(group)
        elif seg_id == "GE":
            if group is None or group.gs is None or group.closed:
                issues.append(f"segment {base + index}: GE without GS")
            else:
                _close_group(group, segment)
        elif seg_id == "IEA":
            iea = segment
    if current is not None:
        current.segments = segments[start:]
        _missing_se(current)
    if group is not None and group.gs is not None and not group.closed:
        _close_group(group, None)
    if enveloped:
        if iea is None:
            issues.append("IEA missing")
        else:
            declared = _value(iea, 1)
            actual = sum(1 for g in groups if g.gs is not None)
            if not (is_number(declared) and int(declared) == actual):
                issues.append(f"IEA01 says {declared!r} groups, the interchange has {actual}")
            if not same_control(_value(iea, 2), interchange.control):
                issues.append(f"IEA02 {_value(iea, 2)!r} does not match ISA13 "
                              f"{interchange.control!r}")
    if raw.trailing_garbage:
        issues.append("data after the IEA that is not an interchange, ignored")
    return interchange
