"""The codec seam and the registry that picks a codec for a request body."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wharf.errors import UnsupportedMediaType

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from wharf.codecs.base import Codec
    from wharf.policies.model import Format

__all__ = ("MEDIA_TYPES", "CodecRegistry", "default_registry")

MEDIA_TYPES: Mapping[str, Format | None] = {
    "application/json": "json",
    "application/edi-x12": "x12",
    "application/edifact": "edifact",
    "application/xml": None,  # cXML or UBL: told apart by sniffing
    "text/xml": None,
    "text/csv": "csv",
}


def _sniff(body: bytes) -> Format | None:
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:512]
    if head.startswith((b"{", b"[")):
        return "json"
    if head.startswith(b"ISA"):
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

    return CodecRegistry(
        [CanonicalJsonCodec(), CsvCodec(), CxmlCodec(), UblCodec(), EdifactCodec()]
    )
