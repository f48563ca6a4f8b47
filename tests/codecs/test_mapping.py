"""Declarative supplier mappings: loading and its errors, rules, JSON dialects, the test command."""

from __future__ import annotations

import io
import json
import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from wharf.codecs.mapping import MappedJsonCodec, Mapping, parse_mapping, run_mapping_test
from wharf.codecs.mapping.loader import load_mapping
from wharf.errors import DocumentError, MalformedDocument, PolicyError
from wharf.model import InventoryAdvice, POAcknowledgment, ShipNotice

if TYPE_CHECKING:
    from wharf.codecs.base import Codec, Decoded

ROOT = Path(__file__).parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "mapping"
EXAMPLES = ROOT / "examples" / "mappings"

ACK = """
doc_type = "acknowledgment"
input = "json"

[tables.status]
OK = "accepted"
BO = "backordered"

[fields]
document_id = "ackNo"
po_number = "po"
status = { const = "accepted" }
"supplier.id" = { const = "acme" }
"lines[].line_number" = "items[].line"
"lines[].status" = { lookup = "status", source = "items[].status" }
"lines[].item.supplier_part" = "items[].part"
"lines[].quantity.value" = "items[].qty"
"lines[].quantity.uom" = { source = "items[].unit", default = "EA" }
"""


def load(text: str, **kwargs: object) -> Mapping:
    return parse_mapping(textwrap.dedent(text), file="m.toml", **kwargs)  # type: ignore[arg-type]


def decode_json(mapping: Mapping, value: object) -> Decoded:
    return MappedJsonCodec(mapping).decode(json.dumps(value).encode())


def only_error(decoded: Decoded) -> DocumentError:
    assert len(decoded.parts) == 1
    error = decoded.parts[0].error
    assert error is not None, decoded.parts[0].document
    return error


def ack_body(**line: object) -> dict[str, object]:
    item = {"line": 1, "status": "OK", "part": "P-1", "qty": 5} | line
    return {"ackNo": "A-1", "po": "PO-1", "items": [item]}


# --- loading and its errors -----------------------------------------------------------------


def test_a_mapping_maps_a_supplier_json_to_canonical() -> None:
    body = json.dumps(ack_body(qty="QTY")).replace('"QTY"', "12.50").encode()
    doc = MappedJsonCodec(load(ACK)).decode(body).documents[0]
    assert isinstance(doc, POAcknowledgment)
    assert doc.document_id == "A-1"
    line = doc.lines[0]
    assert line.status == "accepted"
    assert line.quantity is not None
    assert line.quantity.value == Decimal("12.50")  # exact, never a float
    assert str(line.quantity.value) == "12.50"
    assert line.quantity.uom == "EA"
    assert doc.source is not None
    assert (doc.source.format, doc.source.version, doc.source.position) == ("json", "mapping", "/")


