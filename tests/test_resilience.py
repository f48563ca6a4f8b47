"""Resilience end to end: a failing then recovering target, a crash mid-post, SLA timers
that outlive the process.

Real parts throughout: the session's nats-server, the whole Wharf runtime (``make_wharf``)
on a SQLite file that survives a restart within a test, and a downstream system played by a
small Starlette receiver over TLS (Wharf's dev server certificate) that records every POST's
``Idempotency-Key`` and answers as the test scripts it. Synchronisation is on traces, on the
receiver's requests and on published messages, always under a deadline; per-partner order
(one document at a time) means that when a later document is posted, every earlier delivery
was handled.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import httpx
import nats
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import ACME_POLICY, ClientCredentials
from tests.documents import ship_notice
from wharf.broker import subjects
from wharf.broker.subjects import Header
from wharf.gateway.server import serve
from wharf.gateway.tls import server_context
from wharf.model import PurchaseOrder, decode_document
from wharf.observability.events import Event, decode_event
from wharf.settings import ListenerSettings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from nats.aio.msg import Msg
    from starlette.requests import Request

    from tests.conftest import ClientFactory, Pki, WharfFactory
    from wharf.observability.tracestore import Trace
    from wharf.runtime import Runtime

JSON = {"Content-Type": "application/json"}
LOCAL = ListenerSettings(host="127.0.0.1", port=0)
DEADLINE = 15.0
ROUTE = 'ship_notice = ["wms.receipts.expected", "erp.purchasing.asn"]'


# --- the downstream system ----------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """One POST the receiver saw; ``confirmed``: answered 2xx to a client still waiting."""

    key: str
    status: int
    confirmed: bool
    body: bytes


class Receiver:
    """An internal system's HTTPS endpoint: answers 503 to the first ``fail_first`` requests;
    with ``hold_first`` it keeps the first request waiting until :attr:`release` is set."""

    def __init__(self, *, fail_first: int = 0, hold_first: bool = False) -> None:
        self.receipts: list[Receipt] = []
        self.fail_first = fail_first
        self.hold_first = hold_first
        self.holding = anyio.Event()
        self.release = anyio.Event()
        self._count = 0
        self._changed = anyio.Event()

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        self._count += 1
        number = self._count
        key = request.headers.get("idempotency-key", "")
        status = 503 if number <= self.fail_first else 200
        if self.hold_first and number == 1:
            self.holding.set()
            with anyio.move_on_after(DEADLINE):
                await self.release.wait()
        # A client that went away never learnt the answer: the effect is not confirmed to it.
        confirmed = 200 <= status < 300 and not await request.is_disconnected()
        self.receipts.append(Receipt(key=key, status=status, confirmed=confirmed, body=body))
        self._changed.set()
        self._changed = anyio.Event()
        return Response(b"{}" if status < 300 else b"busy", status_code=status)

    async def wait_until(self, done: Callable[[list[Receipt]], bool]) -> None:
        with anyio.fail_after(DEADLINE):
            while not done(self.receipts):
                await self._changed.wait()

    def confirmed(self) -> collections.Counter[str]:
        return collections.Counter(r.key for r in self.receipts if r.confirmed)


@contextlib.asynccontextmanager
async def running(receiver: Receiver, pki: Pki) -> AsyncIterator[str]:
    """Serve ``receiver`` over TLS on a random port; yield its URL."""
    tls = server_context(cert=pki.files.server_cert, key=pki.files.server_key,
                         client_ca=pki.files.ca_cert, require_client_cert=False)
    app = Starlette(routes=[Route("/receipts", receiver.endpoint, methods=["POST"])])
    async with anyio.create_task_group() as tg:
        port = await tg.start(lambda *, task_status: serve(
            app, LOCAL, ssl_context=tls, name="receiver", task_status=task_status))
        try:
            yield f"https://127.0.0.1:{port}/receipts"
        finally:
            receiver.release.set()
            tg.cancel_scope.cancel()


def route_acme_to(policies_dir: Path, url: str) -> None:
    (policies_dir / "acme.toml").write_text(ACME_POLICY.replace(ROUTE, f'ship_notice = ["{url}"]'))


@contextlib.asynccontextmanager
async def acme_client(wharf: Runtime, pki: Pki) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=wharf.partner_url, verify=pki.context("acme"),
                                 auth=ClientCredentials(), timeout=10.0) as client:
        yield client


async def send(client: httpx.AsyncClient, asn: str) -> str:
    response = await client.post("/v1/ship-notices", content=ship_notice(asn), headers=JSON)
    assert response.status_code == 202, response.text
    return str(response.json()["correlation_id"])


async def settled(wharf: Runtime, correlation_ids: list[str], *, posted: int = 1,
                  within: float = DEADLINE) -> dict[str, Trace]:
    """Wait until every document is posted ``posted`` times or dead-lettered."""
    found: dict[str, Trace] = {}
    with anyio.fail_after(within):
        while True:
            for cid in correlation_ids:
                trace = await wharf.traces.get(cid)
                if trace is not None and (
                    trace.status == "dead_lettered"
                    or sum(e.event == "posted" for e in trace.events) >= posted
                ):
                    found[cid] = trace
            if len(found) == len(correlation_ids):
                return found
            await wharf.traces.wait_changed()


def errors(trace: Trace) -> list[str]:
    return [f"attempt {e.attempt}: {e.error}" for e in trace.events if e.event == "failed"]


# --- 1. a target down for a while, then back ----------------------------------------------------


async def test_target_failing_then_recovering_gets_every_document_exactly_once(
    make_wharf: WharfFactory, policies_dir: Path, pki: Pki
) -> None:
    receiver = Receiver(fail_first=4)
    async with running(receiver, pki) as url:
        route_acme_to(policies_dir, url)
        async with make_wharf(actors__max_deliveries="10") as wharf, \
                acme_client(wharf, pki) as client:
            cids = [await send(client, f"ASN-RR{n}") for n in range(5)]
            traces = await settled(wharf, cids, within=30)

            for cid in cids:
                assert traces[cid].status == "posted", (
                    f"{cid} ended {traces[cid].status}: {errors(traces[cid])}"
                )
            # 4 refusals, then each document once: nothing lost, nothing doubled
            assert [r.status for r in receiver.receipts] == [503] * 4 + [200] * 5
            assert receiver.confirmed() == {f"{cid}:{url}": 1 for cid in cids}
            assert {r.key for r in receiver.receipts[:4]} == {f"{cids[0]}:{url}"}
            for receipt, n in zip(receiver.receipts[4:], range(5), strict=True):
                assert decode_document(receipt.body).document_id == f"ASN-RR{n}"

            first = [e for e in traces[cids[0]].events
                     if e.event in ("failed", "retried", "posted")]
            assert [e.event for e in first] == ["failed", "retried"] * 4 + ["posted"]
            assert [e.attempt for e in first] == [1, 1, 2, 2, 3, 3, 4, 4, 5]
            assert all(e.error_class == "transient" and "503" in (e.error or "")
                       for e in first if e.event == "failed")
            for cid in cids[1:]:
                names = [e.event for e in traces[cid].events]
                assert "failed" not in names and names.count("posted") == 1
            for cid in cids:
                assert await wharf.ledger.count(cid) == 1


# --- 2. a crash between post and ack -------------------------------------------------------------


async def test_redelivery_after_the_posting_does_not_post_again(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    """What a crash between post and ack looks like to the pipeline: the same mailbox message
    (same correlation id and headers) delivered again, under another stream sequence."""
    postings: list[Msg] = []
    arrived = anyio.Event()

    async def collect(msg: Msg) -> None:
        postings.append(msg)
        arrived.set()

    sub = await wharf.nc.subscribe("wms.receipts.expected", cb=collect)
    client = partner_client("acme")
    cid = await send(client, "ASN-CR1")
    await settled(wharf, [cid], posted=2)

    original = await wharf.js.get_last_msg(subjects.IN_STREAM, subjects.inbound("acme",
                                                                                "ship_notice"))
    headers = dict(original.headers or {})
    assert headers[Header.CORRELATION_ID] == cid and original.data is not None
    headers[Header.MSG_ID] += ":redelivered"
    await wharf.js.publish(subjects.inbound("acme", "ship_notice"), original.data,
                           stream=subjects.IN_STREAM, headers=headers)

    # in order, one at a time: when the next document is posted, the copy was handled
    after = await send(client, "ASN-CR2")
    with anyio.fail_after(DEADLINE):
        while not any((m.headers or {}).get(Header.CORRELATION_ID) == after for m in postings):
            await arrived.wait()
            arrived = anyio.Event()
    await sub.unsubscribe()

    # Every publish reaches a plain subscriber, even one JetStream's duplicate window would
    # drop from the stream: this counts what Wharf sent, not what the stream kept.
    key = f"{cid}:wms.receipts.expected"
    assert [(m.headers or {}).get(Header.MSG_ID) for m in postings] == [
        key, f"{after}:wms.receipts.expected"]
    info = await wharf.js.stream_info(subjects.POST_STREAM,
                                      subjects_filter="wms.receipts.expected")
    assert sum((info.state.subjects or {}).values()) == 2
    assert await wharf.ledger.count(cid) == 2

    # the projection reads events in order: once the next document's trace is complete,
    # the copy's events are in its trace too
    await settled(wharf, [after], posted=2)
    trace = await settled(wharf, [cid], posted=2)
    names = [e.event for e in trace[cid].events]
    assert names.count("transformed") == 2, names  # the copy went through the pipeline
    assert names.count("posted") == 2, names  # ... and posted nothing again
    assert not {"failed", "dead_lettered"} & set(names)
    # the document reached its targets: its trace must not read "processing" again
    assert trace[cid].status == "posted", names


async def test_crash_while_posting_then_restart_confirms_each_key_once(
    make_wharf: WharfFactory, policies_dir: Path, pki: Pki
) -> None:
    """Stop the whole runtime while the receiver holds the first POST unanswered, restart on
    the same database and broker: the redelivery posts again with the same key, once."""
    receiver = Receiver(hold_first=True)
    overrides = {"actors__max_deliveries": "10", "actors__ack_wait": "2"}
    async with running(receiver, pki) as url:
        route_acme_to(policies_dir, url)
        async with make_wharf(**overrides) as first, acme_client(first, pki) as client:
            cid = await send(client, "ASN-KILL")
            outcome: list[str] = []
            with anyio.fail_after(DEADLINE):
                async with anyio.create_task_group() as tg:
                    async def gave_up() -> None:
                        trace = (await settled(first, [cid]))[cid]
                        outcome.append(f"{trace.status}: {errors(trace)}")
                        tg.cancel_scope.cancel()

                    async def held() -> None:
                        await receiver.holding.wait()
                        outcome.append("held")
                        tg.cancel_scope.cancel()

                    tg.start_soon(gave_up)
                    tg.start_soon(held)
            assert outcome[0] == "held", f"never reached the receiver: {outcome[0]}"
            # the runtime stops here, with the actor inside target.post
        receiver.release.set()
        await receiver.wait_until(lambda r: len(r) >= 1)
        assert receiver.receipts[0].confirmed is False

        async with make_wharf(**overrides) as second:
            traces = await settled(second, [cid], within=DEADLINE)
            trace = traces[cid]
            assert trace.status == "posted", errors(trace)
            assert receiver.confirmed() == {f"{cid}:{url}": 1}
            assert {r.key for r in receiver.receipts} == {f"{cid}:{url}"}
            posted = [e for e in trace.events if e.event == "posted"]
            assert len(posted) == 1 and posted[0].attempt == 2
            assert await second.ledger.count(cid) == 1


# --- 3. SLA timers survive a restart ---------------------------------------------------------

ACK_DUE_HOURS = 0.001  # 3.6 s


def purchase_order(number: str) -> PurchaseOrder:
    po = decode_document(json.dumps({
        "doc_type": "purchase_order", "document_id": number, "issue_date": "2026-11-01",
        "supplier": {"id": "acme"}, "currency": "USD",
        "lines": [{"line_number": "1", "item": {"supplier_part": "HX-100"},
                   "quantity": {"value": "2", "uom": "CS"},
                   "unit_price": {"amount": "4.80", "currency": "USD"}}],
    }).encode())
    assert isinstance(po, PurchaseOrder)
    return po


async def send_po(wharf: Runtime, number: str, sent_at: dt.datetime) -> None:
    """The ERP issued the PO and it was pushed to acme at ``sent_at``."""
    ledger = wharf.checks.ledger
    await ledger.record_document("acme", purchase_order(number), sent_at, f"erp-{number}")
    await ledger.record(number, "acme", "sent", sent_at, f"push-{number}")


async def test_sla_timer_from_the_policy_fires_once_after_a_restart(
    make_wharf: WharfFactory, policies_dir: Path, clean_jetstream: str
) -> None:
    (policies_dir / "acme.toml").write_text(
        ACME_POLICY.replace('validation = "document"', 'validation = "full"')
        + f"[sla]\nack_due_hours = {ACK_DUE_HOURS}\n"
    )
    overdue: list[Event] = []
    changed = anyio.Event()

    async def collect(msg: Msg) -> None:
        nonlocal changed
        overdue.append(decode_event(msg.subject, dict(msg.headers or {}), msg.data))
        changed.set()
        changed = anyio.Event()

    async def wait_for(po_number: str) -> None:
        with anyio.fail_after(DEADLINE):
            while not any(e.data.po_number == po_number for e in overdue):
                await changed.wait()

    watcher = await nats.connect(clean_jetstream)
    subject = subjects.event("purchase_order", "sla_overdue")
    try:
        await watcher.subscribe(subject, cb=collect)
        await watcher.flush()
        async with make_wharf(business__sla_interval="0.2") as first:
            sent_at = dt.datetime.now(dt.UTC)
            await send_po(first, "PO-SLA-1", sent_at)
            record = await first.checks.ledger.get("PO-SLA-1", "acme")
            assert record is not None and record.state == "sent"
            (ack,) = [t for t in record.timers if t.kind == "ack"]
            policy_due = sent_at + dt.timedelta(hours=ACK_DUE_HOURS)
            assert abs((ack.due_at - policy_due).total_seconds()) < 1, (
                f"ack timer due {ack.due_at.isoformat()}, but acme's policy says "
                f"ack_due_hours = {ACK_DUE_HOURS} (due {policy_due.isoformat()})"
            )
        assert dt.datetime.now(dt.UTC) < ack.due_at, "the first runtime stopped too late"
        js = watcher.jetstream()  # the first runtime's connection is closed
        stored = await js.stream_info(subjects.EVT_STREAM, subjects_filter=subject)
        assert not stored.state.subjects and overdue == []

        async with make_wharf(business__sla_interval="0.2") as second:
            await wait_for("PO-SLA-1")
            # a witness armed after the first alert, due in a later round of the timer runner:
            # once it fires, any repeat of the first alert would already have been published
            await send_po(second, "PO-SLA-2", dt.datetime.now(dt.UTC)
                          - dt.timedelta(hours=ACK_DUE_HOURS) + dt.timedelta(seconds=0.5))
            await wait_for("PO-SLA-2")

            first_alerts = [e for e in overdue if e.data.po_number == "PO-SLA-1"]
            assert len(first_alerts) == 1, first_alerts
            (alert,) = first_alerts
            assert alert.partner == "acme" and alert.data.step == "ack"
            assert alert.correlation_id == "push-PO-SLA-1"
            assert alert.type == "wharf.purchase_order.sla_overdue"
            record = await second.checks.ledger.get("PO-SLA-1", "acme")
            assert record is not None
            (fired,) = [t for t in record.timers if t.kind == "ack"]
            assert fired.fired_at is not None and fired.fired_at >= fired.due_at
        stored = await js.stream_info(subjects.EVT_STREAM, subjects_filter=subject)
        assert sum((stored.state.subjects or {}).values()) == 2
    finally:
        await watcher.close()


async def test_documents_still_flow_when_the_event_stream_is_gone(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    # Trace events are best effort: without WHARF_EVT a document must still be posted (before,
    # each failed event publish made the actor retry until the server dropped the document).
    await wharf.js.delete_stream("WHARF_EVT")
    sub = await wharf.nc.subscribe("wms.receipts.expected")
    response = await partner_client("acme").post(
        "/v1/ship-notices", content=ship_notice("ASN-NO-EVT"),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    msg = await sub.next_msg(timeout=15)
    assert decode_document(msg.data).document_id == "ASN-NO-EVT"
