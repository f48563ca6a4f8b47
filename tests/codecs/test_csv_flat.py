"""CSV flat files: dialect quirks, grouping, pointed errors, writers, round trips, fuzzing."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from wharf.codecs.base import Envelope
from wharf.codecs.csv_flat import CsvCodec, sniff_csv, template_mapping
from wharf.codecs.mapping import parse_mapping
from wharf.errors import DocumentError, MalformedDocument
from wharf.model import (
    Carrier,
    CatalogLine,
    InventoryAdvice,
    InventoryLine,
    ItemRef,
    Money,
    Pack,
    Party,
    PriceCatalog,
    Quantity,
    ShipmentOrder,
    ShipNotice,
    ShippedItem,
    doc_type_of,
)

if TYPE_CHECKING:
    from wharf.codecs.base import Codec, Decoded, Writer
    from wharf.codecs.mapping import Mapping
    from wharf.model import Document

FIXTURES = Path(__file__).parent / "fixtures" / "csv"
SAMPLES = Path(__file__).parents[2].parent / "shared" / "samples"
T = TypeVar("T")
ENVELOPE = Envelope(sender_id="WHARF", receiver_id="ACME", control_number=1)

INVENTORY_HEADER = "advice_id,as_of,supplier_id,sku,quantity,uom\n"


def decode(body: bytes | str, mapping: Mapping | None = None, **kwargs: object) -> Decoded:
    data = body.encode() if isinstance(body, str) else body
    return CsvCodec(mapping).decode(data, **kwargs)  # type: ignore[arg-type]


def single(decoded: Decoded) -> Document:
    assert not decoded.errors, [(e.pointer, e.detail) for e in decoded.errors]
    [document] = decoded.documents
    return document


def dialect(text: str) -> Mapping:
    return parse_mapping(textwrap.dedent(text), file="dialect.toml")


# --- reading quirks -------------------------------------------------------------------------


def test_bom_crlf_quoted_commas_and_trailing_blank_lines() -> None:
    decoded = decode((FIXTURES / "inventory_bom_crlf.csv").read_bytes())
    assert [p.where for p in decoded.parts] == [
        "row 1-2 (document INV-20250310)",
        "row 3 (document INV-20250311)",
    ]
    first = decoded.documents[0]
    assert isinstance(first, InventoryAdvice)
    assert first.lines[0].item.description == "Hex bolt, M8 x 50"
    assert first.as_of == datetime(2025, 3, 10, 6, tzinfo=UTC)


def test_lf_quoted_line_breaks_packs_and_loose_items() -> None:
    decoded = decode((FIXTURES / "ship_notice_lf_quoted_newline.csv").read_bytes())
    asn = decoded.documents[0]
    assert isinstance(asn, ShipNotice)
    first, second = asn.orders
    assert [pack.sscc for pack in first.packs] == ["006141410000000017", "006141410000000024"]
    assert first.packs[0].items[0].item.description == "Hex bolt\nM8 x 50"
    assert [item.item.description for item in first.items] == ['said "loose"']
    assert second.po_number == "PO-45002"
    assert not second.packs
    # Row numbers count records, so the quoted line break does not shift them.
    assert decoded.parts[1].where == "row 5 (document ASN-1002)"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_any_line_ending(newline: str) -> None:
    body = INVENTORY_HEADER + "I-1,2025-03-10,acme,S1,5,EA\nI-1,2025-03-10,acme,S2,6,EA\n"
    document = single(decode(body.replace("\n", newline)))
    assert isinstance(document, InventoryAdvice)
    assert [line.item.sku for line in document.lines] == ["S1", "S2"]


def test_latin1_semicolons_and_decimal_commas() -> None:
    mapping = parse_mapping(
        (FIXTURES.parent / "mapping" / "latin1-catalog.toml").read_text(encoding="utf-8")
    )
    catalog = single(decode((FIXTURES / "price_catalog_latin1.csv").read_bytes(), mapping))
    assert isinstance(catalog, PriceCatalog)
    assert [line.unit_price and line.unit_price.amount for line in catalog.lines] == [
        Decimal("1234.50"),
        Decimal("0.085"),
        Decimal("12.00"),
    ]
    assert catalog.lines[2].item.description == 'Kabel "Öko"'
    assert catalog.effective_from == date(2025, 4, 1)


def test_cells_are_trimmed_and_header_names_match_case_insensitively() -> None:
    body = (
        "Advice_ID , AS_OF,Supplier_Id,SKU,Quantity,UOM\n I-1 ,2025-03-10, acme ,\u00a0S1 , 5 ,EA\n"
    )
    document = single(decode(body, template_mapping("inventory_advice")))
    assert isinstance(document, InventoryAdvice)
    assert (document.document_id, document.supplier.id, document.lines[0].item.sku) == (
        "I-1",
        "acme",
        "S1",
    )


def test_without_a_group_column_the_file_is_one_document() -> None:
    flat = dialect(
        """
        doc_type = "inventory_advice"
        input = "csv"
        [fields]
        document_id = { const = "ONE" }
        as_of = { const = 2025-03-10 }
        "supplier.id" = { const = "acme" }
        "lines[].item.sku" = "sku"
        "lines[].quantity.value" = "qty"
        "lines[].quantity.uom" = { const = "EA" }
        """
    )
    decoded = decode("sku,qty\nA,1\nB,2\n", flat)
    assert [p.where for p in decoded.parts] == ["row 1-2 (document ONE)"]
    decoded = decode("sku,qty\nA,1\nB\n", flat)
    assert decoded.errors[0].pointer == "/rows/2"
    with pytest.raises(DocumentError, match="no data rows"):
        decode("sku,qty\n\n", flat)
    # A template's grouping switched off: every row is a line of one document.
    ungrouped = dialect('extends = "inventory_advice_csv"\n[csv]\ngroup_by = ""\n')
    body = INVENTORY_HEADER + "I-1,2025-03-10,acme,S1,5,EA\nI-2,2025-03-10,acme,S2,6,EA\n"
    document = single(decode(body, ungrouped))
    assert isinstance(document, InventoryAdvice)
    assert (document.document_id, len(document.lines)) == ("I-1", 2)


# --- pointed errors -------------------------------------------------------------------------


def test_a_wrong_column_count_fails_only_its_document() -> None:
    decoded = decode((FIXTURES / "ship_notice_wrong_columns_NEG.csv").read_bytes())
    good, bad = decoded.parts
    assert good.document is not None
    assert isinstance(good.document, ShipNotice)
    assert len(good.document.orders[0].items) == 2  # the row with trailing empty fields counts
    assert bad.error is not None
    assert bad.error.pointer == "/rows/2"
    assert "has 6 fields, the header 7" in bad.error.detail


def test_a_missing_required_column_points_at_the_header() -> None:
    with pytest.raises(DocumentError, match="missing required column 'quantity'") as caught:
        decode((FIXTURES / "inventory_missing_column_NEG.csv").read_bytes())
    assert caught.value.pointer == "/rows/0/quantity"


def test_bad_values_point_at_row_and_column() -> None:
    decoded = decode((FIXTURES / "ship_notice_bad_values_NEG.csv").read_bytes())
    assert len(decoded.documents) == 1
    assert [e.pointer for e in decoded.errors] == [
        "/rows/2/quantity",
        "/rows/3/shipped_at",
        "/rows/4/uom",
        "/rows/5/sscc",
        "/rows/6/sku",
        "/rows/7/quantity",
    ]


def test_a_row_without_the_document_key_is_its_own_error() -> None:
    decoded = decode(INVENTORY_HEADER + "I-1,2025-03-10,acme,S1,5,EA\n,2025-03-10,acme,S2,6,EA\n")
    assert decoded.parts[1].where == "row 2"
    assert decoded.errors[0].pointer == "/rows/2/advice_id"


@pytest.mark.parametrize(
    ("body", "pointer", "fragment"),
    [
        (b"", "/rows/0", "no header row"),
        (b"\r\n\r\n", "/rows/0", "no header row"),
        (INVENTORY_HEADER.encode() + b'I-1,2025-03-10,acme,"S1"x,5,EA\n', "/rows/1", "expected"),
        (
            INVENTORY_HEADER.encode() + b'I-1,2025-03-10,acme,"S1,5,EA\n',
            "/rows/1",
            "unexpected end",
        ),
        (INVENTORY_HEADER.encode() + b"I-1,2025-03-10,acme,S\xe91,5,EA\n", "/rows/1", "not utf-8"),
    ],
)
def test_malformed_csv(body: bytes, pointer: str, fragment: str) -> None:
    with pytest.raises(MalformedDocument) as caught:
        decode(body, template_mapping("inventory_advice"))
    assert caught.value.pointer == pointer
    assert fragment in caught.value.detail


def test_the_layout_comes_from_the_endpoint_or_the_header() -> None:
    body = INVENTORY_HEADER + "I-1,2025-03-10,acme,S1,5,EA\n"
    assert isinstance(single(decode(body)), InventoryAdvice)
    assert isinstance(single(decode(body, doc_type="inventory_advice")), InventoryAdvice)
    with pytest.raises(DocumentError, match="no CSV layout for invoice"):
        decode(body, doc_type="invoice")
    with pytest.raises(DocumentError, match="cannot tell which CSV layout") as caught:
        decode("a,b\n1,2\n")
    assert caught.value.pointer == "/rows/0"
    with pytest.raises(
        DocumentError, match="produces inventory_advice documents, not price_catalog"
    ):
        decode(body, template_mapping("inventory_advice"), doc_type="price_catalog")
    with pytest.raises(ValueError, match="reads json"):
        CsvCodec(
            dialect('doc_type = "inventory_advice"\ninput = "json"\n[fields]\ndocument_id = "x"')
        )


def test_sniffing() -> None:
    assert sniff_csv(b"\xef\xbb\xbfasn_number;po_number\r\nA;B\r\n")
    assert sniff_csv(INVENTORY_HEADER.encode())
    for other in (b'{"a": 1}', b"<cXML/>", b"ISA*00*", b"UNA:+.? '", b"", b"plain text"):
        assert not sniff_csv(other)


@pytest.mark.corpus
def test_corpus() -> None:
    folder = SAMPLES / "csv"
    if not folder.is_dir():
        pytest.skip(f"no CSV samples in {SAMPLES}")
    decoded = rejected = 0
    for sample in sorted(folder.glob("*.csv")):
        negative = "NEG" in sample.name or "MALFORMED" in sample.name
        try:
            errors = CsvCodec().decode(sample.read_bytes()).errors
        except DocumentError:
            errors = [DocumentError("raised")]
        assert bool(errors) == negative, sample.name
        decoded, rejected = decoded + (not negative), rejected + negative
    print(f"CSV corpus: {decoded} decoded, {rejected} rejected")  # noqa: T201


# --- writing --------------------------------------------------------------------------------


def test_the_writer_repeats_the_header_on_every_row() -> None:
    notice = decode((FIXTURES / "ship_notice_lf_quoted_newline.csv").read_bytes()).documents[0]
    writer: Writer = CsvCodec()
    text = writer.encode(notice, ENVELOPE).decode()
    lines = text.split("\r\n")
    assert lines[0].startswith("asn_number,issue_date,shipped_at,")
    assert lines[1].startswith("ASN-1001,2025-03-10,2025-03-10T16:30:00+00:00,")
    assert '"Hex bolt\nM8 x 50"' in text
    assert '"said ""loose"""' in text
    reader: Codec = CsvCodec()
    again = single(reader.decode(text.encode()))
    assert msgspec.structs.replace(again, source=None) == msgspec.structs.replace(
        notice, source=None
    )


