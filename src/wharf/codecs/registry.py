"""The codec seam and the registry that picks a codec for a request body."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from wharf.errors import DocumentError, UnsupportedMediaType, WharfError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from wharf.codecs.base import Codec
    from wharf.policies.model import Format, Partner

__all__ = ("MEDIA_TYPES", "CodecRegistry", "MappingUnavailable", "PartnerCodecs", "default_registry")

log = logging.getLogger(__name__)

MEDIA_TYPES: Mapping[str, Format | None] = {
    "application/json": "json",
    "application/edi-x12": "x12",
    "application/edifact": "edifact",
    "application/xml": None,  # cXML or UBL: told apart by sniffing
    "text/xml": None,
    "text/csv": "csv",
}


def _bare_x12(head: bytes) -> bool:
    """A transaction set without an envelope: ``ST`` then the element separator, whatever
    character the sender chose (``*``, ``|``, ``^``...)."""
    return len(head) > 3 and head.startswith(b"ST") and not chr(head[2]).isalnum() \
        and head[3:6].isdigit()


def _ebcdic_x12(body: bytes) -> bool:
    """``ISA`` or ``ST`` in EBCDIC (code page 037/500), after any EBCDIC blanks (0x40)."""
    head = body.lstrip(b"\x40\x25\x15\x0d")[:3]
    return head == b"\xc9\xe2\xc1" or head[:2] == b"\xe2\xe3"


def _sniff(body: bytes) -> Format | None:
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:512]
    if head.startswith((b"{", b"[")):
        return "json"
    if head.startswith(b"ISA") or _bare_x12(head) or _ebcdic_x12(body):
        return "x12"
    if head.startswith((b"UNA", b"UNB", b"UNH")):
        return "edifact"
    from wharf.codecs.csv_flat import sniff_csv
    from wharf.codecs.xml import sniff_xml_format

    if xml := sniff_xml_format(body):
        return xml

    if sniff_csv(body):
        return "csv"
    return None


class CodecRegistry:
    """Formats Wharf can read, by name; built once by the composition root."""

    def __init__(self, codecs: Iterable[Codec]) -> None:
        self._codecs = {codec.format: codec for codec in codecs}

    def __contains__(self, fmt: object) -> bool:
        return fmt in self._codecs

    def get(self, fmt: str) -> Codec:
        codec: Codec | None = self._codecs.get(fmt)  # type: ignore[call-overload]
        if codec is None:
            raise UnsupportedMediaType(f"format {fmt!r} is not supported yet")
        return codec

    def detect(self, content_type: str | None, body: bytes) -> Format:
        """The body's format: from Content-Type, else (or for generic XML) sniffed."""
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if media.endswith("+json"):
            media = "application/json"
        if media and media not in MEDIA_TYPES:
            raise UnsupportedMediaType(
                f"media type {media!r} is not accepted; use one of {', '.join(MEDIA_TYPES)}"
            )
        fmt = MEDIA_TYPES.get(media) or _sniff(body)
        if fmt is None:
            raise UnsupportedMediaType("cannot tell the document's format; send a Content-Type")
        if fmt not in self._codecs:
            raise UnsupportedMediaType(f"format {fmt!r} is not supported yet")
        return fmt


def default_registry() -> CodecRegistry:
    """Every codec Wharf ships."""
    from wharf.codecs.canonical_json import CanonicalJsonCodec
    from wharf.codecs.csv_flat import CsvCodec
    from wharf.codecs.cxml import CxmlCodec
    from wharf.codecs.edifact import EdifactCodec
    from wharf.codecs.ubl import UblCodec
    from wharf.codecs.x12 import X12Codec

    return CodecRegistry(
        [CanonicalJsonCodec(), CsvCodec(), CxmlCodec(), UblCodec(), EdifactCodec(), X12Codec()]
    )


class PartnerCodecs:
    """The codec for one partner's body: its declarative mapping or X12 overrides, if any.

    A partner whose policy names a ``mapping`` sends its own JSON or CSV dialect; one with
    ``x12_overrides`` gets an X12 reader that looks for identifiers where that supplier puts
    them. Built codecs are cached by what they are built from (the mapping file's path and
    modification time, the overrides), so a policy or mapping change takes effect at once.
    """

    def __init__(self, registry: CodecRegistry, policies_dir: str | Path) -> None:
        self._registry = registry
        self._dir = Path(policies_dir)
        self._cache: dict[tuple[object, ...], Codec] = {}
        self._last_good: dict[str, Codec] = {}

    def get(self, partner: Partner, fmt: Format) -> Codec:
        if partner.mapping is not None and fmt in ("json", "csv"):
            codec = self._mapping(partner.mapping)
            if codec.format == fmt:
                return codec
        if partner.x12_overrides and fmt == "x12":
            key = ("x12", tuple(sorted(partner.x12_overrides.items())))
            if key not in self._cache:
                from wharf.codecs.x12 import X12Codec

                self._cache[key] = X12Codec(overrides=partner.x12_overrides)
            return self._cache[key]
        return self._registry.get(fmt)


    def _mapping(self, name: str) -> Codec:
        """The mapping's codec; while the file is broken or gone, the last good one stays in
        force (as for the policy itself: a bad change never takes effect)."""
        path = self._dir / name
        try:
            key: tuple[object, ...] = ("mapping", str(path), path.stat().st_mtime_ns)
            if key not in self._cache:
                self._cache[key] = _mapped_codec(path)
        except (OSError, WharfError) as exc:
            if name in self._last_good:
                log.error("mapping %s cannot be read (%s); the last good one stays", path, exc)
                return self._last_good[name]
            raise MappingUnavailable(f"the mapping for this partner cannot be read: {exc}") from exc
        self._last_good[name] = self._cache[key]
        return self._cache[key]


class MappingUnavailable(DocumentError):
    """Raised when a partner's mapping file cannot be read and no good version is known."""

    status = 503
    title = "Mapping unavailable"


def _mapped_codec(path: Path) -> Codec:
    from wharf.codecs.csv_flat import CsvCodec
    from wharf.codecs.mapping import MappedJsonCodec, load_mapping

    mapping = load_mapping(path)
    return CsvCodec(mapping) if mapping.spec.input == "csv" else MappedJsonCodec(mapping)
