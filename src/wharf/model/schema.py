"""JSON Schema (2020-12) for the canonical documents, generated from the Structs.

The schema is derived, never hand-written, so it cannot drift from the model. One adjustment is
made after generation: msgspec describes ``Decimal`` as ``{"type": "string", "format":
"decimal"}``, but the decoder also accepts JSON numbers (parsed exactly), so decimal nodes are
widened to ``"type": ["string", "number"]``. Output is deterministic: same input, same bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from wharf.model.documents import DOC_TYPES, DOCUMENT_CLASSES, DocType, Document

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("SCHEMA_ID", "json_schema", "schema_components")

SCHEMA_ID = "urn:wharf:canonical:v1"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_DECIMAL = {"type": "string", "format": "decimal"}


def json_schema(doc_type: DocType | None = None) -> dict[str, object]:
    """The JSON Schema of one document type, or of the whole ``Document`` union when ``None``."""
    if doc_type is None:
        generated = msgspec.json.schema(Document)
        schema_id, title = SCHEMA_ID, "Wharf canonical document v1"
    else:
        generated = msgspec.json.schema(DOCUMENT_CLASSES[doc_type])
        schema_id, title = f"{SCHEMA_ID}:{doc_type}", f"Wharf canonical {doc_type} v1"
    header: dict[str, object] = {"$schema": _DIALECT, "$id": schema_id, "title": title}
    return header | _widen_decimals(generated)


def schema_components(
    ref_template: str = "#/components/schemas/{name}",
) -> tuple[dict[DocType, dict[str, object]], dict[str, object]]:
    """Per-type reference schemas and the shared components, e.g. for an OpenAPI document."""
    classes: Sequence[type[Document]] = [DOCUMENT_CLASSES[tag] for tag in DOC_TYPES]
    schemas, components = msgspec.json.schema_components(classes, ref_template=ref_template)
    by_type = {tag: _widen_decimals(s) for tag, s in zip(DOC_TYPES, schemas, strict=True)}
    return by_type, _widen_decimals(components)


def _widen_decimals(node: dict[str, Any]) -> dict[str, object]:
    return {key: _widen(value) for key, value in node.items()}


def _widen(value: object) -> object:
    # msgspec's schema is plain JSON data (dicts, lists, scalars), hence the ``Any`` above.
    if isinstance(value, dict):
        if value == _DECIMAL:
            return {"type": ["string", "number"], "format": "decimal"}
        return {key: _widen(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_widen(item) for item in value]
    return value
