"""The business pipeline in a running Wharf: master data, the PO, tolerances, buyer exceptions.

Acme's policy here asks for full validation with a 2 % quantity tolerance; master data comes
from examples/masterdata (acme's part HX-100 is item FST-1001, 1 CS = 12 EA), and the ERP
has issued PO-1 for 2 CS of HX-100 at 4.80 USD a case.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest

from tests.conftest import ACME_POLICY, ClientCredentials
from tests.documents import invoice, ship_notice
from wharf.model import PurchaseOrder, decode_document

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.conftest import Pki, WharfFactory
    from wharf.observability.tracestore import Trace
    from wharf.runtime import Runtime

JSON = {"Content-Type": "application/json"}
MASTERDATA = Path(__file__).parents[1] / "examples" / "masterdata"

PO_1 = {
    "doc_type": "purchase_order", "document_id": "PO-1", "issue_date": "2026-11-01",
    "supplier": {"id": "acme"}, "currency": "USD",
    "lines": [{"line_number": "1", "item": {"supplier_part": "HX-100"},
               "quantity": {"value": "2", "uom": "CS"},
               "unit_price": {"amount": "4.80", "currency": "USD"}}],
}


@pytest.fixture
async def full(
    make_wharf: WharfFactory, policies_dir: Path, pki: Pki
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient, httpx.AsyncClient]]:
    (policies_dir / "acme.toml").write_text(
        ACME_POLICY.replace('validation = "document"', 'validation = "full"')
        + "[tolerances]\nquantity_percent = 2\nprice_percent = 1\n"
    )
    async with make_wharf(business__masterdata_dir=str(MASTERDATA)) as wharf:
        po = decode_document(json.dumps(PO_1).encode())
        assert isinstance(po, PurchaseOrder)
        await wharf.checks.ledger.record_document("acme", po, dt.datetime.now(dt.UTC), "erp-po-1")
        async with httpx.AsyncClient(
            base_url=wharf.partner_url, verify=pki.context("acme"), auth=ClientCredentials()
        ) as partner, httpx.AsyncClient(base_url=wharf.internal_url) as ops:
            yield wharf, partner, ops


def asn(number: str, quantity: str, *, uom: str = "EA", part: str = "HX-100") -> bytes:
    return (
        ship_notice(number, uom=uom)
        .replace(b'"24"', f'"{quantity}"'.encode())
        .replace(b'"HX-100"', f'"{part}"'.encode())
    )


async def trace_until(wharf: Runtime, correlation_id: str, status: str) -> Trace:
    with anyio.fail_after(10):
        while True:
            trace = await wharf.traces.get(correlation_id)
            if trace is not None and trace.status == status:
                return trace
            await wharf.traces.wait_changed()


async def test_within_tolerance_is_posted_and_moves_the_po(full: tuple[Runtime, httpx.AsyncClient, httpx.AsyncClient]) -> None:
    wharf, partner, _ = full
    sub = await wharf.nc.subscribe("wms.receipts.expected")
    response = await partner.post("/v1/ship-notices", content=asn("ASN-B1", "24"), headers=JSON)
    assert response.status_code == 202
    msg = await sub.next_msg(timeout=10)  # 24 EA = 2 CS: exactly the PO
    assert decode_document(msg.data).document_id == "ASN-B1"
    await trace_until(wharf, response.json()["correlation_id"], "posted")
    record = await wharf.checks.ledger.get("PO-1", "acme")
    assert record is not None and record.state == "shipped"


async def test_over_tolerance_is_held_then_approved_and_posted_once(
    full: tuple[Runtime, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    wharf, partner, ops = full
    sub = await wharf.nc.subscribe("wms.receipts.expected")
    response = await partner.post("/v1/ship-notices", content=asn("ASN-B2", "30"), headers=JSON)
    correlation_id = response.json()["correlation_id"]
    held = await trace_until(wharf, correlation_id, "held_for_review")
    assert "quantity" in (held.events[-1].error or "")

    listed = (await ops.get("/internal/v1/exceptions", params={"partner": "acme"})).json()
    (exception,) = listed
    assert exception["correlation_id"] == correlation_id
    issue = exception["issues"][0]
    assert issue["pointer"].startswith("/orders/0/")
    assert issue["po_number"] == "PO-1"

    decision = {"action": "approve", "by": "buyer.jane", "note": "customer wants all 30"}
    url = f"/internal/v1/exceptions/{exception['id']}/resolve"
    first = await ops.post(url, json=decision)
    assert first.status_code == 200, first.text
    assert first.json()["next"] == "resume"
    msg = await sub.next_msg(timeout=10)
    assert decode_document(msg.data).document_id == "ASN-B2"
    trace = await trace_until(wharf, correlation_id, "posted")
    assert [e.event for e in trace.events].count("resumed") == 1

    again = await ops.post(url, json=decision)  # the same decision: same answer, no repost
    assert again.status_code == 200
    assert again.json()["repeated"] is True
    conflict = await ops.post(url, json={"action": "reject", "by": "buyer.joe"})
    assert conflict.status_code == 409
    count = (await wharf.js.stream_info("WHARF_POST", subjects_filter="wms.receipts.expected"))
    assert sum((count.state.subjects or {}).values()) == 1


async def test_unknown_item_is_held_and_a_rejection_goes_to_the_supplier(
    full: tuple[Runtime, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    wharf, partner, ops = full
    outbox = await wharf.nc.subscribe("wharf.out.acme.rejection")
    response = await partner.post(
        "/v1/ship-notices", content=asn("ASN-B3", "24", part="NO-SUCH-PART"), headers=JSON
    )
    correlation_id = response.json()["correlation_id"]
    await trace_until(wharf, correlation_id, "held_for_review")
    (exception,) = (await ops.get("/internal/v1/exceptions")).json()
    assert "unknown_item" in exception["kinds"]
    resolved = await ops.post(
        f"/internal/v1/exceptions/{exception['id']}/resolve",
        json={"action": "reject", "by": "buyer.jane", "note": "we never ordered this"},
    )
    assert resolved.json()["next"] == "reject_to_supplier"
    rejection = json.loads((await outbox.next_msg(timeout=10)).data)
    assert rejection["correlation_id"] == correlation_id
    assert rejection["issues"][0]["kind"] == "unknown_item"
    await trace_until(wharf, correlation_id, "rejected")


async def test_a_correction_is_posted_instead_of_the_original(
    full: tuple[Runtime, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    wharf, partner, ops = full
    sub = await wharf.nc.subscribe("wms.receipts.expected")
    response = await partner.post("/v1/ship-notices", content=asn("ASN-B4", "36"), headers=JSON)
    await trace_until(wharf, response.json()["correlation_id"], "held_for_review")
    (exception,) = (await ops.get("/internal/v1/exceptions")).json()
    corrected = json.loads(asn("ASN-B4", "24"))
    resolved = await ops.post(
        f"/internal/v1/exceptions/{exception['id']}/resolve",
        json={"action": "correct", "by": "buyer.jane", "corrected_document": corrected},
    )
    assert resolved.status_code == 200, resolved.text
    posted = decode_document((await sub.next_msg(timeout=10)).data)
    assert posted.document_id == "ASN-B4"
    assert posted.orders[0].packs[0].items[0].quantity.value == 24  # type: ignore[union-attr]


async def test_invoice_price_mismatch_names_the_line(
    full: tuple[Runtime, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    wharf, partner, ops = full
    shipped = await partner.post("/v1/ship-notices", content=asn("ASN-B5", "24"), headers=JSON)
    await trace_until(wharf, shipped.json()["correlation_id"], "posted")
    body = json.loads(invoice("INV-B1"))
    body["po_numbers"] = ["PO-1"]
    body["lines"][0].update(
        item={"supplier_part": "HX-100"}, po_line_number="1",
        quantity={"value": "2", "uom": "CS"}, unit_price={"amount": "5.28", "currency": "USD"},
        amount={"amount": "10.56", "currency": "USD"},
    )
    body["totals"] = {"total": {"amount": "10.56", "currency": "USD"}}
    response = await partner.post("/v1/invoices", content=json.dumps(body), headers=JSON)
    await trace_until(wharf, response.json()["correlation_id"], "held_for_review")
    (exception,) = (await ops.get("/internal/v1/exceptions", params={"type": "invoice"})).json()
    price = next(i for i in exception["issues"] if "price" in i["kind"])
    assert price["pointer"] == "/lines/0/unit_price/amount"
    assert price["po_line"] == "1"
    assert float(price["percent"]) == pytest.approx(10.0)


async def test_asn_is_rendered_for_wms_tms_and_customer_service(
    make_wharf: WharfFactory, policies_dir: Path, pki: Pki
) -> None:
    routes = json.dumps(
        ["wms.receipts.expected", "erp.purchasing.asn", "tms.inbound.milestone",
         "crm.order.at_risk"]
    )
    (policies_dir / "acme.toml").write_text(
        ACME_POLICY.replace('validation = "document"', 'validation = "full"').replace(
            'ship_notice = ["wms.receipts.expected", "erp.purchasing.asn"]',
            f"ship_notice = {routes}",
        )
    )
    async with make_wharf(business__masterdata_dir=str(MASTERDATA)) as wharf:
        po = decode_document(json.dumps(PO_1).encode())
        assert isinstance(po, PurchaseOrder)
        await wharf.checks.ledger.record_document("acme", po, dt.datetime.now(dt.UTC), "erp-1")
        subs = {name: await wharf.nc.subscribe(f"{name}.>") for name in ("wms", "erp", "tms", "crm")}
        body = json.loads(asn("ASN-B6", "24"))
        body.update(ship_to={"id": "DC-EAST"}, estimated_delivery="2026-12-12",
                    tracking_number="1Z999AA10123456784")
        async with httpx.AsyncClient(
            base_url=wharf.partner_url, verify=pki.context("acme"), auth=ClientCredentials()
        ) as partner:
            response = await partner.post("/v1/ship-notices", content=json.dumps(body),
                                          headers=JSON)
        assert response.status_code == 202, response.text
        msgs = {name: await sub.next_msg(timeout=10) for name, sub in subs.items()}
    got = {name: json.loads(msg.data) for name, msg in msgs.items()}
    assert decode_document(msgs["wms"].data).document_id == "ASN-B6", "WMS gets canonical"
    assert msgs["wms"].headers is not None
    (receiving,) = json.loads(msgs["wms"].headers["Wharf-Receiving"])
    assert receiving == {"pointer": "/orders/0/packs/0/items/0", "sku": "FST-1001",
                         "warehouse": "DC-EAST", "dock": "D1", "zone": "PICK-A"}
    assert got["erp"]["document_id"] == "ASN-B6"
    assert "Wharf-Receiving" not in (msgs["erp"].headers or {})
    assert got["tms"]["milestone"] == "shipped"
    assert got["tms"]["tracking_number"] == "1Z999AA10123456784"
    assert got["tms"]["po_numbers"] == ["PO-1"]
    affected = {(o["order_id"], o["late"]) for o in got["crm"]["affected_orders"]}
    assert affected == {("SO-5001", True), ("SO-5002", False)}


async def test_lead_time_and_acknowledged_dates_reach_customer_service(
    make_wharf: WharfFactory, policies_dir: Path, pki: Pki
) -> None:
    crm = ', "crm.order.at_risk"]'
    (policies_dir / "acme.toml").write_text(
        ACME_POLICY.replace('validation = "document"', 'validation = "full"')
        + 'lead_time_change = ["planning.leadtime.changed"' + crm + "\n"
        + 'acknowledgment = ["erp.purchasing.ack"' + crm + "\n"
    )
    lead_time = {
        "doc_type": "lead_time_change", "document_id": "LT-1", "supplier": {"id": "acme"},
        "effective_date": "2026-11-26",
        "lines": [{"item": {"supplier_part": "HX-100"}, "new_lead_time_days": 60}],
    }
    ack = {
        "doc_type": "acknowledgment", "document_id": "ACK-1", "po_number": "PO-1",
        "status": "accepted", "supplier": {"id": "acme"},
        "lines": [{"line_number": "1", "status": "accepted",
                   "item": {"supplier_part": "HX-100"}, "quantity": {"value": "2", "uom": "CS"},
                   "promised_date": "2026-12-11"}],
    }
    async with make_wharf(business__masterdata_dir=str(MASTERDATA)) as wharf:
        po = decode_document(json.dumps(PO_1).encode())
        assert isinstance(po, PurchaseOrder)
        await wharf.checks.ledger.record_document("acme", po, dt.datetime.now(dt.UTC), "erp-1")
        sub = await wharf.nc.subscribe("crm.order.at_risk")
        async with httpx.AsyncClient(
            base_url=wharf.partner_url, verify=pki.context("acme"), auth=ClientCredentials()
        ) as partner:
            for path, body in (("/v1/lead-times", lead_time), ("/v1/acknowledgments", ack)):
                response = await partner.post(path, content=json.dumps(body), headers=JSON)
                assert response.status_code == 202, response.text
                notice = json.loads((await sub.next_msg(timeout=10)).data)
                assert notice["document_id"] == body["document_id"]
                late = {o["order_id"]: o["late"] for o in notice["affected_orders"]}
                if body is lead_time:  # 60 days from now is after both promised dates
                    assert late == {"SO-5001": True, "SO-5002": True}
                else:  # promised 2026-12-11: one day after SO-5001's, before SO-5002's
                    assert late == {"SO-5001": True, "SO-5002": False}


async def test_master_data_upserts_respect_ownership(
    full: tuple[Runtime, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    wharf, _, ops = full
    item = {"sku": "FST-9001", "description": "Hex bolt M10x60", "base_uom": "EA",
            "supplier_parts": [{"supplier_id": "acme", "part_number": "HX-1060"}],
            "uom_conversions": [{"uom": "CS", "factor": "10"}]}
    url = "/internal/v1/masterdata/items"
    first = await ops.post(url, json=[item])
    assert first.json()["results"] == ["created"]
    assert (await ops.post(url, json=item)).json()["results"] == ["unchanged"]
    stolen = await ops.post(url, params={"source": "wms"},
                            json={**item, "description": "renamed by the WMS"})
    assert stolen.status_code == 409
    assert stolen.json()["pointer"] == "/0"
    bad = await ops.post(url, json={**item, "base_uom": "each"})
    assert bad.status_code == 422
    assert bad.json()["pointer"] == "/0/base_uom"
    assert (await ops.post("/internal/v1/masterdata/planets", json={})).status_code == 404
    found = await wharf.checks.master.item_for_part("acme", "HX-1060")
    assert found is not None and found.description == "Hex bolt M10x60"
