"""Writing segments: escaping, trailing-separator trimming, and the UNA/UNB/UNZ envelope.

Why this module exists: the four message writers and the CONTRL generator build segments the same
way. Values are escaped with the release character, trailing empty elements and components are
dropped (ISO 9735 forbids trailing separators, 0085 code 45), decimals are written with ``.`` and
without exponent, keeping their scale (``12.50``).

Text is written in UNOC (ISO 8859-1) when every character fits, else in UNOY (UTF-8, syntax 4,
whose UNA also advises ``*`` as repetition separator).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wharf.codecs.edifact.syntax import LEVEL_A, LEVEL_A_V4, ServiceChars

if TYPE_CHECKING:
    from decimal import Decimal

__all__ = (
    "Directory",
    "SegmentWriter",
    "fits_latin1",
    "interchange",
    "number",
    "service_for",
    "wrap",
    "write_date",
    "write_note",
)

Element = str | Sequence[str] | None


@dataclass(frozen=True, slots=True)
class Directory:
    """The UN/EDIFACT directory a message is written in (``D96A``, ``D01B``, ``D01B:EAN010``)."""

    release: str
    association: str = ""

    @classmethod
    def parse(cls, version: str | None) -> Directory:
        """From :attr:`Envelope.version`; raises ValueError for a directory Wharf cannot write."""
        name, _, association = (version or "D96A").upper().partition(":")
        if name not in ("D96A", "D01B"):
            raise ValueError(f"EDIFACT directory {version!r} is not supported (D96A or D01B)")
        return cls(release=name[1:], association=association)

    def message_id(self, message_type: str) -> tuple[str, ...]:
        """UNH S009: type, version ``D``, release, agency ``UN``, association code."""
        return (message_type, "D", self.release, "UN", self.association)

    @property
    def gtin_type(self) -> str:
        """7143 code for a GTIN: ``EN`` up to D96A, ``SRV`` (GS1) in D01B."""
        return "SRV" if self.release == "01B" else "EN"


def number(value: Decimal) -> str:
    """A decimal as EDIFACT numeric text: ``.`` as mark, no exponent, scale kept."""
    return format(value, "f")


def wrap(text: str, width: int, count: int) -> list[str]:
    """Cut ``text`` into at most ``count`` components of ``width`` at single spaces.

    Readers join such components with one space, so a cut is made only at a space that has a
    non-space on both sides; the last component takes whatever is left.
    """
    out: list[str] = []
    while len(text) > width and len(out) < count - 1:
        cut = -1
        for index in range(min(width, len(text) - 1), 0, -1):
            if text[index] == " " and text[index - 1] != " " and text[index + 1] != " ":
                cut = index
                break
        if cut < 0:
            break
        out.append(text[:cut])
        text = text[cut + 1 :]
    out.append(text)
    return out


def write_date(w: SegmentWriter, qualifier: str, value: dt.date) -> None:
    """DTM with 102 (CCYYMMDD) for a date, 203/204 for a date and time (naive, or in UTC)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        stamp = (
            f"{value.year:04d}{value.month:02d}{value.day:02d}{value.hour:02d}{value.minute:02d}"
        )
        if value.second:
            w.add("DTM", (qualifier, f"{stamp}{value.second:02d}", "204"))
        else:
            w.add("DTM", (qualifier, stamp, "203"))
    else:
        w.add("DTM", (qualifier, f"{value.year:04d}{value.month:02d}{value.day:02d}", "102"))


def write_note(w: SegmentWriter, subject: str, text: str, code: str | None = None) -> None:
    """FTX with the text in up to five 512-character components (C108)."""
    w.add("FTX", subject, None, (code, "", "ZZZ") if code else None, wrap(text, 512, 5))


class SegmentWriter:
    """Collects escaped segments for one interchange."""

    def __init__(self, service: ServiceChars = LEVEL_A) -> None:
        self.service = service
        specials = [service.release, service.component, service.element, service.terminator]
        if service.repetition != " ":
            specials.append(service.repetition)
        self._escape = str.maketrans({c: service.release + c for c in specials})
        self.segments: list[str] = []

    def _value(self, value: str) -> str:
        return value.translate(self._escape)

    def add(self, tag: str, *elements: Element) -> None:
        """Append one segment; an element is a value, a sequence of components, or None."""
        sc = self.service
        out: list[str] = []
        for element in elements:
            if element is None:
                out.append("")
            elif isinstance(element, str):
                out.append(self._value(element))
            else:
                parts = [self._value(part) for part in element]
                while parts and not parts[-1]:
                    parts.pop()
                out.append(sc.component.join(parts))
        while out and not out[-1]:
            out.pop()
        self.segments.append(sc.element.join([tag, *out]))

    def text(self) -> str:
        term = self.service.terminator
        return "".join(segment + term for segment in self.segments)


def service_for(syntax_version: str) -> ServiceChars:
    """The service characters Wharf writes in a syntax version (``*`` repeats from 4 on)."""
    return LEVEL_A_V4 if syntax_version >= "4" else LEVEL_A


def fits_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def interchange(
    *,
    service: ServiceChars,
    syntax: tuple[str, str],
    sender: Sequence[str],
    recipient: Sequence[str],
    reference: str,
    created: dt.datetime,
    messages: Sequence[str],
    test: bool = False,
) -> bytes:
    """UNA + UNB + the messages (segment text written with ``service``) + UNZ, encoded."""
    w = SegmentWriter(service)
    when = created.astimezone(dt.UTC) if created.tzinfo else created
    day = when.strftime("%Y%m%d" if syntax[1] >= "4" else "%y%m%d")
    w.add(
        "UNB",
        syntax,
        sender,
        recipient,
        (day, when.strftime("%H%M")),
        reference,
        *((None, None, None, None, None, "1") if test else ()),
    )
    w.add("UNZ", str(len(messages)), reference)
    unb, unz = w.segments
    term = service.terminator
    text = service.una + unb + term + "".join(messages) + unz + term
    encoding = "utf-8" if syntax[0] in ("UNOY", "UNOW") else "latin-1"
    # An id echoed from a partner's broken bytes may not fit: it must not stop the reply.
    return text.encode(encoding, errors="replace")
