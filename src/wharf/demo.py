"""``wharf demo``: Wharf on the embedded defaults plus three simulated suppliers.

The ERP issues two purchase orders through the internal API (they wait in the suppliers'
outboxes); then Acme (canonical JSON), Globex (X12 004010) and Initech (cXML) trade documents
over real mTLS with certificate-bound tokens — acknowledgments, ship notices (rendered for
WMS, ERP, TMS and customer service), invoices, lead-time, inventory and price changes, a
rebate claim and a return — good ones, one outside tolerance, one with a wrong price, a
malformed one, and invoices to a target nobody set up (they end in the dead-letter queue). Every document's outcome is printed with
the commands to look closer; Wharf keeps running until Ctrl+C.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import msgspec

from wharf.codecs import Envelope
from wharf.codecs.cxml import CxmlCodec
from wharf.codecs.x12 import X12Codec
from wharf.model import Document, decode_document
from wharf.pki import issue_client

if TYPE_CHECKING:
    from collections.abc import Callable

    from wharf.runtime import Runtime
    from wharf.settings import Settings

__all__ = ("SCENARIOS", "demo_settings", "play")

EXAMPLES = Path("examples")
TODAY = dt.date.today()


def demo_settings(settings: Settings) -> Settings:
    """The serve settings with the demo's partners and master data."""
    return msgspec.structs.replace(
        settings,
        policies=msgspec.structs.replace(settings.policies, dir=str(EXAMPLES / "demo/policies")),
        business=msgspec.structs.replace(
            settings.business, masterdata_dir=str(EXAMPLES / "masterdata")
        ),
        # Short retries, so the failing documents reach the dead-letter queue within seconds.
        actors=msgspec.structs.replace(settings.actors, backoff=[0.5, 1.0, 2.0], max_deliveries=3),
    )


def _doc(data: dict[str, Any]) -> Document:
    return decode_document(json.dumps(data).encode())


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


PURCHASE_ORDERS = {
    "acme": {
        "doc_type": "purchase_order", "document_id": "PO-1", "issue_date": str(TODAY),
        "supplier": {"id": "acme"}, "currency": "USD",
        "lines": [{"line_number": "1", "item": {"supplier_part": "HX-100"},
                   "quantity": {"value": "2", "uom": "CS"}, "unit_price": _money("4.80")}],
    },
    "globex": {
        "doc_type": "purchase_order", "document_id": "PO-2", "issue_date": str(TODAY),
        "supplier": {"id": "globex"}, "currency": "USD",
        "lines": [{"line_number": "1", "item": {"supplier_part": "GX-LED9"},
                   "quantity": {"value": "96", "uom": "EA"}, "unit_price": _money("2.10")}],
    },
}


def _ack(po: str, supplier: str, part: str, qty: str, uom: str) -> dict[str, Any]:
    return {
        "doc_type": "acknowledgment", "document_id": f"ACK-{po}", "po_number": po,
        "status": "accepted", "issue_date": str(TODAY), "supplier": {"id": supplier},
        "lines": [{"line_number": "1", "status": "accepted", "item": {"supplier_part": part},
                   "quantity": {"value": qty, "uom": uom},
                   "promised_date": str(TODAY + dt.timedelta(days=3))}],
    }


def _asn(number: str, po: str, supplier: str, part: str, qty: str) -> dict[str, Any]:
    return {
        "doc_type": "ship_notice", "document_id": number, "issue_date": str(TODAY),
        "supplier": {"id": supplier}, "carrier": {"scac": "UPSN"},
        "ship_to": {"id": "DC-EAST"},
        "orders": [{"po_number": po, "packs": [{"sscc": "006141411234567890", "items": [
            {"line_number": "1", "item": {"supplier_part": part},
             "quantity": {"value": qty, "uom": "EA"}}]}]}],
    }


def _invoice(number: str, po: str, supplier: str, part: str, qty: str, uom: str,
             price: str) -> dict[str, Any]:
    amount = f"{float(qty) * float(price):.2f}"
    return {
        "doc_type": "invoice", "document_id": number, "invoice_date": str(TODAY),
        "supplier": {"id": supplier}, "currency": "USD", "po_numbers": [po],
        "lines": [{"line_number": "1", "po_line_number": "1", "item": {"supplier_part": part},
                   "quantity": {"value": qty, "uom": uom}, "unit_price": _money(price),
                   "amount": _money(amount)}],
        "totals": {"total": _money(amount)},
    }


