"""PO out end to end: ERP → WHARF_OUT → outbound actor → partner (HTTPS push, or outbox pull).

Real parts throughout: the session's nats-server with Wharf's streams, a SQLite file, the
internal routes served by Wharf's uvicorn runner, a partner receiver on mTLS (Wharf's server
certificate; it requires and records Wharf's client certificate) that answers as each test
scripts it, and the partner routes behind a real Guard with OAuth tokens over mTLS.
Synchronisation is on business events (``wharf.evt.purchase_order.*``) and on the receiver's
hits, always under a deadline; per-partner order means that when a later order arrives, every
earlier one has been handled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.abc
import httpx
import msgspec
import nats
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import ClientCredentials
from wharf.actors.outbound import (
    CircuitBreaker,
    Courier,
    OutboundActor,
    OutboundSettings,
    Outbox,
    courier_client,
    po_key,
    retry_after_seconds,
)
from wharf.broker import ensure_streams, subjects
from wharf.broker.subjects import Header
from wharf.gateway.guard import GUARD_HANDLERS, Guard
from wharf.gateway.identity import Authenticator, certificate_from_pem
from wharf.gateway.oauth import BEARER_ERROR_HANDLERS, ClientGrant, OAuthEndpoints
from wharf.gateway.problems import EXCEPTION_HANDLERS
from wharf.gateway.purchase_orders import (
    ErpPurchaseOrders,
    PurchaseOrderIntake,
    internal_routes,
    negotiate,
    partner_routes,
)
from wharf.gateway.server import serve
from wharf.gateway.tls import server_context
from wharf.model import PurchaseOrder, decode_document, encode_document
from wharf.observability.events import Event, EventEmitter, decode_event
from wharf.pki import issue_client
from wharf.policies import Partner, PolicySet
from wharf.policies.model import CertificateRule
from wharf.security.keyring import KeyRing, SigningKeySettings
from wharf.security.sealing import Sealer
from wharf.security.tokens import OAuthSettings, TokenService
from wharf.settings import GatewaySettings, ListenerSettings, StreamSettings
from wharf.storage import Database

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext
    from starlette.requests import Request

    from tests.conftest import Pki

LOCAL = ListenerSettings(host="127.0.0.1", port=0)
DEADLINE = 15.0
FAST = OutboundSettings(backoff=[0.05], jitter=0.0, pull_expires=0.5, timeout=5.0)


def order(number: str, *, supplier: str = "acme", purpose: str = "original",
          quantity: str = "12") -> bytes:
    body: dict[str, Any] = {
        "doc_type": "purchase_order", "document_id": number, "purpose": purpose,
        "issue_date": "2026-11-20", "supplier": {"id": supplier}, "currency": "USD",
        "lines": [{"line_number": "1", "item": {"sku": "SKU-1", "supplier_part": "HX-100"},
                   "quantity": {"value": quantity, "uom": "EA"},
                   "unit_price": {"amount": "4.25", "currency": "USD"}}],
    }
    return json.dumps(body).encode()


def partner(pid: str, *formats: str) -> Partner:
    return Partner(
        id=pid, name=pid.title(),
        certificates=[CertificateRule(subject=f"CN={pid},O=Wharf dev PKI")],
        scopes=["purchase-orders:read"],
        formats=list(formats) or ["json"],  # type: ignore[arg-type]
    )


# --- the partner's HTTPS endpoint ---------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    at: float
    status: int
    headers: dict[str, str]
    body: bytes
    client: str | None


class Receiver:
    """A supplier's PO endpoint: records every request and answers from a script (then 200)."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        self._read = 0
        self._arrived = anyio.Event()

    async def endpoint(self, request: Request) -> Response:
        chain = request.scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
        client = certificate_from_pem(chain[0]).common_name if chain else None
        status, headers = self.script.pop(0) if self.script else (200, {})
        hit = Hit(time.monotonic(), status, dict(request.headers), await request.body(), client)
        self.hits.append(hit)
        self._arrived.set()
        self._arrived = anyio.Event()
        return Response(b"{}" if status < 300 else b"not now", status_code=status,
                        headers=headers)

    async def next(self) -> Hit:
        """The next request not returned yet (waiting for it if need be)."""
        with anyio.fail_after(DEADLINE):
            while self._read >= len(self.hits):
                await self._arrived.wait()
        self._read += 1
        return self.hits[self._read - 1]

    def bodies_with(self, text: bytes) -> list[Hit]:
        return [h for h in self.hits if text in h.body]


