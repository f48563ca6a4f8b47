"""EDIFACT syntax: UNA, default separators, character sets, release characters, values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from wharf.codecs.edifact import EdifactCodec
from wharf.codecs.edifact.syntax import read_body
from wharf.codecs.edifact.values import parse_date, parse_number, read_uom
from wharf.errors import DocumentError, MalformedDocument
from wharf.model import PurchaseOrder

FIXTURES = Path(__file__).parent / "fixtures" / "edifact"

MINIMAL = (
    "UNB+UNOC:3+SENDER+RECEIVER+250322:1200+1'UNH+1+ORDERS:D:96A:UN'BGM+220+PO-1+9'"
    "NAD+SU+SUP::92'LIN+1++X1:SA'QTY+21:{qty}'UNT+6+1'UNZ+1+1'"
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def only_order(body: bytes | str) -> PurchaseOrder:
    raw = body.encode("latin-1") if isinstance(body, str) else body
    decoded = EdifactCodec().decode(raw)
    assert decoded.errors == []
    (doc,) = decoded.documents
    assert isinstance(doc, PurchaseOrder)
    return doc


def only_error(body: bytes | str) -> DocumentError:
    raw = body.encode("latin-1") if isinstance(body, str) else body
    decoded = EdifactCodec().decode(raw)
    assert decoded.documents == []
    (error,) = decoded.errors
    return error


# --- service string advice and separators ---------------------------------------------------


def test_una_advises_every_separator() -> None:
    body = MINIMAL.format(qty="2").replace("'", "#").replace("+", "|").replace(":", "~")
    doc = only_order("UNA~|.! #" + body)
    assert doc.lines[0].quantity.value == Decimal(2)
    assert doc.supplier.id == "SUP"


def test_no_una_uses_the_level_a_defaults() -> None:
    tokens = read_body(MINIMAL.format(qty="1").encode())
    assert tokens.service.component == ":" and tokens.service.terminator == "'"
    assert tokens.segments[1][:2] == ["UNH", "1"]


def test_level_b_control_character_separators_without_una() -> None:
    body = MINIMAL.format(qty="3").replace("'", "\x1c").replace("+", "\x1d").replace(":", "\x1f")
    body = body.replace("UNOC", "UNOB")
    doc = only_order(body)
    assert doc.lines[0].quantity.value == 3


def test_syntax_4_without_una_releases_the_repetition_separator() -> None:
    body = MINIMAL.format(qty="1").replace("UNOC:3", "UNOC:4").replace("PO-1", "PO?*1")
    assert only_order(body).document_id == "PO*1"


def test_unusable_una_is_malformed() -> None:
    with pytest.raises(MalformedDocument) as caught:
        EdifactCodec().decode(b"UNA::.? 'UNB+UNOC:3+A+B+250101:0000+1'")
    assert caught.value.code == "20"


def test_a_body_without_unb_or_unh_is_malformed() -> None:
    for body in (b"", b"   \r\n", b"hello world", b"ISA*00*          *00*", b"{}"):
        with pytest.raises(MalformedDocument):
            EdifactCodec().decode(body)


def test_bare_message_without_interchange_is_read_and_not_answered() -> None:
    decoded = EdifactCodec().decode(
        b"UNH+1+ORDERS:D:96A:UN'BGM+220+PO-9+9'NAD+SU+SUP::92'LIN+1++X:SA'QTY+21:1'UNT+6+1'"
    )
    assert [d.document_id for d in decoded.documents] == ["PO-9"]
    assert decoded.reply is None


def test_indentation_line_breaks_and_a_bom_are_ignored() -> None:
    body = "\ufeff" + MINIMAL.format(qty="4").replace("'", "'\r\n    ")
    assert only_order(body.encode("utf-8")).lines[0].quantity.value == 4


def test_a_missing_final_terminator_is_tolerated() -> None:
    assert only_order(MINIMAL.format(qty="5").rstrip("'")).lines[0].quantity.value == 5


def test_segments_outside_a_message_are_reported_without_sinking_it() -> None:
    body = MINIMAL.format(qty="1").replace("UNH+1", "FOO+BAR'UNH+1")
    decoded = EdifactCodec().decode(body.encode())
    assert len(decoded.documents) == 1
    (error,) = decoded.errors
    assert error.code == "33"
    assert b"UCI+1+SENDER+RECEIVER+7+33" in decoded.reply.body  # type: ignore[union-attr]


def test_a_broken_segment_tag_rejects_its_message() -> None:
    error = only_error(MINIMAL.format(qty="1").replace("QTY+", "Q:Y+"))
    assert (error.code, error.segment, error.pointer) == ("12", 5, "/segments/5")


# --- release characters ---------------------------------------------------------------------


def test_release_characters_stand_for_themselves() -> None:
    doc = only_order(fixture("orders_d01b_latin1_escapes.edi"))
    assert doc.buyer is not None and doc.buyer.name == "A+A Kälte GmbH"
    assert doc.supplier.name == "FooBar GmbH & Co? KG"
    assert doc.lines[0].item.description == "Hühnersuppe 1:10 Eimer"
    assert doc.lines[1].item.description == "Käse 'Alpen' Stück"


def test_a_release_character_before_an_ordinary_character_is_a_pointed_error() -> None:
    error = only_error(fixture("orders_bad_escape_NEG.edi"))
    assert error.code == "22"
    assert (error.segment, error.segment_id, error.element) == (5, "IMD", 3)
    assert error.pointer == "/segments/5/3"
    assert "release character" in error.detail


def test_an_escaped_terminator_does_not_end_the_segment() -> None:
    assert only_order(MINIMAL.format(qty="1").replace("PO-1", "PO-1?'A")).document_id == "PO-1'A"
    error = only_error(MINIMAL.format(qty="1").replace("PO-1", "PO?-1"))
    assert (error.code, error.segment_id, error.element) == ("22", "BGM", 2)


# --- character sets -------------------------------------------------------------------------


def test_unoc_is_latin1() -> None:
    body = MINIMAL.format(qty="1").replace("SUP::92", "SUP::92++Café Müller").encode("latin-1")
    assert only_order(body).supplier.name == "Café Müller"


def test_utf8_sent_under_unoc_is_read_as_utf8() -> None:
    body = MINIMAL.format(qty="1").replace("SUP::92", "SUP::92++MUNCIË").encode("utf-8")
    assert only_order(body).supplier.name == "MUNCIË"


def test_unoy_is_utf8_and_invalid_bytes_are_invalid_characters() -> None:
    good = MINIMAL.format(qty="1").replace("UNOC", "UNOY").replace("SUP::92", "SUP::92++Łódź")
    assert only_order(good.encode("utf-8")).supplier.name == "Łódź"
    bad = good.encode("utf-8").replace("Ł".encode(), b"\xff")
    error = only_error(bad)
    assert (error.code, error.segment_id, error.element) == ("21", "NAD", 4)


def test_unoa_rejects_bytes_outside_ascii_in_the_message_that_has_them() -> None:
    error = only_error(fixture("unoa_invalid_character_NEG.edi"))
    assert (error.code, error.segment, error.segment_id, error.element) == ("21", 3, "NAD", 4)


def test_noncharacters_in_the_text_are_invalid_and_not_taken_for_escapes() -> None:
    body = MINIMAL.format(qty="1").replace("PO-1", "PO?+1").replace("SUP::92", "SUP::92++A\ufdd0EB")
    error = only_error(body.encode("utf-8"))
    assert (error.code, error.segment_id, error.element) == ("21", "NAD", 4)


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", Decimal(12)),
        ("12.50", Decimal("12.50")),
        ("12,50", Decimal("12.50")),
        ("-3", Decimal(-3)),
        (".5", Decimal("0.5")),
        ("121212121212.121", Decimal("121212121212.121")),
    ],
)
def test_numbers_take_either_decimal_mark(text: str, value: Decimal) -> None:
    assert parse_number(text, position=4, tag="QTY", element=1) == value


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "13"),
        ("1.2.3", "19"),
        ("1,2.3", "19"),
        ("1e5", "37"),
        ("12 ", "37"),
        ("NaN", "37"),
        ("١٢", "37"),
        ("-", "37"),
    ],
)
def test_bad_numbers_are_pointed_errors(text: str, code: str) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_number(text, position=4, tag="QTY", element=1)
    assert (caught.value.code, caught.value.pointer) == (code, "/segments/4/1")


@pytest.mark.parametrize(
    ("value", "fmt", "day", "clock"),
    [
        ("20250322", "102", dt.date(2025, 3, 22), None),
        ("202503221430", "203", dt.date(2025, 3, 22), dt.time(14, 30)),
        ("20250322143005", "204", dt.date(2025, 3, 22), dt.time(14, 30, 5)),
        ("250322", "101", dt.date(2025, 3, 22), None),
        ("991006", "101", dt.date(1999, 10, 6), None),
        ("20250301-20250331", "718", dt.date(2025, 3, 1), None),
        ("199910060000", "102", dt.date(1999, 10, 6), dt.time(0, 0)),
        ("20250322", "", dt.date(2025, 3, 22), None),
    ],
)
def test_dates_follow_their_format_qualifier(
    value: str, fmt: str, day: dt.date, clock: dt.time | None
) -> None:
    assert parse_date(value, fmt, position=3, tag="DTM") == (day, clock)


@pytest.mark.parametrize(
    "value", ["20250230", "20251301", "202503222561", "2025032", "2025-03-22", "ABCDEFGH"]
)
def test_impossible_dates_are_pointed_errors(value: str) -> None:
    with pytest.raises(DocumentError) as caught:
        parse_date(value, "102", position=3, tag="DTM")
    assert (caught.value.code, caught.value.pointer, caught.value.segment_id) == (
        "12",
        "/segments/3/1",
        "DTM",
    )


def test_units_are_mapped_and_remembered() -> None:
    assert read_uom("GBND", position=1, tag="QTY", element=1) == ("PK", "GBND")
    assert read_uom("KGM", position=1, tag="QTY", element=1) == ("KGM", None)
    assert read_uom("pce", position=1, tag="QTY", element=1) == ("PCE", "pce")
    with pytest.raises(DocumentError):
        read_uom("BUNDLE", position=1, tag="QTY", element=1)