@pytest.mark.parametrize(
    ("text", "path", "fragment"),
    [
        ('colour = "red"', "colour", "unknown field `colour`"),
        (
            '[fields]\n"lines[].quantity.valu" = "q"',
            'fields."lines[].quantity.valu"',
            "no field 'valu'",
        ),
        (
            '[fields]\n"lines.quantity.value" = "q"',
            'fields."lines.quantity.value"',
            "write lines[]",
        ),
        ('[fields]\n"supplier" = "s"', "fields.supplier", "is an object"),
        ('[fields]\n"po_number[]" = "s"', 'fields."po_number[]"', "not a list"),
        (
            '[fields]\ndocument_id = { sorce = "x" }',
            'fields."document_id.sorce"',
            "it has no field 'sorce' (a rule is",
        ),
        (
            '[fields]\ndocument_id = { source = "x", optionel = true }',
            "fields.document_id.optionel",
            "unknown field `optionel`",
        ),
        (
            '[fields]\ndocument_id = { source = "x", const = "y" }',
            "fields.document_id",
            "exactly one of",
        ),
        ('[fields]\ndocument_id = { expr = "upper(x" }', "fields.document_id.expr", "expected ')'"),
        (
            '[fields]\ndocument_id = { expr = "frob(x)" }',
            "fields.document_id.expr",
            "unknown function 'frob'",
        ),
        (
            "[fields]\ndocument_id = { expr = \"lookup('nope', x)\" }",
            "fields.document_id.expr",
            "no table 'nope'",
        ),
        (
            '[fields]\ndocument_id = { lookup = "nope", source = "x" }',
            "fields.document_id.lookup",
            "no table 'nope'",
        ),
        ('[fields]\nissue_date = { const = "soon" }', "fields.issue_date.const", "not a date"),
        (
            '[fields]\n"lines[].quantity.value" = { source = "items[].q", default = "many" }',
            'fields."lines[].quantity.value".default',
            "not a decimal",
        ),
        ("[tables.uom]\nEACH = 1", "tables.uom.EACH", "must be a string"),
        ('[csv]\ndecimal_comma = true\nthousands = ","', "csv", "cannot be ','"),
        ('[arrays]\n"orders" = "x[]"', "arrays.orders", "not a list that [fields] maps"),
        ('extends = "no_such_template"', "extends", "unknown template"),
    ],
)
def test_mapping_errors_name_the_file_the_line_and_the_key(
    text: str, path: str, fragment: str
) -> None:
    base = 'doc_type = "acknowledgment"\ninput = "json"\n'
    if "[fields]" not in text:
        text += '\n[fields]\ndocument_id = "id"'
    with pytest.raises(PolicyError) as caught:
        load(base + text)
    error = caught.value
    assert error.path == path
    assert fragment in error.detail
    if path != "csv":
        # The line of the offending key (lines counted from 1; the base takes two).
        key = path.split(".")[-1].strip('"')
        line = next(n for n, t in enumerate((base + text).splitlines(), 1) if key in t)
        assert error.file == f"m.toml:{line}", error
    assert str(error).startswith(error.file)


def test_toml_syntax_errors_carry_the_position() -> None:
    with pytest.raises(PolicyError, match=r"m\.toml: .*line 2"):
        load('doc_type = "acknowledgment"\ninput = = "json"\n')


def test_json_lists_must_be_fed_by_one_supplier_array() -> None:
    base = 'doc_type = "inventory_advice"\ninput = "json"\n[fields]\ndocument_id = "id"\n'
    with pytest.raises(PolicyError, match="fed by both items\\[\\] .* and parts\\[\\]"):
        load(base + '"lines[].quantity.value" = "items[].q"\n"lines[].quantity.uom" = "parts[].u"')
    with pytest.raises(PolicyError, match="no rule under lines\\[\\] reads a supplier array"):
        load(base + '"lines[].quantity.uom" = { const = "EA" }')
    with pytest.raises(PolicyError, match="is a single value there") as caught:
        load(base + 'notes = "items[].text"')
    assert caught.value.path == "fields.notes"
    with pytest.raises(PolicyError, match="walks orders\\[\\].x\\[\\], but the enclosing"):
        load(
            'doc_type = "ship_notice"\ninput = "json"\n'
            '[arrays]\n"orders[].items" = "orders[].lines[]"\n'
            '[fields]\ndocument_id = "id"\n'
            '"orders[].po_number" = "orders[].po"\n'
            '"orders[].items[].quantity.value" = "orders[].lines[].q"\n'
            '"orders[].items[].quantity.uom" = "orders[].x[].u"\n'
        )


def test_csv_column_names_have_no_brackets_in_expressions() -> None:
    with pytest.raises(PolicyError, match="CSV columns have no"):
        load(
            'doc_type = "inventory_advice"\ninput = "csv"\n[fields]\ndocument_id = { expr = "a[]" }'
        )