class Watcher:
    """Business events about purchase orders, as they are published."""

    def __init__(self) -> None:
        self.seen: list[Event] = []
        self._changed = anyio.Event()

    async def on_msg(self, msg: Msg) -> None:
        self.seen.append(decode_event(msg.subject, dict(msg.headers or {}), msg.data))
        self._changed.set()
        self._changed = anyio.Event()

    def of(self, correlation_id: str, name: str | None = None) -> list[Event]:
        return [e for e in self.seen
                if e.correlation_id == correlation_id and (name is None or e.name == name)]

    async def wait(self, correlation_id: str, name: str) -> Event:
        with anyio.fail_after(DEADLINE):
            while not (found := self.of(correlation_id, name)):
                await self._changed.wait()
        return found[0]


@dataclass
class Rig:
    nc: Client
    js: JetStreamContext
    tg: anyio.abc.TaskGroup
    db: Database
    outbox: Outbox
    events: EventEmitter
    intake: PurchaseOrderIntake
    receiver: Receiver
    watcher: Watcher
    receiver_url: str
    internal: httpx.AsyncClient
    wharf_tls: ssl.SSLContext
    partners: dict[str, Partner]
    push: dict[str, str] = field(default_factory=dict)
    courier: Courier | None = None

    async def start_actor(self, pid: str, settings: OutboundSettings = FAST) -> OutboundActor:
        client = courier_client(self.wharf_tls, timeout=settings.timeout)
        self.courier = Courier(client, settings)
        actor = OutboundActor(
            partner=pid, js=self.js, courier=self.courier, outbox=self.outbox,
            events=self.events, partners=lambda: self.partners,
            push_url=lambda p: self.push.get(p.id), settings=settings,
        )
        await self.tg.start(actor.run)
        return actor

    async def post(self, body: bytes) -> httpx.Response:
        return await self.internal.post("/internal/v1/purchase-orders", content=body,
                                        headers={"Content-Type": "application/json"})

    async def accepted(self, body: bytes) -> str:
        response = await self.post(body)
        assert response.status_code == 202, response.text
        return str(response.json()["correlation_id"])


@pytest.fixture
async def rig(clean_jetstream: str, pki: Pki, tmp_path: Path) -> AsyncIterator[Rig]:
    nc = await nats.connect(clean_jetstream)
    js = nc.jetstream()
    await ensure_streams(js, StreamSettings())
    db = await Database.open(tmp_path / "wharf.db")
    outbox = await Outbox.open(db, Sealer({"test": os.urandom(32)}, "test"))
    events = EventEmitter(js)
    partners = {"acme": partner("acme", "x12", "json"), "globex": partner("globex", "cxml")}
    intake = PurchaseOrderIntake(js, events, lambda: partners, max_payload=nc.max_payload)
    receiver, watcher = Receiver(), Watcher()
    await nc.subscribe("wharf.evt.purchase_order.>", cb=watcher.on_msg)

    wharf_cert = issue_client(pki.dir, "wharf", out_dir=tmp_path / "wharf-client")
    wharf_tls = ssl.create_default_context(cafile=str(pki.files.ca_cert))
    wharf_tls.load_cert_chain(str(wharf_cert.cert), str(wharf_cert.key))
    partner_tls = server_context(cert=pki.files.server_cert, key=pki.files.server_key,
                                 client_ca=pki.files.ca_cert)
    receiver_app = Starlette(routes=[Route("/po", receiver.endpoint, methods=["POST"])])
    internal_app = Starlette(routes=internal_routes(intake), exception_handlers=EXCEPTION_HANDLERS)
    try:
        async with anyio.create_task_group() as tg:
            rport = await tg.start(lambda *, task_status: serve(
                receiver_app, LOCAL, ssl_context=partner_tls, name="receiver",
                task_status=task_status))
            iport = await tg.start(lambda *, task_status: serve(
                internal_app, LOCAL, name="internal", task_status=task_status))
            await tg.start(ErpPurchaseOrders(nc, intake).run)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{iport}", timeout=10) as c:
                yield Rig(nc=nc, js=js, tg=tg, db=db, outbox=outbox, events=events,
                          intake=intake, receiver=receiver, watcher=watcher,
                          receiver_url=f"https://127.0.0.1:{rport}/po", internal=c,
                          wharf_tls=wharf_tls, partners=partners)
            tg.cancel_scope.cancel()
    finally:
        await db.aclose()
        await nc.close()


