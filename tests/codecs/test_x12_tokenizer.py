"""X12 framing: every delimiter/encoding quirk of NOTES.md section 1 reads to the same document."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
import pytest

from wharf.codecs.x12 import X12Codec
from wharf.codecs.x12.tokenizer import Delimiters, decode_text, tokenize
from wharf.errors import MalformedDocument
from wharf.model import PurchaseOrder

FIXTURES = Path(__file__).parent / "fixtures" / "x12"
CODEC = X12Codec(clock=lambda: dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC))


def _po(name: str) -> PurchaseOrder:
    decoded = CODEC.decode((FIXTURES / name).read_bytes())
    assert decoded.errors == []
    (document,) = decoded.documents
    assert isinstance(document, PurchaseOrder)
    return document


def _comparable(po: PurchaseOrder) -> PurchaseOrder:
    return msgspec.structs.replace(po, source=None)


# (fixture, element, terminator, component, repetition)
VARIANTS = [
    ("850_tilde_crlf_bom_indented.edi", "*", "~", ">", None),
    ("850_pipe_terminator_isa16_tilde.edi", "*", "|", "~", None),
    ("850_isa16_equals_terminator_missing_tilde.edi", "*", "\n", "~", None),
    ("850_isa_nbsp_padded.edi", "*", "~", ">", None),
    ("850_5010_isa_unpadded_isa11_pipe.edi", "*", "~", ">", "|"),
    ("850_space_before_crlf.edi", "*", "\n", ">", None),
    ("850_cr_only.edi", "*", "\r", ">", None),
    ("850_0x15_terminator.edi", "*", "\x15", ":", "^"),
]


@pytest.mark.parametrize(("name", "element", "terminator", "component", "repetition"), VARIANTS)
def test_delimiters_are_read_from_the_isa(
    name: str, element: str, terminator: str, component: str, repetition: str | None
) -> None:
    (interchange,) = tokenize(decode_text((FIXTURES / name).read_bytes()))
    delimiters = interchange.delimiters
    assert (delimiters.element, delimiters.segment, delimiters.component,
            delimiters.repetition) == (element, terminator, component, repetition)
    assert interchange.complete


@pytest.mark.parametrize("name", [variant[0] for variant in VARIANTS])
def test_every_framing_variant_reads_to_the_same_purchase_order(name: str) -> None:
    reference = _comparable(_po("850_tilde_crlf_bom_indented.edi"))
    assert _comparable(_po(name)) == reference


def test_the_reference_purchase_order_is_read_completely() -> None:
    po = _po("850_tilde_crlf_bom_indented.edi")
    assert po.document_id == "PO-45001"
    assert po.issue_date == dt.date(2025, 3, 10)
    assert po.requested_date == dt.date(2025, 3, 20)
    assert po.currency == "USD"
    assert po.notes == ("Deliver to dock 4",)
    assert po.buyer is not None and po.buyer.gln == "0614141999996"
    assert po.supplier.id == "ACME" and po.supplier.name == "Acme Fasteners"
    assert po.ship_to is not None and po.ship_to.address is not None
    assert po.ship_to.address.city == "Memphis" and po.ship_to.address.country == "US"
    first, second = po.lines
    assert first.line_number == "1"
    assert (first.item.buyer_part, first.item.supplier_part, first.item.gtin) == (
        "NW-10042", "AC-M8-50", "061414100041")
    assert first.item.description == "M8 bolt 50mm"
    assert first.requested_date == dt.date(2025, 3, 18)
    assert first.notes == ("Pack in cartons of 100",)
    assert str(first.quantity.value) == "600" and first.quantity.uom == "EA"
    assert first.unit_price is not None and str(first.unit_price.amount) == "0.12"
    # PO101 empty: the line is numbered by its position.
    assert second.line_number == "2" and second.quantity.uom == "CS"
    assert po.source is not None
    assert (po.source.version, po.source.interchange_control, po.source.group_control,
            po.source.transaction_control, po.source.position) == (
        "004010", "000000901", "901", "0001", "ST@3")


def test_latin1_body_is_read() -> None:
    po = _po("850_latin1.edi")
    assert po.buyer is not None and po.buyer.name == "Nordwind Händler"


def test_ebcdic_body_with_nel_terminator_is_read() -> None:
    text = (FIXTURES / "850_tilde_crlf_bom_indented.edi").read_bytes()[3:].decode()
    # 80-column EBCDIC records: NEL (0x15 in cp037) ends each segment, blanks pad the record.
    records = [segment.strip().ljust(79) for segment in text.split("~") if segment.strip()]
    body = "\x85".join(records).encode("cp037")
    assert body.startswith(b"\xc9\xe2\xc1")
    decoded = CODEC.decode(body)
    assert decoded.errors == []
    (po,) = decoded.documents
    assert isinstance(po, PurchaseOrder)
    assert _comparable(po) == _comparable(_po("850_tilde_crlf_bom_indented.edi"))


def test_unicode_ellipsis_terminator_and_tilde_element_separator() -> None:
    (ellipsis,) = tokenize(decode_text(
        (FIXTURES / "856_si_item_prf_ellipsis_terminator.edi").read_bytes()))
    assert ellipsis.delimiters.segment == "\u2026"
    (tilde,) = tokenize(decode_text(
        (FIXTURES / "856_soi_empty_parents_tilde_elem_star_term.edi").read_bytes()))
    assert (tilde.delimiters.element, tilde.delimiters.segment,
            tilde.delimiters.component) == ("~", "*", "`")
    (brace,) = tokenize(decode_text((FIXTURES / "846_tilde_elem_brace_term.edi").read_bytes()))
    assert (brace.delimiters.element, brace.delimiters.segment) == ("~", "}")
    (caret,) = tokenize(decode_text((FIXTURES / "832_caret_elem_price_tiers.edi").read_bytes()))
    assert caret.delimiters.element == "^"


def test_a_body_without_envelope_is_sniffed_from_st() -> None:
    text = decode_text((FIXTURES / "850_no_envelope_mtx_newlines.edi").read_bytes())
    (bare,) = tokenize(text)
    assert bare.isa is None
    assert bare.delimiters == Delimiters("*", "~", None)
    decoded = CODEC.decode((FIXTURES / "850_no_envelope_mtx_newlines.edi").read_bytes())
    (po,) = decoded.documents
    assert isinstance(po, PurchaseOrder)
    # The free text's raw line break became a space; SE02 != ST02 is tolerated without envelope.
    assert po.notes[0] == "SHIPMENT AGAINST THIS ORDER IS ACCEPTANCE OF TERMS AND CONDITIONS"
    assert decoded.reply is None  # nobody to address a 997 to


def test_interchanges_with_different_delimiters_in_one_body() -> None:
    raws = tokenize(decode_text((FIXTURES / "mailbag_three_interchanges.edi").read_bytes()))
    assert [(r.delimiters.segment, r.delimiters.component) for r in raws] == [
        ("\x15", ">"), ("~", ":"), ("\n", "@")]
    assert [r.first for r in raws] == [1, 13, 21]


@pytest.mark.parametrize(
    "body",
    [b"", b"   \r\n", b"hello world", b"<cXML/>", b'{"doc_type": "invoice"}', b"UNB+UNOA:1"],
)
def test_bodies_without_x12_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedDocument) as caught:
        CODEC.decode(body)
    assert caught.value.pointer == "/segments/1"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (b"ISA*00*", "/segments/1"),
        (b"ISA*00*          *00*          *ZZ*A~GS*PO~", "/segments/1"),
        (b"ISAX00X", "/segments/1/1"),
        (b"ISA*00*\n*00*          *ZZ*A*ZZ*B*250310*1200*U*00401*000000001*0*P*>~", "/segments/1"),
    ],
)
def test_an_unreadable_isa_is_malformed_with_a_pointer(body: bytes, pointer: str) -> None:
    with pytest.raises(MalformedDocument) as caught:
        CODEC.decode(body)
    assert caught.value.pointer == pointer
    assert caught.value.segment_id == "ISA"


@pytest.mark.parametrize(
    ("body", "fmt"),
    [
        (b"ST*850*0001~BEG*00*SA*PO-1~", "x12"),
        (b"ST|850|0001~BEG|00|SA|PO-1~", "x12"),
        (b"\x40\x40" + "ISA*00".encode("cp037"), "x12"),
        (b"STATUS,qty\nok,1\n", "csv"),
    ],
    ids=["bare-star", "bare-pipe", "ebcdic-with-blanks", "csv-starting-with-st"],
)
def test_the_gateway_tells_x12_from_other_bodies(body: bytes, fmt: str) -> None:
    from wharf.codecs import default_registry

    assert default_registry().detect(None, body) == fmt
