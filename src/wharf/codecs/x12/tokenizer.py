"""X12 bytes → text → interchanges of segments, with the delimiters read per interchange.

X12 names its own delimiters in the ISA header, and real files bend every rule about them
(``../shared/samples/NOTES.md`` section 1 and 5), so nothing here assumes ``*``, ``~`` or a
106-character ISA:

* **Element separator** is the character after ``ISA``. The ISA is then split on it (16
  separators), never sliced at fixed offsets: unpadded ISAs (72–104 characters) and ISAs padded
  with U+00A0 instead of spaces are common; every ISA value is ``str.strip()``-ed (which strips
  NBSP too).
* **Component separator** is the character after the 16th separator (ISA16).
* **Segment terminator** is the next character — unless that is whitespace: a run of blanks
  holding a line break means the line break *is* the terminator (files ending segments with CR,
  LF, CRLF or ``' '`` + CRLF); blanks alone mean a space terminator. If ISA16 is followed by a
  letter, ISA16 was missing and the character we took for it is the terminator.
* When ISA16 equals the character that also ends each line (``~`` in two samples: the
  component separator "is" the terminator), the line break is taken as the terminator and a
  trailing component separator is dropped from each segment. This also survives a segment that
  lacks its ``~``.
* **Repetition separator** is ISA11 when it is not a letter (``^``, ``|``, ``-``; ``U`` in 00401).
* Terminators seen: ``~ | * } …`` (U+2026), CR or LF alone, byte 0x15, EBCDIC NEL (U+0085).
  Whitespace around segments (indentation, CRLF after the terminator, 80-column padding of the
  EBCDIC records) is stripped.

**Encodings**: a UTF-8 BOM is dropped; a body that does not start with ASCII ``ISA``/``ST`` but
with EBCDIC ``ISA``/``ST`` is decoded as cp037 (cp500 differs only in ``[ ] ! ^ | ¢ ¬``, which
decode consistently either way, so delimiters still split right); otherwise UTF-8, falling back
to Latin-1 (which cannot fail).

**No envelope**: a body starting at ``ST`` is one bare "interchange"; the element separator is
the character after ``ST`` and the terminator the character after the ST control number
(ST02, or ST03 when present). There is no component separator then.

**Several interchanges** in one body (mailbags) may each use other delimiters: each interchange
is cut at its IEA (or at the next ISA when IEA is missing) and split on its own terminator, so
the whole body is split once in total — no quadratic re-splitting on hostile input.

Tokens are plain ``list[str]`` per segment (element 0 is the segment id): this is the hot path
of every X12 read, so it is ``str.split`` and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from wharf.errors import MalformedDocument

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ("Delimiters", "RawInterchange", "decode_text", "tokenize")

_BLANKS = " \t\r\n"
_EBCDIC_BLANKS = b"\x40\x05\x15\x25\x0d"
# The longest ISA seen padded with NBSPs is 121 characters; anything far past 106 is not an ISA.
_ISA_MAX = 200


@dataclass(frozen=True, slots=True)
class Delimiters:
    """The separators of one interchange."""

    element: str
    segment: str
    """The terminator as split on: one character, or ``"\\n"`` / ``"\\r"`` for line ends."""
    component: str | None
    repetition: str | None = None
    strip_component: bool = False
    """True when ISA16 also ends every line: drop it from segment ends."""


@dataclass(slots=True)
class RawInterchange:
    """One interchange's segments, split into elements; ``isa`` is None for a bare body."""

    delimiters: Delimiters
    isa: list[str] | None
    segments: list[list[str]]
    first: int
    """Body-wide number (from 1) of the interchange's first segment (the ISA, or the ST)."""
    complete: bool
    """True when the interchange ended with an IEA."""
    trailing_garbage: bool = False