def test_the_writer_refuses_what_it_cannot_read_back() -> None:
    item = ShippedItem(item=ItemRef(sku="S"), quantity=Quantity(value=Decimal(1), uom="EA"))
    notice = ShipNotice(
        document_id="ASN-1",
        supplier=Party(id="acme"),
        orders=(ShipmentOrder(po_number="PO-1", packs=(Pack(items=(item,)),)),),
    )
    with pytest.raises(DocumentError, match="has no value for 'sscc'") as caught:
        CsvCodec().encode(notice, ENVELOPE)
    assert caught.value.pointer == "/orders/0/packs/0"
    twice = msgspec.structs.replace(
        notice,
        orders=(ShipmentOrder(po_number="PO-1", items=(item,)),) * 2,
    )
    with pytest.raises(DocumentError, match="repeats po_number 'PO-1'"):
        CsvCodec().encode(twice, ENVELOPE)
    mapping = template_mapping("price_catalog")
    with pytest.raises(DocumentError, match="writes price_catalog, not ship_notice"):
        CsvCodec(mapping).encode(notice, ENVELOPE)
    latin = dialect('extends = "ship_notice_csv"\n[csv]\nencoding = "latin-1"\n')
    euro = msgspec.structs.replace(notice, document_id="€1", orders=twice.orders[:1])
    with pytest.raises(DocumentError, match="cannot be written in latin-1"):
        CsvCodec(latin).encode(euro, ENVELOPE)