def test_extends_merges_a_template_rule_by_rule(tmp_path: Path) -> None:
    base = tmp_path / "base.toml"
    base.write_text(
        textwrap.dedent(
            """
            doc_type = "inventory_advice"
            input = "csv"
            [tables.uom]
            EACH = "EA"
            [fields]
            document_id = { const = "INV" }
            as_of = { const = 2025-03-10T06:00:00Z }
            "supplier.id" = { const = "acme" }
            "lines[].item.sku" = "sku"
            "lines[].quantity.value" = "qty"
            "lines[].quantity.uom" = { lookup = "uom", source = "unit" }
            """
        )
    )
    child = tmp_path / "child.toml"
    child.write_text(
        textwrap.dedent(
            """
            extends = "base.toml"
            [tables.uom]
            CASE = "CS"
            [fields."lines[]"]
            "item.sku" = { expr = "upper(article)" }
            """
        )
    )
    mapping = load_mapping(child)
    assert mapping.name == "child"
    body = b"article,qty,unit\nab-1,2,EACH\nab-2,3,CASE\n"
    from wharf.codecs.csv_flat import CsvCodec

    doc = CsvCodec(mapping).decode(body).documents[0]
    assert isinstance(doc, InventoryAdvice)
    assert [(line.item.sku, line.quantity.uom) for line in doc.lines] == [
        ("AB-1", "EA"),
        ("AB-2", "CS"),
    ]
    loop = tmp_path / "loop.toml"
    loop.write_text('extends = "loop.toml"\n')
    with pytest.raises(PolicyError, match="extends itself"):
        load_mapping(loop)
    with pytest.raises(PolicyError, match="cannot read"):
        load_mapping(tmp_path / "missing.toml")


# --- rules ----------------------------------------------------------------------------------


def test_unknown_codes_are_pointed_errors_unless_a_default_is_given() -> None:
    error = only_error(decode_json(load(ACK), ack_body(status="XX")))
    assert error.pointer == "/items/0/status"
    assert "code 'XX' is not in table 'status'" in error.detail
    assert "lines[0].status" in error.detail
    lenient = load(
        ACK.replace(
            'source = "items[].status" }', 'source = "items[].status", default = "accepted" }'
        )
    )
    doc = decode_json(lenient, ack_body(status="XX")).documents[0]
    assert isinstance(doc, POAcknowledgment)
    assert doc.lines[0].status == "accepted"


def test_validation_errors_point_into_the_suppliers_json() -> None:
    error = only_error(decode_json(load(ACK), ack_body(qty=-3)))
    assert error.pointer == "/items/0/qty"
    assert "canonical field lines[0].quantity" in error.detail
    error = only_error(decode_json(load(ACK), ack_body(unit="EACH")))
    assert error.pointer == "/items/0/unit"
    error = only_error(decode_json(load(ACK), ack_body(qty="lots")))
    assert error.pointer == "/items/0/qty"
    assert "'lots' is not a number" in error.detail
    # A field that came from no source: the canonical pointer.
    error = only_error(decode_json(load(ACK), {"po": "PO-1", "items": []}))
    assert error.pointer == "/ackNo"  # the missing source field


def test_a_value_of_the_wrong_shape_is_pointed() -> None:
    error = only_error(decode_json(load(ACK), {"ackNo": {"x": 1}, "po": "P", "items": []}))
    assert error.pointer == "/ackNo"
    assert "expected a value, got an object" in error.detail
    error = only_error(decode_json(load(ACK), {"ackNo": "A", "po": "P", "items": {"a": 1}}))
    assert error.pointer == "/items"
    assert "should be an array" in error.detail


def test_optional_objects_without_supplier_values_are_left_out() -> None:
    # Line 2 has no qty: its quantity would only hold the default uom, so there is none.
    doc = decode_json(
        load(ACK), ack_body() | {"items": [{"line": 2, "status": "BO", "part": "P"}]}
    ).documents[0]
    assert isinstance(doc, POAcknowledgment)
    assert doc.lines[0].quantity is None