def digest_of(body: bytes) -> str:
    po = decode_document(body, doc_type="purchase_order")
    return hashlib.sha256(encode_document(po)).hexdigest()


# --- push --------------------------------------------------------------------------------------


async def test_an_erp_order_posted_twice_reaches_the_partner_once_in_x12(rig: Rig) -> None:
    rig.push["acme"] = rig.receiver_url
    await rig.start_actor("acme")
    body = order("PO-100")
    first = await rig.post(body)
    assert first.status_code == 202, first.text
    cid = first.json()["correlation_id"]
    again = await rig.post(body)
    assert again.status_code == 202
    assert again.json()["correlation_id"] == cid
    assert again.headers["idempotent-replayed"] == "true"
    over_nats = await rig.nc.request("wharf.erp.po", body, timeout=5)
    assert json.loads(over_nats.data)["correlation_id"] == cid

    hit = await rig.receiver.next()
    key = po_key("acme", "PO-100", "original", digest_of(body))
    assert hit.headers["idempotency-key"] == key
    assert hit.headers["content-type"] == "application/edi-x12"
    assert hit.headers["wharf-correlation-id"] == cid
    assert hit.client == "wharf", "the push must present Wharf's client certificate"
    assert hit.body.startswith(b"ISA*") and b"BEG*00*SA*PO-100" in hit.body
    await rig.watcher.wait(cid, "posted")

    # The same order again after JetStream's duplicate window (another Msg-Id): the outbox
    # knows it was delivered. Then a later order: when it lands, the repeat was handled.
    await rig.js.publish(
        subjects.outbound("acme", "purchase_order"), encode_document(
            decode_document(body, doc_type="purchase_order")),
        headers={Header.MSG_ID: "after-the-window", Header.CORRELATION_ID: "late-repeat"},
    )
    later = await rig.accepted(order("PO-101"))
    await rig.watcher.wait(later, "posted")
    assert len(rig.receiver.bodies_with(b"PO-100")) == 1
    assert len(rig.receiver.bodies_with(b"PO-101")) == 1
    held = await rig.outbox.latest("acme", "PO-100")
    assert held is not None and held.status == "sent" and held.target == rig.receiver_url


async def test_a_change_and_a_cancellation_follow_the_same_path(rig: Rig) -> None:
    rig.push["acme"] = rig.receiver_url
    await rig.start_actor("acme")
    await rig.accepted(order("PO-200"))
    await rig.accepted(order("PO-200", purpose="change", quantity="20"))
    cancel = json.dumps({"doc_type": "purchase_order", "document_id": "PO-200",
                         "purpose": "cancel", "supplier": {"id": "acme"}}).encode()
    cid = await rig.accepted(cancel)
    await rig.watcher.wait(cid, "posted")
    begs = [h.body.split(b"BEG*", 1)[1][:2] for h in rig.receiver.hits]
    assert begs == [b"00", b"04", b"01"]  # X12 BEG01: original, change, cancellation


