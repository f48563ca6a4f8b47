"""Every supplier format through the real gateway: mTLS → token → codec → mailbox → posting.

The bodies are written by Wharf's own writers from canonical documents, so each test also
checks that what a writer produces is what the gateway reads.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import anyio
import msgspec

from tests.documents import invoice, ship_notice
from wharf.codecs import Envelope
from wharf.codecs.csv_flat import CsvCodec
from wharf.codecs.cxml import CxmlCodec
from wharf.codecs.edifact import EdifactCodec
from wharf.codecs.ubl import UblCodec
from wharf.codecs.x12 import X12Codec
from wharf.model import Document, InventoryAdvice, decode_document

if TYPE_CHECKING:
    from nats.aio.subscription import Subscription

    from tests.conftest import ClientFactory
    from wharf.runtime import Runtime

NOW = dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.UTC)


def envelope(control: int) -> Envelope:
    return Envelope(sender_id="INITECH", receiver_id="WHARF", control_number=control, created=NOW)


def asn(number: str) -> Document:
    return decode_document(ship_notice(number, supplier="initech"))


async def received(sub: Subscription, count: int) -> list[Document]:
    with anyio.fail_after(10):
        return [decode_document((await sub.next_msg(timeout=10)).data) for _ in range(count)]


async def test_x12_interchanges_split_into_documents_each_posted_with_a_997(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    sub = await wharf.nc.subscribe("wms.receipts.expected")
    codec = X12Codec()
    body = codec.encode(asn("ASN-X1"), envelope(101)) + codec.encode(asn("ASN-X2"), envelope(102))
    response = await partner_client("initech").post(
        "/v1/documents", content=body, headers={"Content-Type": "application/edi-x12"}
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert [d["document_id"] for d in answer["documents"]] == ["ASN-X1", "ASN-X2"]
    assert len({d["correlation_id"] for d in answer["documents"]}) == 2, "one fate each"
    assert all(d["source"].startswith("ST ") for d in answer["documents"])
    assert answer["acknowledgment"]["kind"] == "997"
    assert answer["acknowledgment"]["accepted"] is True
    assert "AK9*A" in answer["acknowledgment"]["body"]
    posted = await received(sub, 2)
    assert sorted(d.document_id for d in posted) == ["ASN-X1", "ASN-X2"]


async def test_x12_client_asking_for_edi_gets_the_997_itself(
    partner_client: ClientFactory,
) -> None:
    body = X12Codec().encode(asn("ASN-X3"), envelope(103))
    response = await partner_client("initech").post(
        "/v1/ship-notices", content=body,
        headers={"Content-Type": "application/edi-x12", "Accept": "application/edi-x12"},
    )
    assert response.status_code == 202
    assert response.headers["content-type"].startswith("application/edi-x12")
    assert response.text.startswith("ISA")
    assert "ST*997*" in response.text
    assert response.headers["wharf-correlation-id"]


async def test_x12_bad_transaction_is_refused_with_a_pointed_997_and_the_good_one_flows(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    sub = await wharf.nc.subscribe("wms.receipts.expected")
    codec = X12Codec()
    good = codec.encode(asn("ASN-OK"), envelope(104))
    bad = codec.encode(asn("ASN-BAD"), envelope(105)).replace(b"SN1**24*EA", b"SN1**24*??")
    response = await partner_client("initech").post(
        "/v1/documents", content=good + bad, headers={"Content-Type": "application/edi-x12"}
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert [d["document_id"] for d in answer["documents"]] == ["ASN-OK"]
    (rejected,) = answer["rejected"]
    assert rejected["segment_id"] == "SN1"
    assert rejected["pointer"].startswith("/segments/")
    assert "AK3*SN1*" in answer["acknowledgment"]["body"]
    assert [d.document_id for d in await received(sub, 1)] == ["ASN-OK"]


async def test_edifact_invoice_gets_a_contrl(wharf: Runtime, partner_client: ClientFactory) -> None:
    sub = await wharf.nc.subscribe("ap.invoice.received")
    body = EdifactCodec().encode(decode_document(invoice("INV-E1", supplier="initech")),
                                 envelope(201))
    response = await partner_client("initech").post(
        "/v1/invoices", content=body, headers={"Content-Type": "application/edifact"}
    )
    assert response.status_code == 202, response.text
    answer = response.json()
    assert answer["acknowledgment"]["kind"] == "CONTRL"
    assert "UCI+" in answer["acknowledgment"]["body"]
    assert [d.document_id for d in await received(sub, 1)] == ["INV-E1"]


async def test_cxml_ship_notice_answered_with_a_cxml_response(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    sub = await wharf.nc.subscribe("wms.receipts.expected")
    body = CxmlCodec().encode(asn("ASN-C1"), envelope(301))
    client = partner_client("initech")
    response = await client.post(
        "/v1/documents", content=body, headers={"Content-Type": "text/xml"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert '<Status code="200"' in response.text
    assert [d.document_id for d in await received(sub, 1)] == ["ASN-C1"]

    broken = await client.post(
        "/v1/documents", content=b"<cXML><Request>", headers={"Content-Type": "text/xml"}
    )
    assert broken.status_code == 400
    assert "<Status code=\"4" in broken.text


async def test_xml_bombs_are_refused_before_anything_is_published(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">&lol2;</Invoice>'
    )
    response = await partner_client("initech").post(
        "/v1/documents", content=bomb, headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    info = await wharf.js.stream_info("WHARF_IN")
    assert info.state.messages == 0


async def test_ubl_invoice(wharf: Runtime, partner_client: ClientFactory) -> None:
    sub = await wharf.nc.subscribe("ap.invoice.received")
    body = UblCodec().encode(decode_document(invoice("INV-U1", supplier="initech")),
                             envelope(401))
    response = await partner_client("initech").post(
        "/v1/documents", content=body, headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["documents"][0]["doc_type"] == "invoice"
    assert [d.document_id for d in await received(sub, 1)] == ["INV-U1"]


async def test_csv_inventory_advice(wharf: Runtime, partner_client: ClientFactory) -> None:
    sub = await wharf.nc.subscribe("planning.inventory.availability")
    advice = msgspec.convert(
        {
            "doc_type": "inventory_advice", "document_id": "INV-ADV-1",
            "supplier": {"id": "initech"}, "as_of": "2026-11-20T08:00:00Z",
            "lines": [{"item": {"supplier_part": "HX-100"},
                       "quantity": {"value": "144", "uom": "EA"}}],
        },
        InventoryAdvice,
    )
    body = CsvCodec().encode(advice, envelope(501))
    response = await partner_client("initech").post(
        "/v1/inventory", content=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 202, response.text
    assert [d.document_id for d in await received(sub, 1)] == ["INV-ADV-1"]


async def test_a_format_the_policy_does_not_allow_is_refused(
    partner_client: ClientFactory,
) -> None:
    body = X12Codec().encode(decode_document(ship_notice("ASN-A1")), envelope(601))
    response = await partner_client("acme").post(
        "/v1/documents", content=body, headers={"Content-Type": "application/edi-x12"}
    )
    assert response.status_code == 403
    assert "may not send x12" in response.json()["detail"]


async def test_a_partners_997_is_taken_as_an_acknowledgment(
    partner_client: ClientFactory,
) -> None:
    body = (
        b"ISA*00*          *00*          *ZZ*INITECH        *ZZ*WHARF          *261120*0830*U*"
        b"00401*000000077*0*P*>~GS*FA*INITECH*WHARF*20261120*0830*77*X*004010~ST*997*0001~"
        b"AK1*PO*5~AK9*A*1*1*1~SE*4*0001~GE*1*77~IEA*1*000000077~"
    )
    response = await partner_client("initech").post(
        "/v1/documents", content=body, headers={"Content-Type": "application/edi-x12"}
    )
    assert response.status_code == 202, response.text
    (ack,) = response.json()["acknowledgments"]
    assert ack["accepted"] is True
    assert ack["acknowledged_control"] == "5"


async def test_json_with_a_byte_order_mark(wharf: Runtime, partner_client: ClientFactory) -> None:
    response = await partner_client("acme").post(
        "/v1/ship-notices", content=b"\xef\xbb\xbf" + ship_notice("ASN-BOM"),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