def test_a_dialect_writes_what_it_reads() -> None:
    mapping = dialect(
        """
        extends = "inventory_advice_csv"
        date_format = "%d.%m.%Y"
        [csv]
        delimiter = ";"
        decimal_comma = true
        encoding = "utf-8-sig"
        skip_rows = 1
        [csv.rename]
        quantity = "Menge"
        [tables.uom]
        STK = "EA"
        [fields]
        "lines[].quantity.uom" = { lookup = "uom", source = "Einheit" }
        """
    )
    advice = InventoryAdvice(
        document_id="I-1",
        supplier=Party(id="acme"),
        as_of=datetime(2025, 3, 10, 6),
        lines=(
            InventoryLine(
                item=ItemRef(sku="S"),
                quantity=Quantity(value=Decimal("2.50"), uom="EA"),
                available_date=date(2025, 4, 1),
            ),
        ),
    )
    body = CsvCodec(mapping).encode(advice, ENVELOPE)
    assert body.startswith(b"\xef\xbb\xbf\r\nadvice_id;as_of;")
    assert b";01.04.2025;" in body
    assert b";2,50;STK" in body
    again = single(decode(body, mapping))
    assert msgspec.structs.replace(again, source=None) == advice


# --- properties -----------------------------------------------------------------------------

# Cells are trimmed and an empty cell is "no value", so generated text has neither.
_SPECIAL = st.sampled_from(['"', ",", ";", "\n", "'", "ä", "€", "–"])
_LATIN_SPECIAL = st.sampled_from(['"', ",", ";", "\n", "'", "ä", "ß", "Ø"])