async def test_429_with_retry_after_is_honoured_and_the_order_lands_once(rig: Rig) -> None:
    rig.push["acme"] = rig.receiver_url
    rig.receiver.script = [(429, {"Retry-After": "1"})]
    await rig.start_actor("acme")
    cid = await rig.accepted(order("PO-300"))
    refused, landed = await rig.receiver.next(), await rig.receiver.next()
    assert (refused.status, landed.status) == (429, 200)
    assert landed.at - refused.at >= 0.95, "the retry must wait for Retry-After"
    assert landed.headers["idempotency-key"] == refused.headers["idempotency-key"]
    await rig.watcher.wait(cid, "posted")
    retried = rig.watcher.of(cid, "retried")
    assert [e.data.retry_in for e in retried] == [1.0]
    later = await rig.accepted(order("PO-301"))
    await rig.watcher.wait(later, "posted")
    assert [h.status for h in rig.receiver.bodies_with(b"PO-300")] == [429, 200]


async def test_the_breaker_opens_after_k_failures_and_recovers(rig: Rig) -> None:
    settings = OutboundSettings(backoff=[0.05], jitter=0.0, pull_expires=0.5, timeout=5.0,
                                breaker_threshold=3, breaker_cooldown=1.5, max_attempts=10)
    rig.push["acme"] = rig.receiver_url
    rig.receiver.script = [(500, {}), (503, {}), (502, {})]
    await rig.start_actor("acme", settings)
    cid = await rig.accepted(order("PO-400"))
    hits = [await rig.receiver.next() for _ in range(4)]
    assert [h.status for h in hits] == [500, 503, 502, 200]
    assert hits[1].at - hits[0].at < 1.0, "before K failures: backoff only"
    assert hits[3].at - hits[2].at >= 1.4, "after K failures: the cool-down"
    await rig.watcher.wait(cid, "posted")
    waits = [e for e in rig.watcher.of(cid, "retried") if e.data.error
             and "circuit open" in e.data.error]
    assert waits, "an open breaker must be visible in the order's events"
    assert rig.courier is not None
    assert rig.courier.breaker(rig.receiver_url).state == "closed"
    after = await rig.accepted(order("PO-401"))
    await rig.watcher.wait(after, "posted")
    assert [h.status for h in rig.receiver.bodies_with(b"PO-401")] == [200]


async def test_4xx_and_exhausted_attempts_are_dead_lettered_and_the_queue_moves_on(
    rig: Rig,
) -> None:
    settings = OutboundSettings(backoff=[0.05], jitter=0.0, pull_expires=0.5, timeout=5.0,
                                max_attempts=2, breaker_threshold=10)
    rig.push["acme"] = rig.receiver_url
    rig.receiver.script = [(500, {}), (500, {}), (400, {})]
    dlq = await rig.js.pull_subscribe(subjects.dlq("acme"), stream=subjects.DLQ_STREAM)
    await rig.start_actor("acme", settings)
    tired = await rig.accepted(order("PO-500"))
    refused = await rig.accepted(order("PO-501"))
    fine = await rig.accepted(order("PO-502"))
    await rig.watcher.wait(fine, "posted")
    assert [h.status for h in rig.receiver.hits] == [500, 500, 400, 200]
    assert rig.watcher.of(tired, "dead_lettered") and rig.watcher.of(refused, "dead_lettered")
    letters = await dlq.fetch(2, timeout=5)
    reasons = {m.headers[Header.CORRELATION_ID]: m.headers or {} for m in letters
               if m.headers}
    assert "answered 500" in reasons[tired][Header.DLQ_REASON]
    assert "answered 400" in reasons[refused][Header.DLQ_REASON]
    assert reasons[refused]["Wharf-Dlq-Origin"] == "wharf.out.acme.purchase_order"


# --- pull --------------------------------------------------------------------------------------


class Clients(Protocol):
    def __call__(self, pid: str, *, token: bool = True) -> httpx.AsyncClient: ...


