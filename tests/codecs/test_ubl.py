"""The UBL codec on hand-written fixtures: namespaces by URI, code lists, pointers, writing."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest

from wharf.codecs.base import Decoded, Envelope
from wharf.codecs.ubl import PEPPOL_PROFILES, UblCodec
from wharf.errors import MalformedDocument
from wharf.model import (
    Invoice,
    ItemRef,
    Party,
    POAcknowledgment,
    PriceCatalog,
    PurchaseOrder,
    PurchaseOrderLine,
    Quantity,
    ShipNotice,
)
from wharf.model.common import Money
from wharf.model.documents import CatalogLine

FIXTURES = Path(__file__).parent / "fixtures" / "ubl"
CBC = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"


def decode(name: str, **kwargs: object) -> Decoded:
    return UblCodec().decode((FIXTURES / name).read_bytes(), **kwargs)  # type: ignore[arg-type]


def test_order_with_default_namespace_and_peppol_ids() -> None:
    decoded = decode("order.xml")
    assert decoded.reply is None and decoded.acks == []
    [part] = decoded.parts
    assert part.where == "/Order"
    order = part.document
    assert isinstance(order, PurchaseOrder)
    assert order.document_id == "PO-45001"
    assert order.currency == "EUR"
    assert order.supplier == Party(name="Acme Fasteners AB", gln="7300010000018", duns="123456789")
    assert order.buyer == Party(id="NW", name="Northwind Traders", gln="7300010000001")
    assert order.bill_to == Party(name="Northwind AP")
    assert order.ship_to is not None
    assert order.ship_to.id == "67654328394567"  # 14 digits: not a GLN, kept as a plain id
    assert order.ship_to.address is not None
    assert order.ship_to.address.lines == ("Hamngatan 4", "Gate 3")
    assert order.requested_date == dt.date(2025, 3, 20)
    first, second = order.lines
    assert first.item == ItemRef(
        gtin="00614141000418",
        supplier_part="AC-M8-50",
        buyer_part="NW-10042",
        description="Hex bolt M8 x 50, zinc",
    )
    assert first.unit_price == Money(amount=Decimal("1.25"), currency="EUR")  # 12.50 per 10
    assert first.notes == ("Line note",)
    assert second.item.sku == "SKU-9"
    assert second.quantity == Quantity(value=Decimal("2.5"), uom="KGM")
    assert second.requested_date == dt.date(2025, 3, 25)
    assert order.source is not None and order.source.version is None  # no UBLVersionID (Peppol)


def test_any_prefix_and_missing_unit_code() -> None:
    [order] = decode("order_prefixes.xml").documents
    assert isinstance(order, PurchaseOrder)
    assert order.document_id == "AEG-7"
    assert order.issue_date == dt.date(2005, 6, 20)
    assert order.supplier == Party(id="Consortial-1")
    assert order.lines[0].quantity.uom == "C62"
    assert any("no unitCode" in note for note in order.notes)
    assert order.source is not None and order.source.version == "2.0"


def test_an_order_without_a_number_is_rejected_with_a_pointer() -> None:
    [error] = decode("order_empty_id.xml").errors
    assert error.pointer == "/Order/cbc:ID"


def test_order_response_line_statuses() -> None:
    [ack] = decode("order_response.xml").documents
    assert isinstance(ack, POAcknowledgment)
    assert (ack.document_id, ack.po_number, ack.status) == (
        "OR-7",
        "PO-45001",
        "accepted_with_changes",
    )
    assert ack.supplier == Party(gln="7300010000018")
    assert [(line.line_number, line.status) for line in ack.lines] == [
        ("1", "accepted"),
        ("2", "changed_price"),
        ("3", "changed_date"),
        ("4", "rejected"),
        ("5", "substituted"),
        ("6", "changed_quantity"),
    ]
    assert ack.lines[0].item == ItemRef(supplier_part="AC-M8-50")
    assert ack.lines[1].item is None  # <cac:Item/>
    assert ack.lines[3].reason == "Discontinued"
    assert ack.lines[4].substitute == ItemRef(supplier_part="AC-M8-55")


def test_order_response_simple_rejection() -> None:
    [ack] = decode("order_response_simple.xml").documents
    assert isinstance(ack, POAcknowledgment)
    assert (ack.status, ack.po_number, ack.notes) == ("rejected", "AEG012345", ("Out of stock",))
    assert ack.lines == ()


def test_despatch_advice_groups_lines_by_order_and_unit() -> None:
    [notice] = decode("despatch_advice.xml").documents
    assert isinstance(notice, ShipNotice)
    assert notice.shipped_at == dt.datetime(2025, 3, 10, 16, 30, tzinfo=dt.UTC)
    assert notice.estimated_delivery == dt.date(2025, 3, 12)
    assert notice.carrier is not None and (notice.carrier.scac, notice.carrier.name) == (
        "ODFL",
        "Old Dominion",
    )
    assert (notice.tracking_number, notice.bill_of_lading) == ("1Z999AA10123456784", "BOL-558812")
    assert notice.ship_to is not None and notice.ship_to.gln == "0614141999996"
    assert notice.ship_from is not None and notice.ship_from.address is not None
    first, second = notice.orders
    assert first.po_number == "PO-45001"
    [pack] = first.packs
    assert (pack.sscc, pack.packaging_code, len(pack.items)) == ("006141410000000017", "PX", 2)
    assert first.items[0].item.gtin == "00614141000425"
    assert second.po_number == "PO-45002"
    assert second.items[0].item == ItemRef(buyer_part="po-line:7", description="Washer")


def test_invoice_totals_taxes_terms_and_returns() -> None:
    [invoice] = decode("invoice.xml").documents
    assert isinstance(invoice, Invoice)
    assert invoice.document_id == "INV 2025 / 77"
    assert invoice.po_numbers == ("PO-45001", "PO-45002", "PO-45003")
    assert invoice.remit_to == Party(name="Acme Factoring")
    assert invoice.terms is not None
    assert (invoice.terms.net_days, invoice.terms.discount_days) == (30, 10)
    assert invoice.terms.description == "2% 10, net 30"
    assert [(t.kind, t.rate) for t in invoice.taxes] == [("VAT:S", Decimal(25))]  # EUR TaxTotal
    assert invoice.totals.tax_total is not None and invoice.totals.tax_total.amount == Decimal(10)
    assert invoice.totals.total.amount == Decimal(50)  # TaxInclusiveAmount, not PayableAmount
    assert invoice.lines[0].unit_price.amount == Decimal("0.03")
    returned = invoice.lines[1]
    assert returned.quantity.value == Decimal(1) and returned.amount.amount == Decimal("-3.00")
    assert returned.item.buyer_part == "po-line:4"
    assert invoice.allowances_charges[0].code == "FC"


def test_credit_note_keeps_amounts_and_says_so() -> None:
    [invoice] = decode("credit_note.xml").documents
    assert isinstance(invoice, Invoice)
    assert invoice.totals.total.amount == Decimal("100.11")
    assert invoice.notes == ("credit note (UBL CreditNote); amounts as stated",)
    assert invoice.source is not None and invoice.source.position == "/CreditNote"


def test_latin1_invoice() -> None:
    [invoice] = decode("invoice_latin1.xml").documents
    assert isinstance(invoice, Invoice)
    assert invoice.document_id == "F-été-1"
    assert invoice.supplier.name == "Société Générale des Vis"


def test_unsupported_ubl_documents_and_doc_type_mismatch_are_rejected_parts() -> None:
    assert "Catalogue is not supported" in decode("catalogue.xml").errors[0].detail
    [error] = decode("invoice.xml", doc_type="purchase_order").errors
    assert error.pointer == "/Invoice"


@pytest.mark.parametrize(
    "body",
    [
        b"<Invoice/>",
        b'<Invoice xmlns="urn:example"/>',
        b'<x:Order xmlns:x="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>',
        b"ISA*00*",
    ],
)
def test_non_ubl_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedDocument):
        UblCodec().decode(body)


def test_writer_uses_ubl_namespaces_and_peppol_profiles() -> None:
    order = PurchaseOrder(
        document_id="PO-1",
        supplier=Party(gln="7300010000018"),
        lines=(
            PurchaseOrderLine(
                line_number="1",
                item=ItemRef(gtin="00614141000418"),
                quantity=Quantity(value=Decimal(2), uom="C62"),
            ),
        ),
    )
    envelope = Envelope(sender_id="NW", receiver_id="ACME", control_number=1, version="2.1")
    body = UblCodec().encode(order, envelope)
    root = ET.fromstring(body)
    assert root.tag == "{urn:oasis:names:specification:ubl:schema:xsd:Order-2}Order"
    assert root.findtext(f"{CBC}UBLVersionID") == "2.1"
    assert (
        root.findtext(f"{CBC}CustomizationID"),
        root.findtext(f"{CBC}ProfileID"),
    ) == PEPPOL_PROFILES["Order"]
    assert (
        b'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"'
        in body
    )
    custom = UblCodec(profiles={"Order": ("urn:custom", "urn:profile")})
    root = ET.fromstring(custom.encode(order, envelope))
    assert root.findtext(f"{CBC}CustomizationID") == "urn:custom"


def test_writer_rejects_what_ubl_order_cannot_carry() -> None:
    envelope = Envelope(sender_id="NW", receiver_id="ACME", control_number=1)
    change = PurchaseOrder(document_id="PO-1", purpose="cancel", supplier=Party(id="A"))
    with pytest.raises(ValueError, match="original"):
        UblCodec().encode(change, envelope)
    catalog = PriceCatalog(
        document_id="C-1",
        supplier=Party(id="A"),
        currency="EUR",
        effective_from=dt.date(2025, 1, 1),
        lines=(
            CatalogLine(
                item=ItemRef(sku="X"),
                unit_price=Money(amount=Decimal(1), currency="EUR"),
                price_uom="EA",
            ),
        ),
    )
    with pytest.raises(ValueError, match="PriceCatalog"):
        UblCodec().encode(catalog, envelope)
