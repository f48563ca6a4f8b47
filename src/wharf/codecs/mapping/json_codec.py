"""A supplier's own JSON dialect, read through its mapping."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from wharf.codecs.base import Decoded, Part
from wharf.codecs.mapping.build import decode_mapped
from wharf.codecs.mapping.sources import JsonScope
from wharf.errors import DocumentError, MalformedDocument

if TYPE_CHECKING:
    from wharf.codecs.mapping.plan import Mapping
    from wharf.model import DocType
    from wharf.policies.model import Format

__all__ = ("MappedJsonCodec",)

# Numbers become Decimal straight from their text: a supplier's 12.10 must not pass a float.
_DECODER = msgspec.json.Decoder(float_hook=Decimal)


class MappedJsonCodec:
    """Decodes a supplier's JSON with a mapping; one part per document in the body.

    Errors point into the supplier's JSON (``/items/3/qty``) whenever the canonical field
    came from one of their fields.
    """

    def __init__(self, mapping: Mapping) -> None:
        if mapping.input != "json":
            raise ValueError(f"mapping {mapping.name} reads {mapping.input}, not json")
        self.mapping = mapping

    @property
    def format(self) -> Format:
        return "json"

    def decode(self, body: bytes, *, doc_type: DocType | None = None) -> Decoded:
        self.mapping.check_doc_type(doc_type)
        try:
            data = _DECODER.decode(body)
        except msgspec.DecodeError as exc:
            raise MalformedDocument(f"not valid JSON: {exc}", pointer="") from None
        documents = self._documents(data)
        several = self.mapping.documents is not None
        parts: list[Part] = []
        for value, pointer in documents:
            where = pointer or "/"
            try:
                document = decode_mapped(
                    self.mapping, JsonScope(value, pointer), origin=pointer, position=where
                )
            except DocumentError as exc:
                parts.append(Part(where, error=exc))
                continue
            label = f"{where} (document {document.document_id})" if several else where
            parts.append(Part(label, document=document))
        return Decoded(parts)

    def _documents(self, data: object) -> list[tuple[object, str]]:
        ref = self.mapping.documents
        if ref is None:
            return [(data, "")]
        array = ref.without_last_each()
        scope = JsonScope(data, "")
        found = scope.read(array)
        where = scope.pointer(array)
        if not isinstance(found, list):
            raise DocumentError(f"expected an array of documents at {ref.text}", pointer=where)
        if not found:
            raise DocumentError(f"no documents: {ref.text} is empty", pointer=where)
        return [(value, f"{where}/{index}") for index, value in enumerate(found)]