@contextlib.asynccontextmanager
async def partner_gateway(rig: Rig, pki: Pki, tmp_path: Path) -> AsyncIterator[Clients]:
    """The partner routes behind a real Guard, with the token endpoint, over mTLS."""
    policy = PolicySet(rig.partners)
    authenticator = Authenticator(lambda: policy)
    settings = OAuthSettings(signing=SigningKeySettings(dir=str(tmp_path / "signing")))
    tokens = TokenService(KeyRing(settings.signing, token_lifetime=600), settings)
    guard = Guard(authenticator=authenticator, tokens=tokens, limiter=None,
                  default_limit=GatewaySettings().rate_limit, audit=None)
    oauth = OAuthEndpoints(tokens, authenticator.identify,
                           lambda p: ClientGrant(client_id=p.client_id, scopes=frozenset(p.scopes)))
    app = Starlette(
        routes=[*oauth.routes(), *partner_routes(guard, rig.outbox)],
        exception_handlers={**EXCEPTION_HANDLERS, **BEARER_ERROR_HANDLERS, **GUARD_HANDLERS},
    )
    tls = server_context(cert=pki.files.server_cert, key=pki.files.server_key,
                         client_ca=pki.files.ca_cert)
    async with anyio.create_task_group() as tg:
        port = await tg.start(lambda *, task_status: serve(
            app, LOCAL, ssl_context=tls, name="partner", task_status=task_status))
        async with contextlib.AsyncExitStack() as stack:

            def client(pid: str, *, token: bool = True) -> httpx.AsyncClient:
                return stack.push_async_exit(httpx.AsyncClient(
                    base_url=f"https://127.0.0.1:{port}", verify=pki.context(pid), timeout=10,
                    auth=ClientCredentials() if token else None))

            yield client
        tg.cancel_scope.cancel()


async def test_without_a_push_url_orders_wait_in_the_outbox_for_their_partner_only(
    rig: Rig, pki: Pki, tmp_path: Path
) -> None:
    await rig.start_actor("acme")
    await rig.accepted(order("PO-600"))
    changed = await rig.accepted(order("PO-600", purpose="change", quantity="30"))
    await rig.watcher.wait(changed, "posted")
    assert rig.receiver.hits == []

    async with partner_gateway(rig, pki, tmp_path) as client:
        acme, globex = client("acme"), client("globex")
        listed = await acme.get("/v1/purchase-orders", params={"status": "open"})
        assert listed.status_code == 200, listed.text
        rows = listed.json()
        assert [(r["po_number"], r["purpose"]) for r in rows] == [
            ("PO-600", "original"), ("PO-600", "change")]
        assert {r["media_type"] for r in rows} == {"application/edi-x12"}
        assert rows[1]["purchase_order"]["lines"][0]["quantity"]["value"] == "30"
        assert rows[1]["correlation_id"] == changed

        canonical = await acme.get("/v1/purchase-orders/PO-600")
        assert canonical.headers["content-type"].startswith("application/json")
        po = decode_document(canonical.content, doc_type="purchase_order")
        assert isinstance(po, PurchaseOrder) and po.purpose == "change"
        x12 = await acme.get("/v1/purchase-orders/PO-600",
                             headers={"Accept": "application/edi-x12"})
        assert x12.headers["content-type"].startswith("application/edi-x12")
        assert x12.content.startswith(b"ISA*") and b"BEG*04*SA*PO-600" in x12.content
        original = await acme.get("/v1/purchase-orders/PO-600", params={"purpose": "original"},
                                  headers={"Accept": "application/edi-x12"})
        assert b"BEG*00*SA*PO-600" in original.content
        refused = await acme.get("/v1/purchase-orders/PO-600", headers={"Accept": "text/csv"})
        assert refused.status_code == 406

        # Another partner: its own list is empty and acme's PO does not exist for it.
        theirs = await globex.get("/v1/purchase-orders/PO-600")
        assert theirs.status_code == 404
        assert theirs.headers["content-type"] == "application/problem+json"
        assert (await globex.get("/v1/purchase-orders")).json() == []
        anonymous = await client("acme", token=False).get("/v1/purchase-orders")
        assert anonymous.status_code == 401

        assert await rig.outbox.acknowledge("acme", "PO-600") == 2
        assert (await acme.get("/v1/purchase-orders")).json() == []
        everything = await acme.get("/v1/purchase-orders", params={"status": "all"})
        assert {r["status"] for r in everything.json()} == {"acknowledged"}
        bad = await acme.get("/v1/purchase-orders", params={"status": "lost"})
        assert bad.status_code == 400

    # The outbox finds orders by a keyed pseudonym: the PO number is not in the file in clear.
    for name in ("wharf.db", "wharf.db-wal"):
        path = tmp_path / name
        if path.exists():
            assert b"PO-600" not in path.read_bytes(), name


