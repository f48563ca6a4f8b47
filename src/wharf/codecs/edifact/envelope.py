"""The EDIFACT envelope: interchanges (UNB..UNZ), groups (UNG..UNE) and messages (UNH..UNT).

Why this module exists: a body is cut into messages here, and each message, group and interchange
gets its own fate before any business mapping runs, so one broken message cannot sink the others.

What is checked, and what it costs:

* **UNB** must name a syntax identifier and an interchange control reference (0020); without
  them nothing in the interchange can be acknowledged, so every message in it is rejected
  (0085 code 13 at UCI level).
* **UNH..UNT**: a message that is not closed by UNT before the next UNH/UNG/UNE/UNZ/UNB or the end
  of the body is truncated and rejected (code 13, pointing past its last segment). A segment
  whose tag or characters are broken rejects the message it sits in.
* **Trailer checks** — UNT segment count (0074) and reference (0062), UNE/UNZ counts (0060/0036)
  and references, a missing UNZ. Real partners get these wrong surprisingly often (the corpus has
  UNT references that differ from UNH and UNZ counts of 1 for 4 messages), so by default they are
  tolerated; with ``strict=True`` a mismatch rejects the message (UNT, codes 28/29), the group
  (UNE) or the interchange (UNZ).
* Segments outside any message (between UNB and UNH, after UNZ...) are reported as code 33
  ("invalid occurrence outside message") without rejecting the messages around them.

Bare messages (UNH..UNT with no UNB) are read too; they have no interchange to acknowledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wharf.codecs.edifact.values import fault
from wharf.errors import DocumentError

if TYPE_CHECKING:
    from wharf.codecs.edifact.syntax import Tokens
    from wharf.codecs.edifact.values import Fields

__all__ = ("Envelopes", "Group", "Interchange", "Message", "read_envelopes")

_BREAKS = frozenset(("UNH", "UNT", "UNG", "UNE", "UNZ", "UNB"))


@dataclass(slots=True)
class Message:
    """One UNH..UNT message: its raw segments (UNH at index 0 = segment position 1)."""

    segments: list[list[str]]
    start: int
    """Index of UNH among all segments of the body (0-based)."""
    ref: str
    type: str
    version: str
    release: str
    agency: str
    association: str
    group: Group | None = None
    fault: DocumentError | None = None

    @property
    def where(self) -> str:
        return f"UNH {self.ref or '?'} ({self.type or '?'})"

    @property
    def directory(self) -> str:
        """``D96A`` (version + release), with ``/EAN008`` when an association code is given."""
        version = f"{self.version}{self.release}"
        return f"{version}/{self.association}" if self.association else version


@dataclass(slots=True)
class Group:
    """One UNG..UNE functional group."""

    ref: str
    sender: list[str]
    recipient: list[str]
    messages: list[Message] = field(default_factory=list)
    fault: DocumentError | None = None


@dataclass(slots=True)
class Interchange:
    """One UNB..UNZ interchange."""

    syntax: str
    syntax_version: str
    sender: list[str]
    recipient: list[str]
    ref: str
    start: int
    messages: list[Message] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    fault: DocumentError | None = None
    """Rejects every message in the interchange (UCI action 4)."""
    notices: list[DocumentError] = field(default_factory=list)
    """Problems outside any message that do not reject the messages (stray segments)."""


@dataclass(slots=True)
class Envelopes:
    """Everything the body holds, by envelope."""

    interchanges: list[Interchange] = field(default_factory=list)
    bare: list[Message] = field(default_factory=list)
    stray: list[DocumentError] = field(default_factory=list)


def _service_error(
    detail: str, *, tag: str, position: int, element: int | None, code: str
) -> DocumentError:
    # Service segments outside messages are counted from UNB = 1 within their interchange.
    pointer = f"/interchange/segments/{position}"
    if element is not None:
        pointer += f"/{element}"
    return DocumentError(
        f"{tag}: {detail}",
        pointer=pointer,
        segment=position,
        segment_id=tag,
        element=element,
        code=code,
    )


def _count(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() else None


class _Reader:
    """One pass over the segments, keeping the open interchange and group."""

    def __init__(self, tokens: Tokens, fields: Fields, strict: bool) -> None:
        self.segments = tokens.segments
        self.faults = tokens.faults
        self.f = fields
        self.strict = strict
        self.out = Envelopes()
        self.interchange: Interchange | None = None
        self.group: Group | None = None

    def run(self) -> Envelopes:
        segments = self.segments
        index, size = 0, len(segments)
        while index < size:
            tag = segments[index][0]
            if tag == "UNH":
                index = self._message(index)
                continue
            if tag == "UNB":
                self._close_interchange(None, index)
                self._open_interchange(index)
            elif tag == "UNZ":
                self._close_interchange(index, index)
            elif tag == "UNG":
                self._open_group(index)
            elif tag == "UNE":
                self._close_group(index, index)
            elif tag != "UNA":
                index = self._stray(index)
                continue
            index += 1
        self._close_interchange(None, size)
        return self.out

    # --- interchange and group ------------------------------------------------------------

    def _position(self, index: int) -> int:
        ic = self.interchange
        return index - ic.start + 1 if ic is not None else index + 1

    def _open_interchange(self, index: int) -> None:
        seg, f = self.segments[index], self.f
        ic = Interchange(
            syntax=f.text(seg, 1),
            syntax_version=f.text(seg, 1, 1),
            sender=f.parts(seg, 2),
            recipient=f.parts(seg, 3),
            ref=f.text(seg, 5),
            start=index,
        )
        self.interchange = ic
        self.out.interchanges.append(ic)
        bad = self.faults.get(index)
        if bad is not None:
            ic.fault = _service_error(
                bad.detail, tag="UNB", position=1, element=bad.element, code=bad.code
            )
        elif not ic.syntax:
            ic.fault = _service_error(
                "syntax identifier (S001) is missing", tag="UNB", position=1, element=1, code="13"
            )
        elif not ic.ref:
            ic.fault = _service_error(
                "interchange control reference (0020) is missing",
                tag="UNB",
                position=1,
                element=5,
                code="13",
            )

    def _close_interchange(self, unz: int | None, index: int) -> None:
        ic = self.interchange
        if ic is None:
            return
        self._close_group(None, index)
        self.interchange = None
        if not self.strict or ic.fault is not None:
            return
        if unz is None:
            ic.fault = _service_error(
                "UNZ is missing", tag="UNZ", position=index - ic.start + 1, element=None, code="13"
            )
            return
        seg, position = self.segments[unz], unz - ic.start + 1
        expected = len(ic.groups) if ic.groups else len(ic.messages)
        count = _count(self.f.text(seg, 1))
        if count != expected:
            ic.fault = _service_error(
                f"interchange control count {self.f.text(seg, 1)!r} does not match the "
                f"{expected} {'groups' if ic.groups else 'messages'} received",
                tag="UNZ",
                position=position,
                element=1,
                code="29",
            )
        elif self.f.text(seg, 2) != ic.ref:
            ic.fault = _service_error(
                f"reference {self.f.text(seg, 2)!r} does not match UNB {ic.ref!r}",
                tag="UNZ",
                position=position,
                element=2,
                code="28",
            )

    def _open_group(self, index: int) -> None:
        self._close_group(None, index)
        seg, f = self.segments[index], self.f
        group = Group(ref=f.text(seg, 5), sender=f.parts(seg, 2), recipient=f.parts(seg, 3))
        if not group.ref:
            group.fault = _service_error(
                "group reference (0048) is missing",
                tag="UNG",
                position=self._position(index),
                element=5,
                code="13",
            )
        self.group = group
        if self.interchange is not None:
            self.interchange.groups.append(group)

    def _close_group(self, une: int | None, index: int) -> None:
        group = self.group
        if group is None:
            if une is not None:
                self._stray(une)
            return
        self.group = None
        if not self.strict or group.fault is not None:
            return
        if une is None:
            group.fault = _service_error(
                "UNE is missing",
                tag="UNE",
                position=self._position(index),
                element=None,
                code="13",
            )
            return
        seg, position = self.segments[une], self._position(une)
        if _count(self.f.text(seg, 1)) != len(group.messages):
            group.fault = _service_error(
                f"group control count {self.f.text(seg, 1)!r} does not match the "
                f"{len(group.messages)} messages received",
                tag="UNE",
                position=position,
                element=1,
                code="29",
            )
        elif self.f.text(seg, 2) != group.ref:
            group.fault = _service_error(
                f"reference {self.f.text(seg, 2)!r} does not match UNG {group.ref!r}",
                tag="UNE",
                position=position,
                element=2,
                code="28",
            )

    def _stray(self, index: int) -> int:
        """Skip segments outside any message; report them once. Returns the next index."""
        first, segments = index, self.segments
        while index < len(segments) and segments[index][0] not in _BREAKS:
            index += 1
        if index == first:  # a lone trailer (UNT, UNE) with nothing open
            index += 1
        tag = segments[first][0][:10]
        error = _service_error(
            f"{index - first} segment(s) outside any message, starting with {tag!r}",
            tag=tag,
            position=self._position(first),
            element=None,
            code="33",
        )
        if self.interchange is not None:
            self.interchange.notices.append(error)
        else:
            self.out.stray.append(error)
        return index

    # --- messages -------------------------------------------------------------------------

    def _message(self, start: int) -> int:
        segments, f = self.segments, self.f
        end = start + 1
        while end < len(segments) and segments[end][0] not in _BREAKS:
            end += 1
        closed = end < len(segments) and segments[end][0] == "UNT"
        stop = end + 1 if closed else end
        unh = segments[start]
        message = Message(
            segments=segments[start:stop],
            start=start,
            ref=f.text(unh, 1),
            type=f.text(unh, 2, 0),
            version=f.text(unh, 2, 1),
            release=f.text(unh, 2, 2),
            agency=f.text(unh, 2, 3),
            association=f.text(unh, 2, 4),
            group=self.group,
        )
        message.fault = self._message_fault(message, closed, start, stop)
        if self.group is not None:
            self.group.messages.append(message)
        if self.interchange is not None:
            self.interchange.messages.append(message)
        else:
            self.out.bare.append(message)
        return stop

    def _message_fault(
        self, message: Message, closed: bool, start: int, stop: int
    ) -> DocumentError | None:
        if self.faults:
            for index in range(start, stop):
                bad = self.faults.get(index)
                if bad is not None:
                    return fault(
                        bad.detail,
                        position=index - start + 1,
                        tag=self.segments[index][0][:10],
                        element=bad.element,
                        code=bad.code,
                    )
        if not message.ref:
            return fault(
                "message reference (0062) is missing", position=1, tag="UNH", element=1, code="13"
            )
        if not message.type:
            return fault(
                "message type (S009 0065) is missing", position=1, tag="UNH", element=2, code="13"
            )
        size = len(message.segments)
        if not closed:
            return fault(
                "the message is not closed by UNT (truncated?)",
                position=size + 1,
                tag="UNT",
                code="13",
            )
        if self.strict:
            unt = message.segments[-1]
            if _count(self.f.text(unt, 1)) != size:
                return fault(
                    f"segment count {self.f.text(unt, 1)!r} does not match the {size} "
                    "segments received",
                    position=size,
                    tag="UNT",
                    element=1,
                    code="29",
                )
            if self.f.text(unt, 2) != message.ref:
                return fault(
                    f"reference {self.f.text(unt, 2)!r} does not match UNH {message.ref!r}",
                    position=size,
                    tag="UNT",
                    element=2,
                    code="28",
                )
        return None


def read_envelopes(tokens: Tokens, fields: Fields, *, strict: bool = False) -> Envelopes:
    """Cut the segments into interchanges, groups and messages, checking the envelopes."""
    return _Reader(tokens, fields, strict).run()