@dataclass(frozen=True, slots=True)
class Scenario:
    partner: str
    what: str
    path: str
    content_type: str
    body: Callable[[], bytes]


def _json(data: dict[str, Any]) -> Callable[[], bytes]:
    return lambda: json.dumps(data).encode()


def _x12(data: dict[str, Any], control: int) -> Callable[[], bytes]:
    envelope = Envelope(sender_id="GLOBEX", receiver_id="WHARF", control_number=control)
    return lambda: X12Codec().encode(_doc(data), envelope)


def _cxml(data: dict[str, Any], control: int) -> Callable[[], bytes]:
    envelope = Envelope(sender_id="INITECH", receiver_id="WHARF", control_number=control)
    return lambda: CxmlCodec().encode(_doc(data), envelope)


def _lead_time(number: str, part: str, days: int) -> dict[str, Any]:
    return {
        "doc_type": "lead_time_change", "document_id": number, "effective_date": str(TODAY),
        "supplier": {"id": "acme"},
        "lines": [{"item": {"supplier_part": part}, "new_lead_time_days": days}],
    }


def _inventory(number: str, part: str, qty: str, available: dt.date) -> dict[str, Any]:
    return {
        "doc_type": "inventory_advice", "document_id": number, "supplier": {"id": "acme"},
        "as_of": dt.datetime.now(dt.UTC).isoformat(),
        "lines": [{"item": {"supplier_part": part}, "quantity": {"value": qty, "uom": "EA"},
                   "available_date": str(available)}],
    }


def _catalog(number: str, part: str, price: str) -> dict[str, Any]:
    return {
        "doc_type": "price_catalog", "document_id": number, "supplier": {"id": "acme"},
        "currency": "USD", "effective_from": str(TODAY + dt.timedelta(days=30)),
        "lines": [{"item": {"supplier_part": part}, "unit_price": _money(price),
                   "price_uom": "EA"}],
    }


def _rebate(number: str, part: str) -> dict[str, Any]:
    return {
        "doc_type": "rebate_claim", "document_id": number, "supplier": {"id": "acme"},
        "currency": "USD", "agreement_id": "VOL-2026",
        "period_start": "2026-10-01", "period_end": "2026-10-31",
        "lines": [{"item": {"supplier_part": part}, "quantity": {"value": "1200", "uom": "EA"},
                   "claimed_amount": _money("36.00")}],
    }


def _return(number: str, part: str) -> dict[str, Any]:
    return {
        "doc_type": "return_authorization", "document_id": number, "supplier": {"id": "acme"},
        "po_number": "PO-1",
        "lines": [{"item": {"supplier_part": part}, "quantity": {"value": "12", "uom": "EA"},
                   "reason": "damaged in transit"}],
    }


SCENARIOS = (
    Scenario("acme", "acknowledges PO-1 as ordered", "/v1/acknowledgments", "application/json",
             _json(_ack("PO-1", "acme", "HX-100", "2", "CS"))),
    Scenario("acme", "ships PO-1: 24 EA = 2 CS, as ordered", "/v1/ship-notices",
             "application/json", _json(_asn("ASN-1001", "PO-1", "acme", "HX-100", "24"))),
    Scenario("acme", "ships 36 EA more against PO-1 (over tolerance)", "/v1/ship-notices",
             "application/json", _json(_asn("ASN-1002", "PO-1", "acme", "HX-100", "36"))),
    Scenario("acme", "invoices PO-1 at 5.28 a case (PO says 4.80)", "/v1/invoices",
             "application/json",
             _json(_invoice("INV-7001", "PO-1", "acme", "HX-100", "2", "CS", "5.28"))),
    Scenario("acme", "lead time for HX-100 goes to 45 days", "/v1/lead-times",
             "application/json", _json(_lead_time("LT-1", "HX-100", 45))),
    Scenario("acme", "reports 5,000 HN-108 available next week", "/v1/inventory",
             "application/json",
             _json(_inventory("INV-ADV-1", "HN-108", "5000", TODAY + dt.timedelta(days=7)))),
    Scenario("acme", "publishes next month's price for HX-100", "/v1/catalog",
             "application/json", _json(_catalog("CAT-2027", "HX-100", "0.44"))),
    Scenario("acme", "claims its October volume rebate", "/v1/rebate-claims",
             "application/json", _json(_rebate("RB-10", "HX-100"))),
    Scenario("acme", "authorizes a return of damaged bolts", "/v1/returns",
             "application/json", _json(_return("RMA-5", "HX-100"))),
    Scenario("acme", "sends a truncated JSON body", "/v1/ship-notices", "application/json",
             lambda: b'{"doc_type": "ship_notice", "document_id": '),
    Scenario("globex", "acknowledges PO-2 in X12 855", "/v1/documents", "application/edi-x12",
             _x12(_ack("PO-2", "GLOBEX", "GX-LED9", "96", "EA"), 855)),
    Scenario("globex", "ships PO-2 in X12 856", "/v1/documents", "application/edi-x12",
             _x12(_asn("ASN-2001", "PO-2", "GLOBEX", "GX-LED9", "96"), 856)),
    Scenario("globex", "invoices PO-2 in X12 810", "/v1/documents", "application/edi-x12",
             _x12(_invoice("INV-8001", "PO-2", "GLOBEX", "GX-LED9", "96", "EA", "2.10"), 810)),
    Scenario("initech", "ships in cXML", "/v1/documents", "text/xml",
             _cxml(_asn("ASN-3001", "PO-9", "INITECH", "IN-PAPER", "10"), 3001)),
    Scenario("initech", "invoices to an AP target nobody set up", "/v1/invoices",
             "application/json",
             _json(_invoice("INV-9001", "PO-9", "initech", "IN-PAPER", "10", "EA", "3.00"))),
)