def test_expressions() -> None:
    mapping = load(
        """
        doc_type = "inventory_advice"
        input = "json"
        date_format = "%m/%d/%Y"
        [tables.loc]
        A = "MEM-1"
        [fields]
        document_id = { expr = "'INV-' & upper(trim(`the id`)) & '-' & (n + 1)" }
        issue_date = "when"
        as_of = { expr = 'datetime(stamp, "%Y%m%d%H%M")' }
        "supplier.id" = { expr = "coalesce(vendor, fallback, 'nobody')" }
        notes = { expr = "replace(note, '_', ' ')" }
        "lines[].item.sku" = { expr = "concat(items[].a, '/', items[].b)" }
        "lines[].quantity.value" = { expr = "round(items[].dozen * 12 - -1 / 4, 1)" }
        "lines[].quantity.uom" = { const = "EA" }
        "lines[].location" = { expr = "lookup('loc', items[].loc)" }
        "lines[].available_date" = { expr = "date(items[].avail)" }
        """
    )
    body = {
        "the id": " x9 ",
        "n": 41,
        "when": "03/10/2025",
        "stamp": "202503100630",
        "fallback": "acme",
        "note": "call_me",
        "items": [{"a": "A", "b": 7, "dozen": "1.5", "loc": "A", "avail": "2025-04-01"}],
    }
    doc = decode_json(mapping, body).documents[0]
    assert isinstance(doc, InventoryAdvice)
    assert doc.document_id == "INV-X9-42"
    assert doc.issue_date == date(2025, 3, 10)
    assert doc.as_of.isoformat() == "2025-03-10T06:30:00"
    assert doc.supplier.id == "acme"
    assert doc.notes == ("call me",)
    line = doc.lines[0]
    assert line.item.sku == "A/7"
    assert line.quantity.value == Decimal("18.3")  # 18 + 0.25, rounded half up
    assert line.location == "MEM-1"
    assert line.available_date == date(2025, 4, 1)
    bad = decode_json(mapping, body | {"items": [{"a": "A", "dozen": "x"}]})
    assert only_error(bad).pointer == "/items/0/dozen"
    bad = decode_json(mapping, body | {"stamp": "yesterday"})
    assert only_error(bad).pointer == "/stamp"


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("", "empty expression"),
        ("a +", "expected a value"),
        ("'open", "unterminated string"),
        ("`open", "unterminated `name`"),
        ("a $ b", "unexpected '$'"),
        ("upper(a, b)", "upper() takes 1 arguments, got 2"),
        ("date(a, b)", "argument 2 of date() must be a literal"),
        ("round(a, 2.5)", "whole number of places"),
        ("round(a, 'x')", "expected a number"),
        ("a b", "unexpected 'b'"),
        ("items[x]", "use [] for each element"),
    ],
)
def test_expression_syntax_errors(expr: str, fragment: str) -> None:
    text = 'doc_type = "inventory_advice"\ninput = "json"\n[fields]\n'
    text += f'document_id = {{ expr = "{expr}" }}'
    with pytest.raises(PolicyError) as caught:
        load(text)
    assert fragment in caught.value.detail


def test_division_by_zero_is_pointed() -> None:
    mapping = load(
        'doc_type = "inventory_advice"\ninput = "json"\n[fields]\ndocument_id = { expr = "a / b" }'
    )
    assert only_error(decode_json(mapping, {"a": 1, "b": 0})).pointer == "/b"


# --- the JSON codec -------------------------------------------------------------------------


def test_several_documents_in_one_body_each_have_their_fate() -> None:
    codec: Codec = MappedJsonCodec(load_mapping(FIXTURES / "multi-asn.toml"))
    decoded = codec.decode((FIXTURES / "multi-asn.json").read_bytes())
    assert [p.where for p in decoded.parts] == [
        "/shipments/0 (document ASN-88001)",
        "/shipments/1",
        "/shipments/2 (document ASN-88003)",
    ]
    first = decoded.documents[0]
    assert isinstance(first, ShipNotice)
    assert [len(pack.items) for pack in first.orders[0].packs] == [2, 1]
    assert first.orders[0].packs[0].items[1].quantity.value == Decimal("2.5")
    [error] = decoded.errors
    assert error.pointer == "/shipments/1/orders/0/cartons/0/lines/1/unit"


def test_json_codec_errors() -> None:
    codec = MappedJsonCodec(load_mapping(FIXTURES / "multi-asn.toml"))
    with pytest.raises(MalformedDocument):
        codec.decode(b"{nope")
    with pytest.raises(DocumentError, match="array of documents") as caught:
        codec.decode(b'{"shipments": 3}')
    assert caught.value.pointer == "/shipments"
    with pytest.raises(DocumentError, match="no documents"):
        codec.decode(b'{"shipments": []}')
    with pytest.raises(DocumentError, match="produces ship_notice documents, not invoice"):
        codec.decode(b"{}", doc_type="invoice")
    with pytest.raises(ValueError, match="reads csv"):
        MappedJsonCodec(
            load('doc_type = "inventory_advice"\ninput = "csv"\n[fields]\ndocument_id = "id"')
        )