# --- the entry's refusals ----------------------------------------------------------------------


async def test_bad_orders_are_refused_with_a_pointer(rig: Rig) -> None:
    malformed = await rig.post(b'{"doc_type": "purchase_order",')
    assert malformed.status_code == 400
    assert malformed.headers["content-type"] == "application/problem+json"

    wrong = json.loads(order("PO-700"))
    wrong["lines"][0]["quantity"]["value"] = "NaN"
    invalid = await rig.post(json.dumps(wrong).encode())
    assert invalid.status_code == 422
    assert invalid.json()["pointer"].startswith("/lines/0/quantity")

    unknown = await rig.post(order("PO-701", supplier="nobody"))
    assert (unknown.status_code, unknown.json()["pointer"]) == (404, "/supplier/id")

    no_lines = await rig.post(json.dumps({"doc_type": "purchase_order", "document_id": "X",
                                          "supplier": {"id": "acme"}}).encode())
    assert no_lines.status_code == 422

    form = await rig.internal.post("/internal/v1/purchase-orders", content=order("PO-702"),
                                   headers={"Content-Type": "text/csv"})
    assert form.status_code == 415

    over_nats = await rig.nc.request("wharf.erp.po", order("PO-703", supplier="nobody"),
                                     timeout=5)
    answer = json.loads(over_nats.data)
    assert (answer["status"], answer["pointer"]) == (404, "/supplier/id")
    assert over_nats.headers is not None
    assert over_nats.headers["Content-Type"] == "application/problem+json"
    info = await rig.js.stream_info(subjects.OUT_STREAM)
    assert info.state.messages == 0, "nothing refused may reach WHARF_OUT"


# --- pieces ------------------------------------------------------------------------------------


def test_circuit_breaker_opens_half_opens_and_closes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown=10.0, clock=lambda: now[0])

    def state() -> str:
        return breaker.state

    breaker.failure()
    assert breaker.wait() == 0.0 and state() == "closed"
    breaker.failure()
    assert state() == "open" and breaker.wait() == 10.0
    now[0] = 4.0
    assert breaker.wait() == 6.0
    now[0] = 10.0
    assert breaker.wait() == 0.0 and state() == "half_open"
    assert breaker.wait() == 1.0, "one trial at a time"
    breaker.failure()
    assert state() == "open" and breaker.wait() == 10.0
    now[0] = 20.0
    assert breaker.wait() == 0.0
    now[0] = 31.0
    assert breaker.wait() == 0.0, "a trial that never reported is replaced"
    breaker.success()
    assert state() == "closed" and breaker.failures == 0 and breaker.wait() == 0.0


def test_retry_after_and_accept_negotiation() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    import datetime as dt

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30.0
    offers = ["application/json", "application/edi-x12"]
    assert negotiate(None, offers) == "application/json"
    assert negotiate("*/*", offers) == "application/json"
    assert negotiate("application/edi-x12", offers) == "application/edi-x12"
    assert negotiate("application/json;q=0.5, application/*", offers) == "application/edi-x12"
    assert negotiate("application/json;q=0, */*", offers) == "application/edi-x12"
    assert negotiate("text/csv", offers) is None


def test_settings_are_a_strict_struct() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"max_attempts": 0}, OutboundSettings)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"breaker": 3}, OutboundSettings)
