"""EDIFACT messages to canonical documents: ORDERS, ORDRSP, DESADV, INVOIC."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from wharf.codecs.edifact import EdifactCodec
from wharf.model import (
    Carrier,
    Invoice,
    ItemRef,
    Money,
    Party,
    POAcknowledgment,
    PurchaseOrder,
    Quantity,
    ShipNotice,
    SourceRef,
)

FIXTURES = Path(__file__).parent / "fixtures" / "edifact"


def documents(name: str) -> list[object]:
    decoded = EdifactCodec().decode((FIXTURES / name).read_bytes())
    assert decoded.errors == [], [e.detail for e in decoded.errors]
    return list(decoded.documents)


def test_orders_with_decimal_comma_eancom_and_no_unz() -> None:
    (po,) = documents("orders_d96a_decimal_comma_no_unz.edi")
    assert isinstance(po, PurchaseOrder)
    assert po.document_id == "PO-1001"
    assert po.purpose == "original"
    assert po.issue_date == dt.date(2025, 3, 1)
    assert po.requested_date == dt.date(2025, 3, 10)
    assert po.currency == "EUR"
    assert po.notes == ("DELIVER TO DOCK 4",)
    assert po.supplier == Party(id="ACME", gln="5412345000020")
    assert po.buyer is not None and po.buyer.name == "NORTHWIND DC"
    assert po.buyer.address is not None and po.buyer.address.region == "TN"
    assert po.ship_to == Party(gln="5412345000037")
    first, second = po.lines
    assert first.item == ItemRef(
        sku="NW-10042", gtin="5412345000051", supplier_part="AC-M8-50", description="HEX BOLT M8X50"
    )
    assert first.quantity == Quantity(value=Decimal("12.5"), uom="KGM")
    assert first.unit_price == Money(amount=Decimal("25.50"), currency="EUR")
    # PRI+AAA:1,5::NTP:10 is 1.5 per 10 units.
    assert second.unit_price == Money(amount=Decimal("0.15"), currency="EUR")
    assert second.quantity == Quantity(value=Decimal(100), uom="EA")
    assert second.requested_date == dt.date(2025, 3, 12)
    assert po.source == SourceRef(
        format="edifact",
        version="D96A/EAN008",
        interchange_control="REF0001",
        transaction_control="M1",
        position="UNH@2",
    )


def test_orders_without_una_or_currency_keeps_the_price_as_a_note() -> None:
    (po,) = documents("orders_d96a_no_una.edi")
    assert isinstance(po, PurchaseOrder)
    assert po.purpose == "change"
    assert po.supplier == Party(duns="987654321")
    assert po.buyer == Party(id="BUYER01")
    (line,) = po.lines
    assert line.unit_price is None
    assert line.notes == ("EDIFACT: unit price 25.00 sent without a currency (CUX)",)


def test_orders_latin1_units_that_had_to_be_mapped_are_noted() -> None:
    (po,) = documents("orders_d01b_latin1_escapes.edi")
    assert isinstance(po, PurchaseOrder)
    first, second = po.lines
    assert first.quantity.uom == "PK"
    assert first.notes == ("EDIFACT: unit of measure sent as 'GBND'",)
    assert first.item.sku == "6001001" and first.item.supplier_part == "1001"
    assert second.quantity.uom == "STK" and second.notes == ()
    assert po.buyer is not None and po.buyer.address is not None
    assert po.buyer.address.city == "Düsseldorf"


def test_ordrsp_line_statuses() -> None:
    (ack,) = documents("ordrsp_line_statuses.edi")
    assert isinstance(ack, POAcknowledgment)
    assert (ack.document_id, ack.po_number, ack.status) == (
        "ACK-9",
        "PO-1001",
        "accepted_with_changes",
    )
    statuses = [(line.line_number, line.status) for line in ack.lines]
    assert statuses == [
        ("1", "accepted"),
        ("2", "changed_quantity"),
        ("3", "changed_date"),
        ("4", "substituted"),
        ("5", "backordered"),
        ("6", "rejected"),
        ("7", "changed_date"),
    ]
    lines = {line.line_number: line for line in ack.lines}
    assert lines["1"].item == ItemRef(gtin="5412345000051")
    assert lines["2"].quantity == Quantity(value=Decimal(80), uom="EA")
    assert lines["3"].promised_date == dt.date(2025, 3, 20)
    assert lines["4"].substitute == ItemRef(gtin="5412345000099", supplier_part="NEW-1")
    assert lines["5"].quantity == Quantity(value=Decimal(7), uom="EA")
    assert lines["6"].reason == "DISCONTINUED"
    assert lines["7"].reason == "CARRIER DELAY"
    assert lines["7"].unit_price == Money(amount=Decimal("9.99"), currency="USD")


def test_ordrsp_on_one_line_with_mismatched_trailers_is_read() -> None:
    (ack,) = documents("ordrsp_single_line_mismatched_trailers.edi")
    assert isinstance(ack, POAcknowledgment)
    assert ack.po_number == "00001672"
    assert ack.status == "accepted"
    # No NAD+SU: the interchange sender is the supplier.
    assert ack.supplier == Party(id="9900080000007")
    (line,) = ack.lines
    assert line.quantity == Quantity(value=Decimal(1), uom="PCS")
    assert line.reason == "Text1 Text2"


def test_desadv_cps_hierarchy_becomes_orders_and_packs() -> None:
    (asn,) = documents("desadv_cps_hierarchy.edi")
    assert isinstance(asn, ShipNotice)
    assert asn.document_id == "ASN-1001"
    assert asn.shipped_at == dt.datetime(2025, 3, 10, 16, 30)
    assert asn.estimated_delivery == dt.date(2025, 3, 12)
    assert asn.carrier == Carrier(scac="ODFL", name="OLD DOMINION")
    assert asn.tracking_number == "1Z999AA10123456784"
    assert asn.bill_of_lading == "BOL-558812"
    assert asn.ship_from is not None and asn.ship_from.name == "ACME PLANT 2"
    assert asn.ship_to is not None and asn.ship_to.gln == "5412345000037"
    first, second = asn.orders
    assert first.po_number == "PO-45001"
    (carton,) = first.packs
    assert carton.sscc == "006141410000000017"  # the carton's, not the pallet's
    assert carton.packaging_code == "CT"
    assert [(i.line_number, i.quantity.value) for i in carton.items] == [("1", Decimal(600))]
    # CPS+4+4 (its own parent, no PAC, no SSCC): loose items of the header's order.
    assert [(i.line_number, i.quantity.uom) for i in first.items] == [("2", "CS")]
    assert second.po_number == "PO-45002"
    assert second.packs[0].items[0].line_number == "3"


def test_desadv_flat_with_huge_quantities() -> None:
    first, second = documents("desadv_flat_big_quantities.edi")
    assert isinstance(first, ShipNotice) and isinstance(second, ShipNotice)
    values = [item.quantity.value for item in first.orders[0].items]
    assert values == [Decimal("80000000.000"), Decimal("121212121212.121")]
    assert str(values[1]) == "121212121212.121"
    assert second.document_id == "VERZENDVB7"


def test_desadv_utf8_under_unoc1_and_version_zero() -> None:
    (asn,) = documents("desadv_utf8_declared_unoc.edi")
    assert isinstance(asn, ShipNotice)
    (item,) = asn.orders[0].items
    assert item.item == ItemRef(gtin="9780738507330", description="MUNCIË THE MIDDLE")
    assert item.line_number == "6877871"
    assert asn.source is not None and asn.source.version == "096A"


def test_invoic_with_allowances_taxes_terms_and_price_basis() -> None:
    (invoice,) = documents("invoic_d01b_bom_indented.edi")
    assert isinstance(invoice, Invoice)
    assert invoice.document_id == "INV-5001"
    assert invoice.invoice_date == dt.date(2025, 3, 15)
    assert invoice.po_numbers == ("PO-1001",)
    assert invoice.remit_to is not None and invoice.remit_to.name == "ACME LOCKBOX"
    assert invoice.terms is not None
    assert (invoice.terms.net_days, invoice.terms.discount_days) == (30, 10)
    assert invoice.terms.discount_percent == Decimal("2.5")
    charge, allowance = invoice.allowances_charges
    assert (charge.kind, charge.code, charge.description, charge.amount.amount) == (
        "charge",
        "FC",
        "FREIGHT",
        Decimal("125.00"),
    )
    assert (allowance.kind, allowance.code) == ("allowance", "ABH")
    first, second = invoice.lines
    assert first.unit_price.amount == Decimal(25)  # 2500 per 100
    assert first.po_line_number == "1"
    assert first.item.description == "CORN CRUNCHIES CASE"
    # No MOA+203 on the second line: quantity x price.
    assert second.amount.amount == Decimal("12.30")
    assert invoice.totals.total.amount == Decimal("1352.30")
    assert invoice.totals.subtotal is not None and invoice.totals.tax_total is not None
    (tax,) = invoice.taxes
    assert (tax.kind, tax.rate, tax.amount.amount) == ("VAT", Decimal(21), Decimal("225.00"))


def test_invoic_credit_note_and_missing_bgm_are_noted() -> None:
    body = (
        "UNB+UNOA:1+SUP+BUY+991006:1902+X1'UNH+1+INVOIC:D:97A:UN'DTM+137:19991006:102'"
        "CUX+2:EUR'LIN+++090346642:IN'QTY+12:54:PCE'MOA+203:1960.29'"
        "PRI+AAA:3630.1724::NTP:100:C62'UNS+S'MOA+77:1960.29'UNT+10+1'UNZ+1+X1'"
    )
    (invoice,) = EdifactCodec().decode(body.encode()).documents
    assert isinstance(invoice, Invoice)
    assert invoice.document_id == "1"
    assert invoice.notes == (
        "EDIFACT: no document number in BGM; the message reference 1 stands in",
    )
    assert invoice.supplier == Party(id="SUP")
    (line,) = invoice.lines
    assert line.line_number == "1"
    assert line.unit_price.amount == Decimal("36.301724")
    credit = body.replace("UNH+1+INVOIC:D:97A:UN'", "UNH+1+INVOIC:D:97A:UN'BGM+381+CN-1+9'")
    (note,) = EdifactCodec().decode(credit.encode()).documents
    assert note.document_id == "CN-1"
    assert note.notes == ("EDIFACT: BGM document name 381 (credit note)",)


def test_one_bad_message_does_not_sink_the_other() -> None:
    decoded = EdifactCodec().decode((FIXTURES / "invoic_two_messages_one_bad.edi").read_bytes())
    assert [p.where for p in decoded.parts] == ["UNH A1 (INVOIC)", "UNH A2 (INVOIC)"]
    assert [p.control for p in decoded.parts] == ["A1", "A2"]
    assert decoded.parts[0].document is not None
    error = decoded.parts[1].error
    assert error is not None
    assert (error.pointer, error.segment, error.segment_id, error.element, error.code) == (
        "/segments/3/1",
        3,
        "DTM",
        1,
        "12",
    )


def test_unsupported_types_are_error_parts() -> None:
    decoded = EdifactCodec().decode((FIXTURES / "mixed_unsupported_types.edi").read_bytes())
    assert [p.where for p in decoded.parts] == [
        "UNH 42 (IFTMIN)",
        "UNH 43 (ORDERS)",
        "UNH 44 (PRICAT)",
    ]
    assert [p.error.code if p.error else None for p in decoded.parts] == ["17", None, "17"]
    (po,) = decoded.documents
    assert isinstance(po, PurchaseOrder)
    assert po.lines[0].quantity.value == Decimal("1.5")
    assert po.lines[0].unit_price == Money(amount=Decimal("10.25"), currency="DKK")


def test_doc_type_rejects_messages_of_another_type() -> None:
    body = (FIXTURES / "orders_d96a_no_una.edi").read_bytes()
    decoded = EdifactCodec().decode(body, doc_type="ship_notice")
    (error,) = decoded.errors
    assert (error.code, error.pointer) == ("14", "/segments/1/2")
    assert EdifactCodec().decode(body, doc_type="purchase_order").errors == []


def test_groups_fill_the_group_control() -> None:
    (asn,) = documents("ung_groups.edi")
    assert isinstance(asn, ShipNotice) and asn.source is not None
    assert asn.source.group_control == "GRP9"


@pytest.mark.parametrize(
    ("segment", "code", "pointer"),
    [
        ("LIN+1++X1:SA'QTY+21:-4", "12", "/segments/5/1"),
        ("LIN+1++X1:SA'QTY+21:4:BUNDLE", "12", "/segments/5/1"),
        ("LIN+1++123:EN'QTY+21:4", "12", "/segments/4/3"),
        ("LIN+1'QTY+21:4", "13", "/segments/4/3"),
        ("LIN+1++X1:SA", "13", "/segments/4"),
        ("LIN+1++X1:SA'QTY+21:4'LIN+1++X2:SA'QTY+21:1", "12", "/segments/6/1"),
        ("LIN+123456789012345678901++X1:SA'QTY+21:4", "39", "/segments/4/1"),
        ("LIN+1++X1:SA'QTY+21:4'DTM+2:20251301:102", "12", "/segments/6/1"),
    ],
)
def test_line_errors_point_at_segment_and_element(segment: str, code: str, pointer: str) -> None:
    body = (
        "UNB+UNOC:3+S+R+250101:0000+1'UNH+1+ORDERS:D:96A:UN'BGM+220+PO+9'NAD+SU+SUP::92'"
        f"{segment}'UNS+S'UNT+9+1'UNZ+1+1'"
    )
    (error,) = EdifactCodec().decode(body.encode()).errors
    assert (error.code, error.pointer) == (code, pointer), error.detail


def test_party_rules() -> None:
    body = (
        "UNB+UNOC:3+S+R+250101:0000+1'UNH+1+ORDERS:D:96A:UN'BGM+220+PO+9'"
        "NAD+SU+123456789::9'NAD+BY+5412345000013::9'RFF+API:NW'NAD+DP'NAD+IV+++X+++++de'"
        "LIN+1++X1:SA'QTY+21:1'UNT+10+1'UNZ+1+1'"
    )
    (po,) = EdifactCodec().decode(body.encode()).documents
    assert isinstance(po, PurchaseOrder)
    assert po.supplier == Party(id="123456789")  # agency 9 but not 13 digits: not a GLN
    assert po.buyer == Party(id="NW", gln="5412345000013")
    assert po.ship_to is None  # NAD+DP with nothing in it
    assert po.bill_to is not None and po.bill_to.address is not None
    assert po.bill_to.address.country == "DE"