def test_a_top_level_array_of_documents() -> None:
    mapping = load(ACK.replace('input = "json"', 'input = "json"\n[json]\ndocuments = "[]"'))
    decoded = decode_json(mapping, [ack_body(), ack_body(qty=-1)])
    assert [p.where for p in decoded.parts] == ["/0 (document A-1)", "/1"]
    assert decoded.errors[0].pointer == "/1/items/0/qty"


# --- wharf mapping test, examples and golden files ------------------------------------------


def test_the_mapping_test_command_prints_documents_and_pointed_errors(tmp_path: Path) -> None:
    out = io.StringIO()
    code = run_mapping_test(EXAMPLES / "acme-ack.toml", [EXAMPLES / "acme-ack.json"], out)
    assert code == 0, out.getvalue()
    assert '"document_id": "ACK-77120"' in out.getvalue()
    assert "all samples decoded" in out.getvalue()

    out = io.StringIO()
    samples = [FIXTURES / "multi-asn.json", tmp_path / "absent.json"]
    assert run_mapping_test(FIXTURES / "multi-asn.toml", samples, out) == 1
    text = out.getvalue()
    assert (
        "-- /shipments/1\nerror at /shipments/1/orders/0/cartons/0/lines/1/unit: code 'BAG'" in text
    )
    assert "cannot read" in text

    broken = tmp_path / "broken.toml"
    broken.write_text('doc_type = "nope"\n')
    out = io.StringIO()
    assert run_mapping_test(broken, [FIXTURES / "multi-asn.json"], out) == 1
    assert out.getvalue().startswith(f"mapping error: {broken}:1: doc_type:")


def test_the_mapping_test_command_reports_a_rejected_body(tmp_path: Path) -> None:
    sample = tmp_path / "x.json"
    sample.write_text("not json")
    out = io.StringIO()
    assert run_mapping_test(FIXTURES / "multi-asn.toml", [sample], out) == 1
    assert "error: not valid JSON" in out.getvalue()


def test_mapping_fuzzed_toml_only_raises_policy_errors() -> None:
    text = (EXAMPLES / "acme-ack.toml").read_text()
    for cut in range(0, len(text), 7):
        for mutated in (
            text[:cut],
            text[:cut] + "]" + text[cut + 1 :],
            text[:cut] + text[cut + 9 :],
        ):
            try:
                parse_mapping(mutated)
            except PolicyError:
                pass


def test_documents_decode_with_msgspec_exact_decimals() -> None:
    # The supplier's JSON number text reaches the canonical document untouched.
    mapping = load(ACK)
    body = (
        b'{"ackNo": "A", "po": "P", "items": [{"line": 1, "status": "OK", "part": "X",'
        b' "qty": 0.1000000000000000055511151231257827}]}'
    )
    doc = MappedJsonCodec(mapping).decode(body).documents[0]
    assert isinstance(doc, POAcknowledgment)
    assert doc.lines[0].quantity is not None
    assert str(doc.lines[0].quantity.value) == "0.1000000000000000055511151231257827"
    assert msgspec.json.decode(msgspec.json.encode(doc))["lines"][0]["quantity"]["value"] == (
        "0.1000000000000000055511151231257827"
    )


# --- fuzzing --------------------------------------------------------------------------------

_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["", "BAG", "PCS", "-1", "20250231", "2025-03-10T25:00:00"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_SEED = json.loads((FIXTURES / "multi-asn.json").read_text())
_MULTI = load_mapping(FIXTURES / "multi-asn.toml")


def _replace_somewhere(value: object, data: st.DataObject) -> object:
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value)))
        return value | {key: _replace_somewhere(value[key], data)}
    if isinstance(value, list) and value and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(value) - 1))
        return [*value[:index], _replace_somewhere(value[index], data), *value[index + 1 :]]
    return data.draw(_JSON_VALUES)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_supplier_json_raises_only_document_errors(data: st.DataObject) -> None:
    value: object = _SEED
    for _ in range(data.draw(st.integers(1, 4))):
        value = _replace_somewhere(value, data)
    body = json.dumps(value).encode()
    if data.draw(st.booleans()):
        body = body[: data.draw(st.integers(0, len(body)))]
    try:
        MappedJsonCodec(_MULTI).decode(body)
    except DocumentError:
        pass
