"""Canonical JSON: the partner-facing JSON format is the canonical model itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from wharf.codecs.base import Decoded, Part
from wharf.errors import DocumentError, MalformedDocument
from wharf.model import DocType, decode_document
from wharf.pointers import locate

if TYPE_CHECKING:
    from wharf.policies.model import Format

__all__ = ("CanonicalJsonCodec",)


class CanonicalJsonCodec:
    """Decodes one canonical JSON document; errors carry a JSON pointer."""

    @property
    def format(self) -> Format:
        return "json"

    def decode(self, body: bytes, *, doc_type: DocType | None = None) -> Decoded:
        body = body.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 BOM some tools write
        try:
            return Decoded([Part("document", document=decode_document(body, doc_type=doc_type))])
        except msgspec.ValidationError as exc:
            where = locate(exc)
            raise DocumentError(where.message, pointer=where.pointer) from exc
        except msgspec.DecodeError as exc:
            raise MalformedDocument(f"not valid JSON: {exc}", pointer="") from exc
