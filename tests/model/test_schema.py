"""JSON Schema generation: per type and for the union, deterministic, faithful to the Structs."""

from __future__ import annotations

import json
from typing import cast

import msgspec
import pytest

from wharf.model import (
    DOC_TYPES,
    DOCUMENT_CLASSES,
    DocType,
    Document,
    ShipNotice,
    doc_type_of,
    encode_document,
    json_schema,
    schema_components,
)
from wharf.model.schema import SCHEMA_ID

from .test_model import samples

Schema = dict[str, object]

SHIP_NOTICE = {
    "doc_type": "ship_notice",
    "document_id": "ASN-1",
    "supplier": {"id": "ACME", "address": {"lines": ["1 Main St"], "country": "US"}},
    "carrier": {"scac": "ODFL"},
    "orders": [
        {
            "po_number": "PO-1",
            "packs": [
                {
                    "sscc": "006141410000000017",
                    "items": [
                        {
                            "line_number": "1",
                            "item": {"gtin": "00614141000418"},
                            "quantity": {"value": "12.5", "uom": "KGM"},
                        }
                    ],
                }
            ],
        }
    ],
}


def _resolve(schema: Schema, node: Schema) -> Schema:
    ref = node.get("$ref")
    if isinstance(ref, str):
        defs = cast("dict[str, Schema]", schema["$defs"])
        return defs[ref.removeprefix("#/$defs/")]
    return node


def _check_keys(schema: Schema, node: Schema, value: object, path: str) -> None:
    """Walk ``value`` along ``node``: objects have their required keys and no unknown ones."""
    node = _resolve(schema, node)
    if "anyOf" in node:
        options = [_resolve(schema, option) for option in cast("list[Schema]", node["anyOf"])]
        wanted = "object" if isinstance(value, dict) else "array" if isinstance(value, list) else ""
        node = next((option for option in options if option.get("type") == wanted), {})
    if isinstance(value, dict):
        assert node.get("type") == "object", path
        properties = cast("dict[str, Schema]", node["properties"])
        assert set(cast("list[str]", node.get("required", []))) <= value.keys(), path
        assert node["additionalProperties"] is False
        for key, item in value.items():
            assert key in properties, f"{path}.{key}"
            _check_keys(schema, properties[key], item, f"{path}.{key}")
    elif isinstance(value, list):
        assert node.get("type") == "array", path
        for index, item in enumerate(value):
            _check_keys(schema, cast("Schema", node["items"]), item, f"{path}[{index}]")


@pytest.mark.parametrize("doc_type", DOC_TYPES)
def test_schema_per_type(doc_type: DocType) -> None:
    schema = json_schema(doc_type)
    name = DOCUMENT_CLASSES[doc_type].__name__
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{SCHEMA_ID}:{doc_type}"
    assert schema["title"] == f"Wharf canonical {doc_type} v1"
    assert schema["$ref"] == f"#/$defs/{name}"
    definition = cast("dict[str, Schema]", schema["$defs"])[name]
    properties = cast("dict[str, Schema]", definition["properties"])
    assert properties["doc_type"] == {"enum": [doc_type]}
    assert "doc_type" in cast("list[str]", definition["required"])
    assert definition["additionalProperties"] is False


def test_union_schema_discriminates_on_doc_type() -> None:
    schema = json_schema()
    assert schema["$id"] == SCHEMA_ID
    discriminator = cast("dict[str, object]", schema["discriminator"])
    assert discriminator["propertyName"] == "doc_type"
    mapping = cast("dict[str, str]", discriminator["mapping"])
    assert tuple(mapping) == DOC_TYPES
    assert len(cast("list[Schema]", schema["anyOf"])) == len(DOC_TYPES)


def test_schema_is_deterministic() -> None:
    for doc_type in (None, *DOC_TYPES):
        assert json.dumps(json_schema(doc_type)) == json.dumps(json_schema(doc_type))
    first, second = schema_components(), schema_components()
    assert json.dumps(first) == json.dumps(second)


def test_ship_notice_required_matches_struct() -> None:
    definition = cast("dict[str, Schema]", json_schema("ship_notice")["$defs"])["ShipNotice"]
    required_by_struct = [
        field.encode_name for field in msgspec.structs.fields(ShipNotice) if field.required
    ]
    assert required_by_struct == ["document_id", "supplier", "orders"]
    assert definition["required"] == ["doc_type", *required_by_struct]


def test_sample_keys_validate() -> None:
    schema = json_schema("ship_notice")
    _check_keys(schema, schema, SHIP_NOTICE, "$")
    union = json_schema()
    ship_notice_ref = cast("dict[str, dict[str, str]]", union["discriminator"])["mapping"]
    _check_keys(union, {"$ref": ship_notice_ref["ship_notice"]}, SHIP_NOTICE, "$")


def test_unknown_sample_key_is_caught_by_the_walker() -> None:
    schema = json_schema("ship_notice")
    with pytest.raises(AssertionError, match=r"\$\.carrier\.mode"):
        _check_keys(schema, schema, {**SHIP_NOTICE, "carrier": {"mode": "LTL"}}, "$")


@pytest.mark.parametrize("doc", samples(), ids=DOC_TYPES)
def test_every_sample_document_fits_its_schema(doc: Document) -> None:
    schema = json_schema(doc_type_of(doc))
    _check_keys(schema, schema, json.loads(encode_document(doc)), "$")


def test_decimals_accept_string_or_number() -> None:
    defs = cast("dict[str, Schema]", json_schema()["$defs"])
    value = cast("dict[str, Schema]", defs["Quantity"]["properties"])["value"]
    assert value == {"type": ["string", "number"], "format": "decimal"}
    assert '"format": "string"' not in json.dumps(defs)
    assert '"format": "decimal"}' in json.dumps(defs)


def test_schema_components_for_openapi() -> None:
    by_type, components = schema_components()
    assert tuple(by_type) == DOC_TYPES
    assert by_type["invoice"] == {"$ref": "#/components/schemas/Invoice"}
    assert {"ShipNotice", "Quantity", "Money", "SourceRef"} <= components.keys()