def decode_text(body: bytes) -> str:
    """Bytes to text: BOM dropped, EBCDIC recognised, UTF-8 else Latin-1."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    head = body.lstrip(b" \t\r\n")
    if not head.startswith((b"ISA", b"ST")):
        ebcdic = body.lstrip(_EBCDIC_BLANKS)
        if ebcdic.startswith((b"\xc9\xe2\xc1", b"\xe2\xe3")):  # "ISA" / "ST" in cp037 and cp500
            return body.decode("cp037")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def _skip_blanks(text: str, pos: int) -> int:
    end = len(text)
    while pos < end and (text[pos].isspace() or text[pos] == "\ufeff"):
        pos += 1
    return pos


def _terminator_after(text: str, pos: int) -> tuple[str, int]:
    """Read a terminator at ``pos``; return it and the index just past it."""
    if pos >= len(text):
        return "~", pos
    char = text[pos]
    if char not in " \t\r\n":
        return char, pos + 1
    end = pos
    while end < len(text) and text[end] in _BLANKS:
        end += 1
    run = text[pos:end]
    if "\n" in run:
        return "\n", pos + run.index("\n") + 1
    if "\r" in run:
        return "\r", pos + run.index("\r") + 1
    return " ", pos + 1


def _read_isa(text: str, pos: int, number: int) -> tuple[list[str], Delimiters, int]:
    """Parse the ISA at ``pos``: its 17 values (0 = "ISA"), the delimiters, the body start."""
    if pos + 4 > len(text):
        raise MalformedDocument("the ISA segment is truncated", pointer=f"/segments/{number}",
                                segment=number, segment_id="ISA")
    element = text[pos + 3]
    if element.isalnum() or element.isspace():
        raise MalformedDocument(
            f"the ISA segment has no usable element separator ({element!r})",
            pointer=f"/segments/{number}/1", segment=number, segment_id="ISA", element=1,
        )
    sep = pos + 3
    for _ in range(15):
        sep = text.find(element, sep + 1)
        if sep == -1 or sep - pos > _ISA_MAX:
            raise MalformedDocument(
                "the ISA segment has fewer than 16 elements",
                pointer=f"/segments/{number}", segment=number, segment_id="ISA",
            )
    head = text[pos:sep]
    values = [value.strip() for value in head.split(element)]
    if "\n" in head or "\r" in head:
        raise MalformedDocument(
            "the ISA segment is broken across lines before ISA16",
            pointer=f"/segments/{number}", segment=number, segment_id="ISA",
        )
    component: str | None = text[sep + 1] if sep + 1 < len(text) else None
    after = sep + 2
    if component is None or component in _BLANKS:
        # ISA16 missing: what follows the 16th separator is the terminator itself.
        component = None
        terminator, body = _terminator_after(text, sep + 1)
    elif after < len(text) and text[after].isalnum():
        # "...*P*~GS*": no ISA16, the character after the separator was the terminator.
        terminator, body = component, after
        component = None
    else:
        terminator, body = _terminator_after(text, after)
    if terminator == element or (component is not None and terminator == component):
        raise MalformedDocument(
            "the ISA segment's terminator equals one of its separators",
            pointer=f"/segments/{number}/16", segment=number, segment_id="ISA", element=16,
        )
    values.append(component or "")
    repetition = values[11] if len(values[11]) == 1 and not values[11].isalnum() else None
    strip_component = False
    if component is not None and terminator in "\r\n":
        line_end = text.find(terminator, body)
        line = text[body : line_end if line_end != -1 else len(text)].rstrip()
        strip_component = line.endswith(component)
    return values, Delimiters(element, terminator, component, repetition, strip_component), body


def _sniff_bare(text: str, pos: int) -> tuple[Delimiters, int]:
    """Delimiters of a body that starts at ST: element after "ST", terminator after ST02/ST03."""
    element = text[pos + 2]
    cursor = pos + 3
    end = len(text)
    for _ in range(3):  # ST01, ST02, optional ST03
        while cursor < end and text[cursor] != element and (text[cursor].isalnum()
                                                            or text[cursor] in ".-_"):
            cursor += 1
        if cursor < end and text[cursor] == element:
            cursor += 1
            continue
        break
    terminator, _ = _terminator_after(text, cursor)
    if terminator == element:
        terminator = "~"
    return Delimiters(element, terminator, None), pos


def _at_segment_start(text: str, index: int, floor: int, terminator: str) -> bool:
    """True when ``index`` starts a segment: only blanks back to a terminator (or ``floor``)."""
    line_end = terminator in "\r\n"
    back = index - 1
    while back >= floor:
        char = text[back]
        if char == terminator or (line_end and char in "\r\n"):
            return True
        if char not in _BLANKS:
            return False
        back -= 1
    return True


def _find_segment(text: str, seg_id: str, start: int, stop: int, terminator: str) -> int:
    """Index of the first segment ``seg_id`` + separator in ``text[start:stop]``, or -1."""
    index = text.find(seg_id, start, stop)
    while index != -1:
        nxt = index + len(seg_id)
        if (nxt < len(text) and not text[nxt].isalnum() and not text[nxt].isspace()
                and _at_segment_start(text, index, start, terminator)):
            return index
        index = text.find(seg_id, index + 1, stop)
    return -1


def _split(region: str, delimiters: Delimiters) -> list[list[str]]:
    element = delimiters.element
    pieces: Iterable[str] = map(str.strip, region.split(delimiters.segment))
    if delimiters.strip_component and delimiters.component is not None:
        component = delimiters.component
        pieces = (piece.rstrip(component).rstrip() for piece in pieces)
    return [piece.split(element) for piece in pieces if piece]


def tokenize(text: str) -> list[RawInterchange]:
    """Split a decoded body into interchanges of segments.

    Raises :class:`~wharf.errors.MalformedDocument` when the body starts with neither ``ISA``
    nor ``ST`` (nothing X12 can be told apart) or its ISA is unreadable.
    """
    pos = _skip_blanks(text, 0)
    if text.startswith("ST", pos) and pos + 2 < len(text) and not (
        text[pos + 2].isalnum() or text[pos + 2].isspace()
    ):
        delimiters, start = _sniff_bare(text, pos)
        return [RawInterchange(delimiters, None, _split(text[start:], delimiters), 1, True)]
    if not text.startswith("ISA", pos):
        raise MalformedDocument(
            "not X12: the body starts with neither an ISA nor an ST segment", pointer="/segments/1"
        )
    interchanges: list[RawInterchange] = []
    number = 1
    while pos < len(text):
        try:
            isa, delimiters, body = _read_isa(text, pos, number)
        except MalformedDocument:
            if not interchanges:
                raise
            interchanges[-1].trailing_garbage = True  # a broken ISA later on: keep what we have
            break
        terminator = delimiters.segment
        next_isa = _find_segment(text, "ISA", body, len(text), terminator)
        stop = next_isa if next_isa != -1 else len(text)
        iea = _find_segment(text, "IEA", body, stop, terminator)
        complete = iea != -1
        if complete:
            end = text.find(terminator, iea, stop)
            stop = end + len(terminator) if end != -1 else stop
        segments = _split(text[body:stop], delimiters)
        interchange = RawInterchange(delimiters, isa, segments, number, complete)
        interchanges.append(interchange)
        number += 1 + len(segments)
        pos = _skip_blanks(text, stop)
        if pos < len(text) and not text.startswith("ISA", pos):
            # Junk after the IEA that is not another interchange: reported, not read.
            following = _find_segment(text, "ISA", pos, len(text), terminator)
            interchange.trailing_garbage = True
            if following == -1:
                break
            pos = following
    return interchanges
