"""The walking skeleton end to end: mTLS → JetStream mailbox → actor → posting → trace."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import pytest

from tests.documents import invoice, ship_notice
from wharf.model import ShipNotice, decode_document

if TYPE_CHECKING:
    import httpx

    from tests.conftest import ClientFactory
    from wharf.observability.tracestore import Trace
    from wharf.runtime import Runtime

JSON = {"Content-Type": "application/json"}


async def wait_for_trace(
    wharf: Runtime, correlation_id: str, until: str, *, count: int = 1, within: float = 10
) -> Trace:
    """Wait (bounded) until the trace holds ``count`` events named ``until``."""
    with anyio.fail_after(within):
        while True:
            trace = await wharf.traces.get(correlation_id)
            if trace and sum(e.event == until for e in trace.events) >= count:
                return trace
            await wharf.traces.wait_changed()


async def stream_count(wharf: Runtime, stream: str, subject: str) -> int:
    info = await wharf.js.stream_info(stream, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


async def test_ship_notice_posted_and_traced(
    wharf: Runtime, partner_client: ClientFactory, internal_client: httpx.AsyncClient
) -> None:
    sub = await wharf.nc.subscribe("wms.receipts.expected")
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    client = partner_client("acme")
    response = await client.post(
        "/v1/ship-notices", content=ship_notice("ASN-77"),
        headers={**JSON, "traceparent": traceparent},
    )
    assert response.status_code == 202, response.text
    reply = response.json()
    correlation_id = reply["correlation_id"]
    assert reply["status_url"].endswith(f"/v1/traces/{correlation_id}")
    assert reply["documents"] == [
        {"correlation_id": correlation_id, "doc_type": "ship_notice",
         "document_id": "ASN-77", "status_url": reply["status_url"]}
    ]

    msg = await sub.next_msg(timeout=10)
    posted = decode_document(msg.data)
    assert isinstance(posted, ShipNotice) and posted.document_id == "ASN-77"
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == f"{correlation_id}:wms.receipts.expected"
    assert msg.headers["ce-correlationid"] == correlation_id
    assert msg.headers["ce-partner"] == "acme"
    assert msg.headers["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    await sub.unsubscribe()

    await wait_for_trace(wharf, correlation_id, "posted", count=2)
    got = await internal_client.get(f"/internal/v1/traces/{correlation_id}")
    assert got.status_code == 200
    trace = got.json()
    assert trace["status"] == "posted"
    assert [e["event"] for e in trace["events"]] == [
        "received", "transformed", "validated", "posted", "posted"
    ]
    assert {e.get("target") for e in trace["events"][3:]} == {
        "wms.receipts.expected", "erp.purchasing.asn"
    }
    assert trace["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"

    # the owning partner reads the same timeline on the partner listener
    own = await client.get(f"/v1/traces/{correlation_id}")
    assert own.status_code == 200 and own.json()["status"] == "posted"


async def test_events_are_cloudevents_in_binary_mode(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    sub = await wharf.nc.subscribe("wharf.evt.ship_notice.posted")
    response = await partner_client("acme").post("/v1/documents", content=ship_notice(), headers=JSON)
    assert response.status_code == 202
    msg = await sub.next_msg(timeout=10)
    assert msg.headers is not None
    assert msg.headers["ce-specversion"] == "1.0"
    assert msg.headers["ce-type"] == "wharf.ship_notice.posted"
    assert msg.headers["ce-correlationid"] == response.json()["correlation_id"]
    assert msg.headers["ce-partner"] == "acme"
    assert len(msg.headers["traceparent"].split("-")) == 4
    await sub.unsubscribe()


async def test_repeated_idempotency_key_posts_once(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    client = partner_client("acme")
    headers = {**JSON, "Idempotency-Key": "asn-500-attempt"}
    first = await client.post("/v1/ship-notices", content=ship_notice("ASN-500"), headers=headers)
    second = await client.post("/v1/ship-notices", content=ship_notice("ASN-500"), headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["correlation_id"] == second.json()["correlation_id"]
    assert second.headers["Idempotent-Replayed"] == "true"

    # same key, another body: refused, never silently accepted as the first document
    conflict = await client.post("/v1/ship-notices", content=ship_notice("ASN-501"), headers=headers)
    assert conflict.status_code == 422
    assert conflict.headers["content-type"] == "application/problem+json"

    # a different key is a different document: the counter below can see a second posting
    third = await client.post("/v1/ship-notices", content=ship_notice("ASN-502"), headers=JSON)
    await wait_for_trace(wharf, third.json()["correlation_id"], "posted", count=2)
    await wait_for_trace(wharf, first.json()["correlation_id"], "posted", count=2)
    assert await stream_count(wharf, "WHARF_IN", "wharf.in.acme.>") == 2
    assert await stream_count(wharf, "WHARF_POST", "wms.receipts.expected") == 2
    assert await wharf.ledger.count(first.json()["correlation_id"]) == 2


async def test_content_hash_is_the_default_key(wharf: Runtime, partner_client: ClientFactory) -> None:
    client = partner_client("acme")
    first = await client.post("/v1/documents", content=ship_notice("ASN-9"), headers=JSON)
    again = await client.post("/v1/documents", content=ship_notice("ASN-9"), headers=JSON)
    assert first.json()["correlation_id"] == again.json()["correlation_id"]
    assert await stream_count(wharf, "WHARF_IN", "wharf.in.acme.>") == 1


async def test_malformed_json_is_400_with_pointer_and_publishes_nothing(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    client = partner_client("acme")
    response = await client.post("/v1/documents", content=b'{"doc_type": "ship_', headers=JSON)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["pointer"] == ""
    assert "JSON" in problem["detail"]
    assert await stream_count(wharf, "WHARF_IN", "wharf.in.>") == 0


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (ship_notice(uom="ea"), "/orders/0/packs/0/items/0/quantity/uom"),
        (b'{"doc_type": "ship_notice", "document_id": "A", "supplier": {"id": "acme"}}', "/orders"),
        (ship_notice().replace(b'"carrier"', b'"carrierr"'), "/carrierr"),
    ],
)
async def test_invalid_document_is_422_with_pointer(
    wharf: Runtime, partner_client: ClientFactory, body: bytes, pointer: str
) -> None:
    response = await partner_client("acme").post("/v1/documents", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert response.json()["pointer"] == pointer
    assert await stream_count(wharf, "WHARF_IN", "wharf.in.>") == 0


async def test_alias_refuses_another_document_type(partner_client: ClientFactory) -> None:
    response = await partner_client("acme").post("/v1/invoices", content=ship_notice(), headers=JSON)
    assert response.status_code == 422
    assert response.json()["pointer"] == "/doc_type"


async def test_size_and_media_type_limits(partner_client: ClientFactory) -> None:
    globex = partner_client("globex")  # its policy allows 4096 bytes
    big = ship_notice(supplier="globex").replace(b'"ASN-1"', b'"' + b"A" * 5000 + b'"')
    assert (await globex.post("/v1/documents", content=big, headers=JSON)).status_code == 413
    wrong = await globex.post(
        "/v1/documents", content=b"hello", headers={"Content-Type": "text/plain"}
    )
    assert wrong.status_code == 415
    assert wrong.headers["content-type"] == "application/problem+json"


async def test_unrouted_document_type_is_refused(partner_client: ClientFactory) -> None:
    response = await partner_client("globex").post(
        "/v1/invoices", content=invoice(supplier="globex"), headers=JSON
    )
    assert response.status_code == 403
    assert "no route for invoice" in response.json()["detail"]


async def test_failing_target_dead_letters_and_next_document_flows(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    dlq = await wharf.nc.subscribe("wharf.dlq.acme")
    received = await wharf.nc.subscribe("wms.receipts.expected")
    client = partner_client("acme")
    bad = await client.post("/v1/invoices", content=invoice("INV-404"), headers=JSON)
    good = await client.post("/v1/ship-notices", content=ship_notice("ASN-after"), headers=JSON)
    assert bad.status_code == good.status_code == 202

    dead = await dlq.next_msg(timeout=15)
    assert dead.headers is not None
    assert dead.headers["Wharf-Correlation-Id"] == bad.json()["correlation_id"]
    assert dead.headers["Wharf-Dlq-Step"] == "post"
    assert "nowhere.ap.invoice" in dead.headers["Wharf-Dlq-Reason"]
    assert dead.headers["Wharf-Dlq-Deliveries"] == "3"
    assert decode_document(dead.data).document_id == "INV-404"

    after = await received.next_msg(timeout=15)
    assert decode_document(after.data).document_id == "ASN-after"

    trace = await wait_for_trace(wharf, bad.json()["correlation_id"], "dead_lettered")
    names = [e.event for e in trace.events]
    assert names.count("failed") == 3 and names.count("retried") == 2
    assert trace.status == "dead_lettered"
    assert all(e.error_class == "transient" for e in trace.events if e.event == "failed")
    await dlq.unsubscribe()
    await received.unsubscribe()


async def test_supplier_impersonation_in_payload_is_dead_lettered_at_once(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    response = await partner_client("acme").post(
        "/v1/ship-notices", content=ship_notice(supplier="globex"), headers=JSON
    )
    trace = await wait_for_trace(wharf, response.json()["correlation_id"], "dead_lettered")
    failed = [e for e in trace.events if e.event == "failed"]
    assert len(failed) == 1 and failed[0].error_class == "permanent"
    assert failed[0].step == "validate"


async def test_partner_cannot_read_another_partners_trace(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    acme = partner_client("acme")
    globex = partner_client("globex")
    response = await acme.post("/v1/ship-notices", content=ship_notice("ASN-secret"), headers=JSON)
    correlation_id = response.json()["correlation_id"]
    # readable by its owner at once (before the projection), and never by another partner
    assert (await acme.get(f"/v1/traces/{correlation_id}")).status_code == 200
    await wait_for_trace(wharf, correlation_id, "posted", count=2)
    theirs = await globex.get(f"/v1/traces/{correlation_id}")
    unknown = await globex.get("/v1/traces/00000000-0000-0000-0000-000000000000")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json()
    assert (await acme.get(f"/v1/traces/{correlation_id}")).json()["status"] == "posted"