def _client(runtime: Runtime, partner: str) -> httpx.AsyncClient:
    pki_dir = Path(runtime.settings.pki.dir)
    cert, key = pki_dir / "partners" / f"{partner}.pem", pki_dir / "partners" / f"{partner}-key.pem"
    if not cert.is_file():
        issue_client(pki_dir, partner)
    context = ssl.create_default_context(cafile=str(runtime.pki.ca_cert))
    context.load_cert_chain(str(cert), str(key))
    return httpx.AsyncClient(base_url=runtime.partner_url, verify=context, timeout=30)


async def _token(client: httpx.AsyncClient) -> str:
    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"})
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


async def play(runtime: Runtime, say: Callable[[str], None]) -> list[str]:
    """Issue the POs, run every scenario, then report where each document ended up (the
    final statuses are also returned, in scenario order)."""
    async with httpx.AsyncClient(base_url=runtime.internal_url, timeout=30) as erp:
        for partner, po in PURCHASE_ORDERS.items():
            issued = await erp.post("/internal/v1/purchase-orders", json=po)
            issued.raise_for_status()
            say(f"ERP issued {po['document_id']} to {partner}: held in its outbox "
                f"(GET /v1/purchase-orders); correlation id {issued.json()['correlation_id']}")
    outcomes: list[tuple[Scenario, int, str | None]] = []
    clients = {p: _client(runtime, p) for p in ("acme", "globex", "initech")}
    try:
        tokens = {p: await _token(c) for p, c in clients.items()}
        for scenario in SCENARIOS:
            response = await clients[scenario.partner].post(
                scenario.path, content=scenario.body(),
                headers={"Content-Type": scenario.content_type,
                         "Authorization": f"Bearer {tokens[scenario.partner]}"},
            )
            correlation_id = response.headers.get("wharf-correlation-id")
            outcomes.append((scenario, response.status_code, correlation_id))
            say(f"{scenario.partner:<8} {scenario.what:<50} HTTP {response.status_code}")
    finally:
        for client in clients.values():
            await client.aclose()
    say("")
    say("Where each document ended up (after the retries of the failing ones):")
    finals = []
    for scenario, status, correlation_id in outcomes:
        final = f"refused at the gateway (HTTP {status})" if correlation_id is None else (
            await _settled(runtime, correlation_id)
        )
        say(f"  {scenario.partner:<8} {scenario.what:<50} {final}"
            + (f"  {correlation_id}" if correlation_id else ""))
        finals.append(final)
    return finals


_FINAL = {"posted", "held_for_review", "dead_lettered", "rejected"}


async def _settled(runtime: Runtime, correlation_id: str, within: float = 30) -> str:
    """The document's status once it stops changing (or as it is after ``within`` s)."""
    status = "accepted"
    with anyio.move_on_after(within):
        while True:
            trace = await runtime.traces.get(correlation_id)
            if trace is not None:
                status = trace.status
                if status in _FINAL:
                    return status
            await runtime.traces.wait_changed()
    return status
