"""X12 transaction sets into canonical documents: 855, 856, 810, 846, 832 and pointed errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from wharf.codecs.x12 import X12Codec
from wharf.model import (
    Document,
    InventoryAdvice,
    Invoice,
    Money,
    POAcknowledgment,
    PriceCatalog,
    ShipNotice,
)

if TYPE_CHECKING:
    from wharf.errors import DocumentError

FIXTURES = Path(__file__).parent / "fixtures" / "x12"
CODEC = X12Codec(clock=lambda: dt.datetime(2026, 1, 2, tzinfo=dt.UTC))


def _documents(name: str) -> list[Document]:
    return _documents_of((FIXTURES / name).read_bytes())


def _documents_of(body: bytes) -> list[Document]:
    decoded = CODEC.decode(body)
    assert decoded.errors == []
    return decoded.documents


def _error(body: bytes) -> DocumentError:
    decoded = CODEC.decode(body)
    (error,) = decoded.errors
    return error


def test_855_line_statuses() -> None:
    (ack,) = _documents("855_line_statuses.edi")
    assert isinstance(ack, POAcknowledgment)
    assert (ack.document_id, ack.po_number, ack.status, ack.issue_date) == (
        "SO-778", "PO-45001", "accepted_with_changes", dt.date(2025, 3, 11))
    assert [(line.line_number, line.status) for line in ack.lines] == [
        ("1", "accepted"), ("1", "backordered"), ("2", "changed_quantity"), ("3", "substituted"),
        ("4", "rejected"), ("5", "accepted"), ("6", "changed_price"),
    ]
    split_accepted, split_backordered, changed_qty, substituted, rejected, shifted, price = (
        ack.lines)
    assert split_accepted.quantity is not None and split_accepted.quantity.value == 400
    assert split_accepted.promised_date == dt.date(2025, 3, 20)
    assert split_backordered.promised_date == dt.date(2025, 4, 15)
    assert changed_qty.quantity is not None and changed_qty.quantity.value == 5
    assert substituted.substitute is not None
    assert substituted.substitute.supplier_part == "AC-W8-ZN"
    assert rejected.reason == "CW"  # book-trade reason code in ACK29
    # D&H: ids shifted by one element and the date in ACK06/07 instead of ACK04/05.
    assert shifted.item is not None and shifted.item.supplier_part == "EXPI9301CTBLK"
    assert shifted.promised_date == dt.date(2015, 2, 5)
    assert price.unit_price is not None and price.unit_price.amount == Decimal("7.25")
    assert any("shifted by one element" in note for note in ack.notes)


def test_855_without_ack_segments_takes_the_header_status() -> None:
    body = (FIXTURES / "855_line_statuses.edi").read_bytes()
    lines = body.split(b"\n")
    kept = [line for line in lines if not line.startswith(b"ACK")]
    kept = [line.replace(b"BAK*00*AC", b"BAK*00*RJ") for line in kept]
    text = b"\n".join(kept).replace(b"SE*25*0011", b"SE*18*0011")
    (ack,) = CODEC.decode(text).documents
    assert isinstance(ack, POAcknowledgment)
    assert ack.status == "rejected"
    assert {line.status for line in ack.lines} == {"rejected"}
    assert ack.lines[0].quantity is not None and ack.lines[0].quantity.value == 600


def test_855_unknown_status_codes_are_pointed_errors() -> None:
    body = (FIXTURES / "855_line_statuses.edi").read_bytes()
    error = _error(body.replace(b"BAK*00*AC", b"BAK*00*ZZ"))
    assert (error.pointer, error.segment_id, error.code) == ("/segments/2/2", "BAK", "7")
    error = _error(body.replace(b"ACK*IQ*5*CS", b"ACK*XX*5*CS"))
    assert (error.pointer, error.segment_id, error.code) == ("/segments/10/1", "ACK", "7")
    error = _error(body.replace(b"ACK*IQ*5*CS", b"ACK*IQ"))
    assert (error.pointer, error.code) == ("/segments/10/2", "2")


def test_856_hierarchy_orders_tares_packs_and_loose_items() -> None:
    (notice,) = _documents("856_sotpi_two_orders.edi")
    assert isinstance(notice, ShipNotice)
    assert notice.document_id == "ASN-1001"
    assert notice.shipped_at == dt.datetime(2025, 3, 10, 16, 30, tzinfo=dt.UTC)
    assert notice.estimated_delivery == dt.date(2025, 3, 12)
    assert notice.carrier is not None and (notice.carrier.scac, notice.carrier.name) == (
        "ODFL", "Old Dominion")
    assert (notice.bill_of_lading, notice.tracking_number) == ("BOL-558812", "1Z999AA10123456784")
    assert notice.ship_from is not None and notice.ship_from.name == "Acme Plant 2"
    first, second = notice.orders
    assert first.po_number == "PO-45001" and second.po_number == "PO-45002"
    (carton,) = first.packs
    assert (carton.sscc, carton.packaging_code) == ("006141410000000017", "CTN25")
    (bolt,) = carton.items
    assert (bolt.line_number, bolt.item.gtin, bolt.quantity.value) == (
        "1", "061414100041", Decimal(600))
    (loose,) = first.items
    assert (loose.item.supplier_part, loose.quantity.uom) == ("AC-M8-N", "CS")
    assert second.packs[0].sscc == "006141410000000031"


def test_856_empty_parents_and_bad_values_are_tolerated() -> None:
    (notice,) = _documents("856_soi_empty_parents_tilde_elem_star_term.edi")
    assert isinstance(notice, ShipNotice)
    (order,) = notice.orders
    assert order.po_number == "PO-77"
    assert [item.item.buyer_part for item in order.items] == ["1234-123456", "1234-654321"]
    assert notice.shipped_at is None  # DTM*011*200 is noted, not fatal
    assert notice.carrier is not None and notice.carrier.name == "FedEx 2Day"
    assert any("'200' is not a date" in note for note in notice.notes)
    assert any("'FED2' is not a SCAC" in note for note in notice.notes)


def test_856_shipment_item_levels_take_the_items_prf() -> None:
    (notice,) = _documents("856_si_item_prf_ellipsis_terminator.edi")
    assert isinstance(notice, ShipNotice)
    assert [order.po_number for order in notice.orders] == ["5500005194", "5500005195"]
    assert notice.orders[0].items[0].line_number == "00030"


@pytest.mark.parametrize(
    ("old", "new", "pointer", "segment_id", "code"),
    [
        (b"HL*5*4*I", b"HL*5*44*I", "/segments/21/2", "HL", "7"),
        (b"HL*5*4*I", b"HL*5*4*X", "/segments/21/3", "HL", "7"),
        (b"HL*6*2*I", b"HL*5*2*I", "/segments/25/1", "HL", "7"),
        (b"SN1**6*CS", b"SN1**6*cs", "/segments/27/3", "SN1", "7"),
        (b"SN1**6*CS", b"SN1**-6*CS", "/segments/27/2", "SN1", "6"),
        (b"PRF*PO-45002", b"PRF", "/segments/28", "HL", "3"),
        (b"SN1**6*CS", b"XYZ**6*CS", "/segments/25", "SN1", "3"),
        (b"LIN*2*VP*AC-M8-N", b"LIN*2", "/segments/26/3", "LIN", "1"),
    ],
)
def test_856_errors_point_at_segment_and_element(
    old: bytes, new: bytes, pointer: str, segment_id: str, code: str
) -> None:
    body = (FIXTURES / "856_sotpi_two_orders.edi").read_bytes().replace(old, new)
    error = _error(body)
    assert (error.pointer, error.segment_id, error.code) == (pointer, segment_id, code)


def test_810_implied_decimals_and_totals() -> None:
    first, second = _documents("810_implied_decimals_two_invoices.edi")
    assert isinstance(first, Invoice) and isinstance(second, Invoice)
    assert first.totals.total.amount == Decimal("4558.70")  # TDS*455870, N2
    assert first.totals.subtotal is not None
    assert first.totals.subtotal.amount == Decimal("4529.54")
    assert first.totals.tax_total is not None
    assert first.totals.tax_total.amount == Decimal("110.71")
    assert [(ac.kind, ac.code, ac.amount.amount) for ac in first.allowances_charges] == [
        ("allowance", "I410", Decimal("23.50")), ("charge", "D240", Decimal("40.00"))]
    assert [(t.kind, t.rate, t.amount.amount) for t in first.taxes] == [
        ("ST", Decimal("2.5"), Decimal("110.71"))]
    assert first.po_numbers == ("PO-45001", "PO-45002")
    assert first.terms is not None
    assert (first.terms.discount_percent, first.terms.discount_days, first.terms.net_days) == (
        Decimal(2), 10, 30)
    line1, line2 = first.lines
    assert line1.amount.amount == Decimal("3898.80") and line1.po_line_number == "1"
    assert line1.item.gtin == "022108955228"  # UP wins over UK; trailing blank stripped
    assert line2.line_number == "2" and line2.item.gtin == "001055503223"
    assert first.remit_to is not None and first.remit_to.address is not None
    assert first.remit_to.address.country == "US"  # N404 "USA"
    assert second.totals.total.amount == Decimal("19.98")
    assert second.currency == "USD"  # no CUR: X12's default


@pytest.mark.parametrize(
    ("old", "new", "pointer", "segment_id", "element", "code"),
    [
        (b"BIG*20250315*INV-9001", b"BIG*20250345*INV-9001", "/segments/2/1", "BIG", 1, "8"),
        (b"BIG*20250315*INV-9001", b"BIG*20250315*", "/segments/2/2", "BIG", 2, "1"),
        (b"TDS*455870", b"TDS*45587O", "/segments/17/1", "TDS", 1, "6"),
        (b"TDS*455870", b"TDX*455870", "/segments/24", "TDS", None, "3"),
        (b"IT1*1*1080*EA*3.61", b"IT1*1*1080*EA*", "/segments/12/4", "IT1", 4, "1"),
        (b"CUR*SE*USD", b"CUR*SE*usd", "/segments/4/2", "CUR", 2, "7"),
        (b"SAC*C*D240***4000", b"SAC*C*D240***-4000", "/segments/22/5", "SAC", 5, "6"),
    ],
)
def test_810_errors_point_at_segment_and_element(
    old: bytes, new: bytes, pointer: str, segment_id: str, element: int | None, code: str
) -> None:
    body = (FIXTURES / "810_implied_decimals_two_invoices.edi").read_bytes().replace(old, new)
    error = _error(body)
    assert (error.pointer, error.segment_id, error.element, error.code) == (
        pointer, segment_id, element, code)


def test_846_quantities_by_qualifier() -> None:
    (advice,) = _documents("846_tilde_elem_brace_term.edi")
    assert isinstance(advice, InventoryAdvice)
    assert advice.as_of == dt.datetime(2025, 3, 11, 14, 30)
    assert [(line.item.supplier_part, line.quantity.value, line.quantity.uom,
             line.available_date) for line in advice.lines] == [
        ("AC-M8-50", Decimal(5250), "EA", None),  # QTY*17 on hand; QTY*QH is not availability
        ("AC-M8-N", Decimal(1000), "CS", dt.date(2025, 4, 1)),  # on order, with its DTM*371
        ("AC-W8", Decimal(75), "EA", None),  # only an unknown qualifier: read, and noted
    ]
    assert any("'34' is not 33/17/63" in note for note in advice.notes)
    assert any("'FTCTT' is not a unit of measure" in note for note in advice.notes)


def test_832_first_price_per_item() -> None:
    (catalog,) = _documents("832_caret_elem_price_tiers.edi")
    assert isinstance(catalog, PriceCatalog)
    assert (catalog.document_id, catalog.effective_from, catalog.effective_to) == (
        "CT-2025", dt.date(2025, 4, 1), dt.date(2025, 12, 31))
    assert catalog.supplier.name == "Acme Fasteners"  # N1*MF
    assert [(line.item.supplier_part, line.unit_price, line.price_uom)
            for line in catalog.lines] == [
        ("AC-M8-50", Money(amount=Decimal(65), currency="USD"), "CA"),
        ("AC-M8-N", Money(amount=Decimal("14.50"), currency="USD"), "CS"),
        ("AC-NOPRICE", None, None),  # no CTP: listed without a price
    ]
    assert any("1 further price(s) not kept" in note for note in catalog.notes)


def test_832_without_any_price_lists_its_items_without_prices() -> None:
    body = (FIXTURES / "832_caret_elem_price_tiers.edi").read_bytes()
    body = b"\n".join(line for line in body.split(b"\n") if not line.startswith(b"CTP"))
    body = body.replace(b"LIN^3^VP^AC-NOPRICE~", b"LIN^3^VP^AC-NOPRICE~\nCTP^^UCP^^1^CS~")
    (catalog,) = _documents_of(body)
    assert isinstance(catalog, PriceCatalog)
    assert [(line.item.supplier_part, line.unit_price, line.price_uom)
            for line in catalog.lines] == [
        ("AC-M8-50", None, None), ("AC-M8-N", None, None), ("AC-NOPRICE", None, None)]
    assert any("1 CTP without a usable price" in note and "(segment 9)" in note
               for note in catalog.notes)


def test_832_whose_items_have_no_identifier_is_rejected_at_its_first_lin() -> None:
    body = (FIXTURES / "832_caret_elem_price_tiers.edi").read_bytes()
    for old in (b"LIN^1^VP^AC-M8-50^UK^50387698433528", b"LIN^2^VP^AC-M8-N", b"LIN^3^VP^AC-NOPRICE"):
        body = body.replace(old, old.split(b"^VP^")[0])
    error = _error(body)
    assert (error.pointer, error.segment_id, error.code) == ("/segments/6/3", "LIN", "1")
    assert "no item has a usable identifier" in str(error)


@pytest.mark.parametrize(
    ("old", "new", "pointer", "segment_id", "element", "code"),
    [
        (b"BEG*00*SA*PO-45001", b"BEG*99*SA*PO-45001", "/segments/2/1", "BEG", 1, "7"),
        (b"BEG*00*SA*PO-45001", b"BEG*00*SA*", "/segments/2/3", "BEG", 3, "1"),
        (b"PO1*1*600*EA*0.12", b"PO1*1*6OO*EA*0.12", "/segments/12/2", "PO1", 2, "6"),
        (b"PO1*1*600*EA*0.12", b"PO1*1*600*EACH*0.12", "/segments/12/3", "PO1", 3, "7"),
        (b"PO1*1*600*EA*0.12", b"PO1*1*600*EA*1e3", "/segments/12/4", "PO1", 4, "6"),
        (b"PO1**6*CS", b"PO1*1*6*CS", "/segments/16/1", "PO1", 1, "7"),
        (b"PO1**6*CS*14.50*PE*VP*AC-M8-N", b"PO1**6*CS*14.50", "/segments/16/7", "PO1", 7, "1"),
        (b"UP*061414100041", b"UP*06141410004X", "/segments/12/11", "PO1", 11, "6"),
        (b"BEG*00*SA*PO-45001**20250310", b"BEX", "/segments/2", "BEG", None, "3"),
    ],
)
def test_850_errors_point_at_segment_and_element(
    old: bytes, new: bytes, pointer: str, segment_id: str, element: int | None, code: str
) -> None:
    body = (FIXTURES / "850_tilde_crlf_bom_indented.edi").read_bytes().replace(old, new, 1)
    decoded = CODEC.decode(body)
    if code == "6" and element == 11:
        # A UPC that is not a GTIN is dropped and noted while other ids name the item.
        (po,) = decoded.documents
        assert any("'06141410004X' is not a GTIN" in note for note in po.notes)
        return
    (error,) = decoded.errors
    assert (error.pointer, error.segment_id, error.element, error.code) == (
        pointer, segment_id, element, code)
    assert decoded.reply is not None
    segments = decoded.reply.body.decode().split("~")
    if element is None:
        assert f"AK3*{segment_id}*{pointer.split('/')[2]}**{code}" in segments
    else:
        values = new.split(b"*")
        copy = values[element].decode() if element < len(values) and values[element] else None
        assert (f"AK4*{element}**{code}*{copy}" if copy else f"AK4*{element}**{code}") in segments


def test_odd_envelope_values_do_not_matter_to_the_content() -> None:
    body = (FIXTURES / "856_sotpi_two_orders.edi").read_bytes()
    # Walmart-style quirks: GS01 "IN" on an 856, ISA12 "00204", a 6-digit (YYMMDD) GS04.
    body = body.replace(b"GS*SH*", b"GS*IN*").replace(b"*00401*", b"*00204*").replace(
        b"*20250310*1200*912*", b"*250310*1200*912*")
    (notice,) = CODEC.decode(body).documents
    assert isinstance(notice, ShipNotice) and notice.document_id == "ASN-1001"


@pytest.mark.parametrize(("text", "value"), [
    ("12", Decimal(12)), ("-1.5", Decimal("-1.5")), (".5", Decimal("0.5")), ("1.", Decimal(1)),
    ("1e5", None), ("NaN", None), ("+1", None), ("1.2.3", None), ("", None), ("-", None),
    ("²", None), ("١٢", None),
])
def test_r_numbers(text: str, value: Decimal | None) -> None:
    from wharf.codecs.x12.values import decimal_of

    assert decimal_of(text) == value


@pytest.mark.parametrize(("text", "value"), [
    ("387530", Decimal("3875.30")), ("5770", Decimal("57.70")), ("-123", Decimal("-1.23")),
    ("12.5", Decimal("12.5")), ("x", None),
])
def test_n2_numbers_have_two_implied_decimals(text: str, value: Decimal | None) -> None:
    from wharf.codecs.x12.values import implied_of

    assert implied_of(text) == value


@pytest.mark.parametrize(("text", "value"), [
    ("20250310", dt.date(2025, 3, 10)), ("030619", dt.date(2003, 6, 19)),
    ("971107", dt.date(1997, 11, 7)), ("200", None), ("20250230", None), ("2025031", None),
])
def test_dates(text: str, value: dt.date | None) -> None:
    from wharf.codecs.x12.values import date_of

    assert date_of(text) == value


@pytest.mark.parametrize(("text", "value"), [
    ("1445", dt.time(14, 45)), ("163000", dt.time(16, 30)),
    ("00234648", dt.time(0, 23, 46, 480000)), ("2400", None), ("12", None),
])
def test_times(text: str, value: dt.time | None) -> None:
    from wharf.codecs.x12.values import time_of

    assert time_of(text) == value
