"""The cXML codec on hand-written fixtures: mapping, pointers, Responses, secrets, writing."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest

from wharf.codecs.base import Decoded, Envelope
from wharf.codecs.cxml import CxmlCodec
from wharf.errors import MalformedDocument
from wharf.model import (
    InventoryAdvice,
    InventoryLine,
    Invoice,
    ItemRef,
    Party,
    POAcknowledgment,
    PurchaseOrder,
    PurchaseOrderLine,
    Quantity,
    ShipNotice,
)

FIXTURES = Path(__file__).parent / "fixtures" / "cxml"
NOW = dt.datetime(2025, 3, 10, 15, 16, 17, tzinfo=dt.UTC)
SECRETS = {
    "order_request.xml": "s3cr3t-Fixture-9",
    "order_request_bad_quantity.xml": "tw0-many",
    "confirmation_detail.xml": "conf-secret",
    "ship_notice.xml": "asn-secret",
    "ship_notice_header_only.xml": "hdr-secret",
    "invoice_detail.xml": "inv-secret",
    "order_request_latin1.xml": "geheim",
    "order_request_utf16.xml": "geheim",
    "profile_request.xml": "pr0file-s3cret",
}


def codec() -> CxmlCodec:
    return CxmlCodec(clock=lambda: NOW)


def decode(name: str, **kwargs: object) -> Decoded:
    return codec().decode((FIXTURES / name).read_bytes(), **kwargs)  # type: ignore[arg-type]


def status_of(decoded: Decoded) -> tuple[str, str, str | None]:
    assert decoded.reply is not None
    root = ET.fromstring(decoded.reply.body)
    status = root.find("Response/Status")
    assert status is not None
    return status.get("code") or "", status.get("text") or "", status.text


def test_order_request_becomes_a_purchase_order() -> None:
    decoded = decode("order_request.xml")
    [part] = decoded.parts
    order = part.document
    assert isinstance(order, PurchaseOrder)
    assert part.where == "/cXML/Request/OrderRequest"
    assert part.control == "1741619700.42.7@buyer.example"
    assert order.document_id == "PO-45001"
    assert order.purpose == "original"
    assert order.issue_date == dt.date(2025, 3, 10)
    assert order.requested_date == dt.date(2025, 3, 20)
    assert order.currency == "USD"
    assert order.supplier == Party(id="ACME", name="Acme Fasteners Inc.", duns="123456789")
    assert order.buyer == Party(name="Northwind Traders")
    assert order.ship_to is not None and order.ship_to.gln == "0614141999996"
    assert order.ship_to.address is not None
    assert order.ship_to.address.lines == ("Receiving Dock 4", "4000 Distribution Pkwy")
    assert order.notes == ("Deliver before noon – don’t stack",)
    first, second = order.lines
    assert first.quantity == Quantity(value=Decimal(600), uom="EA")  # "600.000000", "ea"
    assert first.item == ItemRef(
        gtin="00614141000418",
        supplier_part="AC-M8-50",
        buyer_part="NW-10042",
        description="Hex bolt M8 x 50",
    )
    assert second.requested_date == dt.date(2025, 3, 18)
    assert second.notes == ("Partial shipments OK",)
    assert order.source is not None
    assert (order.source.format, order.source.version, order.source.position) == (
        "cxml",
        "1.2.050",
        "/cXML/Request/OrderRequest",
    )


def test_every_request_is_answered_with_a_response() -> None:
    decoded = decode("order_request.xml")
    assert decoded.reply is not None
    assert decoded.reply.kind == "cxml-response"
    assert decoded.reply.media_type == "text/xml"
    assert decoded.reply.accepted
    root = ET.fromstring(decoded.reply.body)
    assert root.get("payloadID") == "reply.1741619700.42.7@buyer.example"
    assert root.get("timestamp") == "2025-03-10T15:16:17+00:00"
    assert status_of(decoded) == ("200", "OK", None)
    assert decoded.reply.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE cXML')


def test_a_bad_quantity_points_at_the_attribute() -> None:
    decoded = decode("order_request_bad_quantity.xml")
    [error] = decoded.errors
    assert error.pointer == "/cXML/Request/OrderRequest/ItemOut[2]/@quantity"
    assert "'two'" in error.detail
    assert decoded.reply is not None and not decoded.reply.accepted
    code, text, detail = status_of(decoded)
    assert (code, text) == ("400", "Bad Request")
    assert detail is not None and detail.startswith(
        "/cXML/Request/OrderRequest/ItemOut[2]/@quantity: "
    )


def test_encodings_decode_to_the_same_order() -> None:
    latin1 = decode("order_request_latin1.xml").documents
    utf16 = decode("order_request_utf16.xml").documents
    assert isinstance(latin1[0], PurchaseOrder) and isinstance(utf16[0], PurchaseOrder)
    assert latin1[0].document_id == utf16[0].document_id == "B-ÉTÉ-1"
    assert latin1[0].ship_to == utf16[0].ship_to
    assert utf16[0].lines[0].item.description == "Größe M – café"


def test_one_line_prolog_space_in_payload_id_and_missing_line_numbers() -> None:
    [order] = decode("order_request_one_line_prolog.xml").documents
    assert isinstance(order, PurchaseOrder)
    assert order.purpose == "change"
    assert order.issue_date == dt.date(21, 2, 1)  # nonsense, but a date: kept as stated
    assert order.source is not None and order.source.interchange_control == "20190318 0942100"
    assert order.source.version == "1.2.060"
    assert order.lines[0].line_number == "1"
    assert "ItemOut[1] has no lineNumber; its position is used" in order.notes


def test_confirmation_line_statuses() -> None:
    [ack] = decode("confirmation_detail.xml").documents
    assert isinstance(ack, POAcknowledgment)
    assert (ack.document_id, ack.po_number, ack.status) == (
        "CONF-88",
        "PO-45001",
        "accepted_with_changes",
    )
    assert [(line.line_number, line.status) for line in ack.lines] == [
        ("1", "accepted"),
        ("2", "accepted"),
        ("2", "backordered"),
        ("3", "changed_price"),
        ("4", "substituted"),
        ("5", "changed_date"),
        ("6", "rejected"),
        ("7", "changed_quantity"),
        ("8", "backordered"),
    ]
    split = ack.lines[2]
    assert split.quantity == Quantity(value=Decimal(4), uom="CS")
    assert split.promised_date == dt.date(2025, 4, 2)
    assert split.reason == "Restock due April"
    substituted = ack.lines[4]
    assert substituted.substitute == ItemRef(
        supplier_part="AC-M8-55", description="Hex bolt M8 x 55"
    )
    assert substituted.unit_price is not None and substituted.unit_price.amount == Decimal("1.30")
    assert ack.lines[8].reason == "status unknown"
    assert ack.supplier == Party(id="123456789")  # the From credential stands in


def test_whole_order_rejection_without_ids_falls_back_with_notes() -> None:
    [ack] = decode("confirmation_reject.xml").documents
    assert isinstance(ack, POAcknowledgment)
    assert ack.status == "rejected" and not ack.lines
    assert ack.document_id == "conf-2@acme.example"
    assert ack.po_number == "PO-46000"
    assert ack.notes[0] == "Credit hold"
    assert any("no confirmID" in note for note in ack.notes)


def test_ship_notice_packs_and_loose_items() -> None:
    [notice] = decode("ship_notice.xml").documents
    assert isinstance(notice, ShipNotice)
    assert notice.document_id == "ASN-1001"
    assert notice.shipped_at == dt.datetime(2025, 3, 10, 16, 30, tzinfo=dt.UTC)
    assert notice.estimated_delivery == dt.date(2025, 3, 12)
    assert notice.carrier is not None and notice.carrier.scac == "ODFL"
    assert (notice.tracking_number, notice.bill_of_lading) == ("1Z999AA10123456784", "BOL-558812")
    assert notice.ship_to == Party(id="DC-MEM", name="Northwind DC Memphis")
    first, second = notice.orders
    assert [pack.sscc for pack in first.packs] == ["006141410000000017", "006141410000000024"]
    assert first.packs[0].packaging_code == "CTN25"
    assert [item.line_number for item in first.items] == ["2"]
    assert second.po_number == "PO-45002"
    assert second.items[0].item.description == "Washer"


def test_header_only_ship_notice_is_an_order_without_lines() -> None:
    decoded = decode("ship_notice_header_only.xml")
    [notice] = decoded.documents
    assert isinstance(notice, ShipNotice)
    assert notice.document_id == "S2-123"
    [order] = notice.orders
    assert (order.po_number, order.packs, order.items) == ("PO-45001", (), ())
    assert status_of(decoded)[0] == "200"
    written = codec().encode(notice, _envelope())
    [portion] = ET.fromstring(written).iter("ShipNoticePortion")
    assert portion.find("ShipNoticeItem") is None
    [again] = codec().decode(written).documents
    assert isinstance(again, ShipNotice) and again.orders == notice.orders


def test_ship_notice_without_portions_is_rejected_with_a_pointer() -> None:
    body = (FIXTURES / "ship_notice_header_only.xml").read_bytes()
    start, end = body.index(b"<ShipNoticePortion>"), body.index(b"</ShipNoticePortion>")
    decoded = codec().decode(body[:start] + body[end + len(b"</ShipNoticePortion>") :])
    [error] = decoded.errors
    assert error.pointer == "/cXML/Request/ShipNoticeRequest"
    assert "no ShipNoticePortion" in error.detail
    assert status_of(decoded)[0] == "400"


def test_invoice_detail_request() -> None:
    [invoice] = decode("invoice_detail.xml").documents
    assert isinstance(invoice, Invoice)
    assert invoice.document_id == "INV-2025-77"
    assert invoice.invoice_date == dt.date(2025, 3, 20)
    assert invoice.po_numbers == ("PO-45001", "PO-45002")
    assert invoice.supplier.gln == "0614141000012"
    assert invoice.buyer == Party(id="NW", name="Northwind Traders")  # soldTo before billTo
    assert invoice.remit_to is not None and invoice.remit_to.name == "Acme Lockbox"
    assert invoice.terms is not None
    assert (invoice.terms.net_days, invoice.terms.discount_days) == (30, 10)
    assert invoice.terms.discount_percent == Decimal(2)
    assert [line.po_line_number for line in invoice.lines] == ["1", "2"]
    assert invoice.lines[1].amount.amount == Decimal("484.50")  # computed, with a note
    assert invoice.lines[1].item.buyer_part == "po-line:2"
    assert [(ac.kind, ac.code) for ac in invoice.allowances_charges] == [
        ("charge", "shipping"),
        ("allowance", "Promotion"),
    ]
    assert [(t.kind, t.rate) for t in invoice.taxes] == [("sales", Decimal(7))]
    assert invoice.totals.total.amount == Decimal("1302.00")
    assert "credit memo (cXML purpose creditMemo); amounts as stated" in invoice.notes


def test_template_placeholders_are_read_leniently_with_notes() -> None:
    [invoice] = decode("invoice_placeholders.xml").documents
    assert isinstance(invoice, Invoice)
    assert invoice.invoice_date == dt.date(2018, 5, 4)  # from the cXML timestamp
    assert invoice.currency == "XXX"
    assert invoice.totals.total.amount == Decimal(10)
    assert len(invoice.notes) == 3


def test_doc_type_mismatch_is_not_acceptable() -> None:
    decoded = decode("order_request.xml", doc_type="ship_notice")
    [error] = decoded.errors
    assert error.code == "406"
    assert status_of(decoded)[:2] == ("406", "Not Acceptable")


def test_unsupported_requests_are_not_implemented() -> None:
    decoded = decode("profile_request.xml")
    assert decoded.errors[0].code == "450"
    assert status_of(decoded)[:2] == ("450", "Not Implemented")


def test_a_request_must_hold_exactly_one_element() -> None:
    body = b'<cXML payloadID="p" timestamp="t"><Request><OrderRequest/><OrderRequest/></Request></cXML>'
    decoded = codec().decode(body)
    assert decoded.errors[0].pointer == "/cXML/Request"
    assert decoded.reply is not None and not decoded.reply.accepted


@pytest.mark.parametrize("body", [b"<Invoice/>", b'<cXML payloadID="p"><Header/></cXML>', b"{}"])
def test_non_cxml_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedDocument):
        codec().decode(body)


def test_error_reply_answers_malformed_bodies_in_kind() -> None:
    try:
        codec().decode(b"<cXML")
    except MalformedDocument as exc:
        answer = codec().error_reply(exc, "p-1")
    assert not answer.accepted
    assert b'code="400"' in answer.body and b"reply.p-1" in answer.body


def test_inbound_responses_become_functional_acks() -> None:
    ok = decode("response_ok.xml")
    assert ok.parts == [] and ok.reply is None
    [ack] = ok.acks
    assert (ack.format, ack.acknowledged_control, ack.accepted) == (
        "cxml",
        "resp-1@acme.example",
        True,
    )
    [refused] = decode("response_error.xml").acks
    assert not refused.accepted
    assert refused.errors == ["406 Not Acceptable: Unknown supplier part AC-X"]


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_the_shared_secret_never_leaves_the_codec(name: str) -> None:
    decoded = decode(name)
    secret = SECRETS[name]
    assert secret not in repr(decoded.parts)
    assert secret not in repr(decoded.acks)
    assert decoded.reply is not None and secret.encode() not in decoded.reply.body


def test_the_secret_is_scrubbed_even_from_the_value_an_error_quotes() -> None:
    body = (
        (FIXTURES / "order_request_bad_quantity.xml").read_bytes().replace(b'"two"', b'"tw0-many"')
    )
    decoded = codec().decode(body)
    [error] = decoded.errors
    assert "tw0-many" not in error.detail and "***" in error.detail
    assert decoded.reply is not None and b"tw0-many" not in decoded.reply.body


def _order() -> PurchaseOrder:
    return PurchaseOrder(
        document_id="PO-1",
        supplier=Party(id="ACME"),
        lines=(
            PurchaseOrderLine(
                line_number="1",
                item=ItemRef(supplier_part="X"),
                quantity=Quantity(value=Decimal(2), uom="EA"),
            ),
        ),
    )


def _envelope(**kwargs: object) -> Envelope:
    return Envelope(
        sender_id="NORTHWIND",
        receiver_id="123456789",
        control_number=42,
        receiver_qualifier="01",
        created=NOW,
        **kwargs,  # type: ignore[arg-type]
    )


def test_writer_builds_the_header_from_the_envelope_without_a_secret() -> None:
    body = codec().encode(_order(), _envelope())
    assert body.startswith(
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<!DOCTYPE cXML SYSTEM "http://xml.cxml.org/schemas/cXML/1.2.050/cXML.dtd">'
    )
    root = ET.fromstring(body)
    assert root.get("payloadID") == "42.20250310T151617@wharf"
    assert root.get("timestamp") == "2025-03-10T15:16:17+00:00"
    header = root.find("Header")
    assert header is not None
    assert header.findtext("From/Credential/Identity") == "NORTHWIND"
    assert header.find("From/Credential").get("domain") == "NetworkID"  # type: ignore[union-attr]
    assert header.findtext("To/Credential/Identity") == "123456789"
    assert header.find("To/Credential").get("domain") == "DUNS"  # type: ignore[union-attr]
    assert header.findtext("Sender/Credential/Identity") == "NORTHWIND"
    assert header.find("Sender/Credential/SharedSecret") is None
    assert root.find("Request").get("deploymentMode") == "production"  # type: ignore[union-attr]


def test_the_shared_secret_hook_adds_credentials() -> None:
    writer = CxmlCodec(shared_secret=lambda envelope: f"secret-for-{envelope.receiver_id}")
    root = ET.fromstring(writer.encode(_order(), _envelope(test=True, version="1.2.060")))
    assert root.findtext("Header/Sender/Credential/SharedSecret") == "secret-for-123456789"
    assert root.find("Request").get("deploymentMode") == "test"  # type: ignore[union-attr]


def test_writer_rejects_documents_cxml_cannot_carry() -> None:
    advice = InventoryAdvice(
        document_id="INV-1",
        supplier=Party(id="ACME"),
        as_of=NOW,
        lines=(
            InventoryLine(item=ItemRef(sku="X"), quantity=Quantity(value=Decimal(1), uom="EA")),
        ),
    )
    with pytest.raises(ValueError, match="InventoryAdvice"):
        codec().encode(advice, _envelope())


def test_a_long_secret_is_scrubbed_even_when_an_error_cuts_it_short() -> None:
    secret = "Very-Long-Shared-Secret-0123456789-abcdefghijklmnop"
    body = (
        (FIXTURES / "order_request_bad_quantity.xml")
        .read_bytes()
        .replace(b"tw0-many", secret.encode())
        .replace(b'"two"', f'"{secret}"'.encode())
        .replace(b'currency="USD">3<', f'currency="{secret}">3<'.encode())
    )
    decoded = codec().decode(body)
    seen = repr(decoded.parts) + (decoded.reply.body.decode() if decoded.reply else "")
    assert secret[:12] not in seen


def test_notes_that_quote_a_value_are_scrubbed_too() -> None:
    body = (
        (FIXTURES / "order_request.xml")
        .read_bytes()
        .replace(b'currency="USD"', b'currency="s3cr3t-Fixture-9"')
    )
    [order] = codec().decode(body).documents
    assert order.notes[-1].startswith("currency '***'")
    assert "s3cr3t" not in repr(order)
