"""EDIFACT syntax: the service string advice (UNA), character sets, and the tokenizer.

Why this module exists: everything after it works on plain lists of strings, so the quirks of
the wire are settled here, once, in one pass over the text.

* **Service characters.** ``UNA:+.? '`` advises component, element, decimal mark, release
  character, repetition separator (space = none, syntax 3) and segment terminator. Without UNA
  the level A defaults apply (``:+.? '``, repetition ``*`` in syntax 4), or the level B ones
  (IS1/IS3/IS4 control characters, no release character) when the element separator after
  ``UNB`` is IS3.
* **Character sets.** UNB S001 names the repertoire: UNOA/UNOB are ASCII (a byte above 0x7F is an
  invalid character, 0085 code 21, reported on its segment), UNOC is ISO 8859-1, UNOD-UNOK the
  other ISO 8859 parts, UNOW/UNOY UTF-8. Partners often send UTF-8 while declaring UNOC (or an
  unknown repertoire such as IATB): bytes that are valid UTF-8 *and* not plain ASCII are taken as
  UTF-8, since real Latin-1 text practically never forms valid multi-byte UTF-8 sequences.
* **Release characters.** ``?+ ?: ?' ??`` (and ``?*`` when ``*`` separates repetitions) stand for
  the character itself. Before splitting, each escape pair is parked as the Unicode
  *noncharacter* U+FDD0 (which interchanged text may never contain: one found in the input is an
  invalid character) plus a letter naming the character, so the split itself stays plain
  ``str.split``; :func:`unescape` turns them back once a value has been cut out, and only values
  that contain U+FDD0 pay for it. A release character left over after parking is followed by
  something it may not release: 0085 code 22.
* **Layout.** Segments may be separated by CR, LF, CRLF or indentation, or all sit on one line;
  whitespace before a segment tag is dropped. A missing final terminator is tolerated.

The tokenizer never raises: a segment that is wrong in itself (bad tag, stray release character,
invalid character) is recorded as a :class:`SegmentFault`; the envelope reader decides whose
problem it is (a message's, or the interchange's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from wharf.errors import MalformedDocument

__all__ = (
    "LEVEL_A",
    "LEVEL_A_V4",
    "LEVEL_B",
    "PARK",
    "SegmentFault",
    "ServiceChars",
    "Tokens",
    "read_body",
    "unescape",
)


@dataclass(frozen=True, slots=True)
class ServiceChars:
    """The six characters of a UNA service string advice."""

    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: str = "?"
    repetition: str = " "
    """A space means "no repetition separator" (syntax 3)."""
    terminator: str = "'"

    @property
    def una(self) -> str:
        return (
            f"UNA{self.component}{self.element}{self.decimal}"
            f"{self.release}{self.repetition}{self.terminator}"
        )


LEVEL_A = ServiceChars()
LEVEL_A_V4 = ServiceChars(repetition="*")
LEVEL_B = ServiceChars(component="\x1f", element="\x1d", release=" ", terminator="\x1c")

# An escaped service character is parked as a noncharacter marker and a letter naming it, so that
# a single substring test tells whether a value needs restoring.
PARK = "\ufdd0"
_PARKED = (
    (PARK + "R", "release"),
    (PARK + "T", "terminator"),
    (PARK + "E", "element"),
    (PARK + "C", "component"),
    (PARK + "P", "repetition"),
)
_NONCHARACTERS = re.compile("[\ufdd0-\ufdef]")
_NOT_ASCII = re.compile("[^\x00-\x7f]")
# Undecodable bytes (surrogateescape) and noncharacters from the input (rewritten to U+DCFF so
# that they cannot be confused with parked escapes) are both lone surrogates in the text.
_UNDECODABLE = re.compile("[\udc80-\udcff]")

_CHARSETS: dict[str, str] = {
    "UNOA": "ascii",
    "UNOB": "ascii",
    "UNOC": "latin-1",
    "UNOD": "iso8859-2",
    "UNOE": "iso8859-5",
    "UNOF": "iso8859-7",
    "UNOG": "iso8859-3",
    "UNOH": "iso8859-4",
    "UNOI": "iso8859-6",
    "UNOJ": "iso8859-8",
    "UNOK": "iso8859-9",
    "UNOW": "utf-8",
    "UNOY": "utf-8",
}


def unescape(value: str, sc: ServiceChars) -> str:
    """Turn parked escapes back into the characters they stand for."""
    for parked, name in _PARKED:
        if parked in value:
            value = value.replace(parked, getattr(sc, name))
    return value


@dataclass(frozen=True, slots=True)
class SegmentFault:
    """Something wrong with one segment as such, found while tokenizing."""

    element: int | None
    code: str
    detail: str


@dataclass(slots=True)
class Tokens:
    """The segments of a body: each a list of raw elements, the tag first."""

    service: ServiceChars
    syntax: str
    """UNB S001 syntax identifier as sniffed from the bytes (``UNOC``), or ``""``."""
    segments: list[list[str]]
    escaped: bool
    """True when escapes were parked: values must go through :func:`unescape`."""
    faults: dict[int, SegmentFault] = field(default_factory=dict)


def _service_chars(head: bytes) -> tuple[ServiceChars, bytes]:
    """Read UNA if present; otherwise pick the defaults the UNB/UNH that follows implies."""
    if head.startswith(b"UNA"):
        advice = head[3:9]
        if len(advice) < 6 or not advice.isascii():
            raise MalformedDocument(
                "UNA service string advice needs six ASCII characters",
                pointer="/interchange/una",
                segment_id="UNA",
                code="20",
            )
        text = advice.decode("ascii")
        comp, elem, dec, rel, rep, term = text[0], text[1], text[2], text[3], text[4], text[5]
        sc = ServiceChars(comp, elem, dec, rel, rep, term)
        separators = [c for c in (comp, elem, rel, rep, term) if c != " "]
        if (
            len(set(separators)) != len(separators)
            or dec not in ".,"
            or dec in separators
            or any(c.isalnum() for c in separators)
        ):
            raise MalformedDocument(
                f"UNA service string advice {advice.decode('ascii')!r} is not usable: "
                "separators must be distinct, not letters or digits, and the decimal mark "
                "'.' or ','",
                pointer="/interchange/una",
                segment_id="UNA",
                code="20",
            )
        return sc, head[9:]
    if head[3:4] == b"\x1d":
        return LEVEL_B, head
    syntax = _syntax_id(head, LEVEL_A)
    if syntax[1] == "4":
        return LEVEL_A_V4, head
    return LEVEL_A, head


def _syntax_id(body: bytes, sc: ServiceChars) -> tuple[str, str]:
    """UNB S001 (identifier, version) straight from the bytes, before decoding."""
    start = body.find(b"UNB" + sc.element.encode("latin-1"))
    if start < 0:
        return "", ""
    s001 = body[start + 4 : start + 40].split(sc.element.encode("latin-1"), 1)[0]
    ident, _, rest = s001.partition(sc.component.encode("latin-1"))
    version = rest.split(sc.component.encode("latin-1"), 1)[0]
    return ident.decode("latin-1"), version.decode("latin-1")


def _decode(body: bytes, syntax: str) -> tuple[str, re.Pattern[str] | None]:
    """The text and, when some characters may be invalid, the pattern that finds them."""
    if body.isascii():
        return body.decode("ascii"), None
    charset = _CHARSETS.get(syntax)
    if charset == "ascii":
        return body.decode("latin-1"), _NOT_ASCII
    if charset is None or charset == "latin-1":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body.decode("latin-1"), None
        invalid = None
    else:
        try:
            text = body.decode(charset)
            invalid = None
        except UnicodeDecodeError:
            text = body.decode(charset, errors="surrogateescape")
            invalid = _UNDECODABLE
    if _NONCHARACTERS.search(text):
        text = _NONCHARACTERS.sub("\udcff", text)
        invalid = _UNDECODABLE
    return text, invalid


def _first_element(elements: list[str], needle: str | re.Pattern[str]) -> int:
    for index, element in enumerate(elements):
        if (needle in element) if isinstance(needle, str) else needle.search(element):
            return index
    return 0


def read_body(body: bytes) -> Tokens:
    """Split a body into segments; raises MalformedDocument only for an unusable UNA."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    head = body.lstrip()
    sc, rest = _service_chars(head)
    syntax = _syntax_id(rest, sc)[0]
    text, invalid = _decode(rest, syntax)

    release = sc.release
    escaped = stray = False
    if release != " " and release in text:
        # "??" first: scanning left to right, a doubled release character is one escape.
        for parked, name in _PARKED:
            char = getattr(sc, name)
            if name != "repetition" or char != " ":
                text = text.replace(release + char, parked)
        escaped = True
        stray = release in text

    segments: list[list[str]] = []
    faults: dict[int, SegmentFault] = {}
    element_sep = sc.element
    good_tags: set[str] = set()
    for raw in text.split(sc.terminator):
        raw = raw.lstrip()
        if not raw or raw[:3] == "UNA":  # a later interchange's UNA: same advice assumed
            continue
        elements = raw.split(element_sep)
        tag = elements[0]
        if tag in good_tags and not stray and invalid is None:
            segments.append(elements)
            continue
        if len(tag) == 3 and tag.isascii() and tag.isalnum() and tag.upper() == tag:
            good_tags.add(tag)
        else:
            faults[len(segments)] = SegmentFault(
                None, "12", f"{tag[:10]!r} is not a segment tag (three letters or digits)"
            )
            segments.append(elements)
            continue
        if stray and release in raw:
            index = _first_element(elements, release)
            after = elements[index].split(release, 1)[1][:1]
            faults[len(segments)] = SegmentFault(
                index or None,
                "22",
                f"release character {release!r} is followed by "
                + (f"{after!r}, which is not a service character" if after else "nothing"),
            )
        elif invalid is not None and invalid.search(raw):
            index = _first_element(elements, invalid)
            bad = invalid.search(elements[index])
            char = bad.group() if bad else "?"
            what = (
                "an undecodable byte or a Unicode noncharacter"
                if "\udc80" <= char <= "\udcff"
                else f"character {char!r} (U+{ord(char):04X})"
            )
            faults[len(segments)] = SegmentFault(
                index or None, "21", f"{what} is not valid in syntax {syntax or '?'}"
            )
        segments.append(elements)
    return Tokens(sc, syntax, segments, escaped, faults)