def _cell_text(characters: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.text(characters, min_size=1, max_size=10).map(lambda t: t.strip() or "x")


_TEXT = _cell_text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")) | _SPECIAL)
_LATIN = _cell_text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, categories=("L", "N", "P", "S", "Zs"))
    | _LATIN_SPECIAL
)
_DECIMAL = st.from_regex(r"[0-9]{1,7}(\.[0-9]{1,4})?", fullmatch=True).map(Decimal)
_UOM = st.from_regex(r"[A-Z0-9]{1,3}", fullmatch=True)
_DATE = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
_DATETIME = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2090, 12, 31),
    timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-5))]),
)
_GTIN = st.from_regex(r"[0-9]{8}|[0-9]{12,14}", fullmatch=True)


def _optional(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


@st.composite
def _item(draw: st.DrawFn, text: st.SearchStrategy[str]) -> ItemRef:
    sku, gtin, part, buyer = (
        draw(_optional(text)),
        draw(_optional(_GTIN)),
        draw(_optional(text)),
        draw(_optional(text)),
    )
    if not (sku or gtin or part or buyer):
        sku = draw(text)
    return ItemRef(
        sku=sku, gtin=gtin, supplier_part=part, buyer_part=buyer, description=draw(_optional(text))
    )


@st.composite
def _party(draw: st.DrawFn, text: st.SearchStrategy[str], named: bool = True) -> Party:
    return Party(id=draw(text), name=draw(_optional(text)) if named else None)


def _quantity() -> st.SearchStrategy[Quantity]:
    return st.builds(Quantity, value=_DECIMAL, uom=_UOM)


@st.composite
def inventory_advice(draw: st.DrawFn, text: st.SearchStrategy[str] = _TEXT) -> InventoryAdvice:
    lines = draw(
        st.lists(
            st.builds(
                InventoryLine,
                item=_item(text),
                quantity=_quantity(),
                location=_optional(text),
                available_date=_optional(_DATE),
            ),
            min_size=1,
            max_size=4,
        )
    )
    return InventoryAdvice(
        document_id=draw(text),
        issue_date=draw(_optional(_DATE)),
        supplier=draw(_party(text)),
        buyer=draw(_optional(_party(text, named=False))),
        as_of=draw(_DATETIME),
        lines=tuple(lines),
    )


@st.composite
def _catalog_line(draw: st.DrawFn, text: st.SearchStrategy[str], currency: str) -> CatalogLine:
    # A line may come without a price (a title catalog), or with a unit but no price.
    price = draw(_optional(st.builds(Money, amount=_DECIMAL, currency=st.just(currency))))
    return CatalogLine(
        item=draw(_item(text)),
        unit_price=price,
        price_uom=draw(_UOM) if price is not None else draw(_optional(_UOM)),
        min_quantity=draw(_optional(_quantity())),
        lead_time_days=draw(_optional(st.integers(0, 3650))),
    )


@st.composite
def price_catalog(draw: st.DrawFn, text: st.SearchStrategy[str] = _TEXT) -> PriceCatalog:
    currency = draw(st.sampled_from(["USD", "EUR", "GBP"]))
    start = draw(_DATE)
    lines = draw(st.lists(_catalog_line(text, currency), min_size=1, max_size=4))
    end = draw(_optional(st.dates(min_value=start, max_value=date(2099, 1, 1))))
    return PriceCatalog(
        document_id=draw(text),
        supplier=draw(_party(text)),
        currency=currency,
        effective_from=start,
        effective_to=end,
        lines=tuple(lines),
    )


@st.composite
def ship_notice(draw: st.DrawFn, text: st.SearchStrategy[str] = _TEXT) -> ShipNotice:
    shipped = st.builds(
        ShippedItem,
        line_number=_optional(text.map(lambda t: t[:20])),
        item=_item(text),
        quantity=_quantity(),
    )
    ssccs = iter(
        draw(
            st.lists(
                st.from_regex(r"[0-9]{18}", fullmatch=True), min_size=8, max_size=8, unique=True
            )
        )
    )
    orders = []
    for po in draw(st.lists(text, min_size=1, max_size=3, unique=True)):
        packs = tuple(
            Pack(
                sscc=next(ssccs),
                packaging_code=draw(_optional(text)),
                items=tuple(draw(st.lists(shipped, min_size=1, max_size=2))),
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        items = tuple(draw(st.lists(shipped, min_size=0 if packs else 1, max_size=2)))
        orders.append(ShipmentOrder(po_number=po, packs=packs, items=items))
    carrier = draw(
        _optional(
            st.builds(
                Carrier, scac=st.from_regex(r"[A-Z]{2,4}", fullmatch=True), name=_optional(text)
            )
        )
    )
    return ShipNotice(
        document_id=draw(text),
        issue_date=draw(_optional(_DATE)),
        supplier=draw(_party(text)),
        shipped_at=draw(_optional(_DATETIME)),
        estimated_delivery=draw(_optional(_DATE)),
        carrier=carrier,
        tracking_number=draw(_optional(text)),
        bill_of_lading=draw(_optional(text)),
        orders=tuple(orders),
    )


def _round_trip(document: Document, mapping: Mapping | None = None) -> None:
    codec = CsvCodec(mapping)
    body = codec.encode(document, ENVELOPE)
    again = single(codec.decode(body))
    assert again.source is not None and again.source.format == "csv"
    assert msgspec.structs.replace(again, source=None) == document


@settings(max_examples=60, deadline=None)
@given(st.one_of(inventory_advice(), price_catalog(), ship_notice()))
def test_canonical_csv_canonical_is_identity(document: Document) -> None:
    _round_trip(document)


_EUROPEAN = """
extends = "{template}"
date_format = "%d.%m.%Y"
[csv]
delimiter = ";"
encoding = "cp1252"
decimal_comma = true
thousands = "."
[csv.rename]
quantity = "Menge"
sku = "Artikel"
"""


_EUROPEAN_MAPPINGS = {
    kind: dialect(_EUROPEAN.format(template=f"{kind}_csv"))
    for kind in ("inventory_advice", "price_catalog", "ship_notice")
}


@settings(max_examples=60, deadline=None)
@given(st.one_of(inventory_advice(_LATIN), price_catalog(_LATIN), ship_notice(_LATIN)))
def test_round_trip_in_a_european_dialect(document: Document) -> None:
    _round_trip(document, _EUROPEAN_MAPPINGS[doc_type_of(document)])


_SEED = (FIXTURES / "ship_notice_lf_quoted_newline.csv").read_bytes()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_mutated_csv_raises_only_document_errors(data: st.DataObject) -> None:
    body = bytearray(_SEED)
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.integers(0, len(body)))
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        junk = data.draw(st.sampled_from([b'"', b",", b"\n", b"\r", b"\x00", b"\xff", b"-", b"9"]))
        if action == "flip" and where < len(body):
            body[where] = data.draw(st.integers(0, 255))
        elif action == "insert":
            body[where:where] = junk
        elif action == "delete":
            del body[where : where + data.draw(st.integers(1, 40))]
        else:
            del body[where:]
    mapping = data.draw(st.sampled_from([None, template_mapping("ship_notice")]))
    try:
        CsvCodec(mapping).decode(bytes(body))
    except DocumentError:
        pass


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_raises_only_document_errors(body: bytes) -> None:
    for doc_type in (None, "ship_notice"):
        try:
            CsvCodec().decode(INVENTORY_HEADER.encode() + body, doc_type=doc_type)
        except DocumentError:
            pass


def test_an_optional_quantity_needs_its_value_and_then_its_unit() -> None:
    header = "catalog_id,currency,effective_from,supplier_id,sku,unit_price,price_uom,"
    header += "min_quantity,min_quantity_uom\n"
    row = "C-1,USD,2025-04-01,acme,S1,9.99,EA,{value},{uom}\n"
    catalog = single(decode(header + row.format(value="", uom="CS")))
    assert isinstance(catalog, PriceCatalog)
    assert catalog.lines[0].min_quantity is None  # a unit alone is no minimum
    decoded = decode(header + row.format(value="10", uom=""))
    assert decoded.errors[0].pointer == "/rows/1/min_quantity_uom"


def test_an_empty_or_absent_price_lists_the_item_without_a_price() -> None:
    header = "catalog_id,currency,effective_from,supplier_id,sku,unit_price,price_uom\n"
    rows = "C-1,USD,2025-04-01,acme,BOOK-1,,\nC-1,USD,2025-04-01,acme,BOOK-2,,EA\n"
    rows += "C-1,USD,2025-04-01,acme,BOLT,0.12,EA\n"
    catalog = single(decode(header + rows))
    assert isinstance(catalog, PriceCatalog)
    assert [(line.unit_price, line.price_uom) for line in catalog.lines] == [
        (None, None), (None, "EA"), (Money(amount=Decimal("0.12"), currency="USD"), "EA")]
    written = CsvCodec().encode(catalog, ENVELOPE).decode()
    table = [row.split(",") for row in written.splitlines()]
    price, uom = table[0].index("unit_price"), table[0].index("price_uom")
    assert [(row[price], row[uom]) for row in table[1:]] == [("", ""), ("", "EA"), ("0.12", "EA")]
    again = single(decode(written))
    assert msgspec.structs.replace(again, source=None) == msgspec.structs.replace(
        catalog, source=None)
    # Without the price columns at all: a title-only catalog.
    title_only = single(decode("catalog_id,currency,effective_from,supplier_id,sku\n"
                               "C-2,USD,2025-04-01,acme,BOOK-1\n"))
    assert isinstance(title_only, PriceCatalog)
    assert title_only.lines[0].unit_price is None


def test_a_price_without_its_unit_is_rejected() -> None:
    header = "catalog_id,currency,effective_from,supplier_id,sku,unit_price,price_uom\n"
    decoded = decode(header + "C-1,USD,2025-04-01,acme,BOLT,0.12,\n")
    [error] = decoded.errors
    assert error.pointer == "/rows/1"
    assert "`unit_price` needs its `price_uom`" in str(error)
