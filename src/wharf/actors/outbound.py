"""PO out: one outbound actor per supplier renders the ERP's purchase orders and delivers them.

The ERP's orders (originals, changes, cancellations) arrive as canonical JSON on
``wharf.out.<partner>.purchase_order`` (stream ``WHARF_OUT``). For each one the partner's
:class:`OutboundActor`

1. skips it when the :class:`Outbox` says this exact order (same PO number, purpose and content)
   was already delivered — a repeated ERP post after the stream's duplicate window, or a
   redelivery after a crash between delivering and acking;
2. renders it in the partner's format (:class:`Renderer`: the first of the policy's ``formats``
   with a writer), with control number = the stream sequence;
3. either HOLDS it in the outbox for the partner to pull (no push URL for the partner), or
   PUSHES it over HTTPS with Wharf's client certificate (:class:`Courier`), with
   ``Idempotency-Key`` = the order's key, so that a repeated push is safe at the partner.

Failure policy (push):

- 2xx → delivered (outbox row ``sent``), ack.
- 429 / 503 with ``Retry-After`` → nak with that delay (capped); 5xx, 408, 425, 429 without
  ``Retry-After``, timeouts and connection failures → nak with backoff ± jitter.
- any other answer (4xx, 3xx) → dead letter at once: the partner refuses this document.
- after ``max_attempts`` pushes → dead letter (``wharf.dlq.<partner>``, then ``+TERM``).
- a circuit breaker per endpoint opens after ``breaker_threshold`` consecutive failures
  (5xx, 503, timeouts, connection errors); while open, the order is nak'ed with the remaining
  cool-down *without* counting an attempt; after the cool-down one trial push goes out
  (half-open): success closes the breaker, failure opens it again.

Attempts are counted in SQLite before each push (not from JetStream's delivery count, which
also grows with every breaker wait), so a push that crashes the process still counts and a
poison order cannot loop forever; the consumer itself has no ``max_deliver``.

Consumer choice: a plain durable pull consumer per partner (filter
``wharf.out.<partner>.purchase_order``, explicit ack, ``max_ack_pending=1``), not the pinned
priority group of :mod:`wharf.actors.mailbox`. ``max_ack_pending=1`` already serialises a
partner's orders across every Wharf process (a nak'ed order is redelivered before the next
one: checked against nats-server 2.15), so pinning would only add affinity. The cost: breaker
state is per process, so with several processes an open endpoint is probed at most once per
cool-down per process.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

import anyio
import anyio.abc
import httpx
import msgspec
import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from wharf.broker import subjects
from wharf.broker.subjects import Header
from wharf.codecs.base import Envelope
from wharf.errors import DocumentError, PermanentError, TransientError
from wharf.model import PurchaseOrder, decode_document, encode_document
from wharf.observability.events import EventData, EventEmitter, EventName

if TYPE_CHECKING:
    import ssl
    from collections.abc import Awaitable, Callable, Mapping

    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

    from wharf.codecs.base import Writer
    from wharf.policies import Partner
    from wharf.policies.model import Format
    from wharf.security.sealing import Sealer
    from wharf.storage import Database

__all__ = (
    "DLQ_ORIGIN",
    "MEDIA_TYPES",
    "OUTBOX_STATUSES",
    "CircuitBreaker",
    "Courier",
    "Delivered",
    "OutboundActor",
    "OutboundSettings",
    "Outbox",
    "OutboxEntry",
    "Rendered",
    "Renderer",
    "RetryLater",
    "courier_client",
    "default_writers",
    "outbound_consumer_name",
    "po_key",
    "retry_after_seconds",
)

log = logging.getLogger(__name__)

DOC_TYPE: Literal["purchase_order"] = "purchase_order"
DLQ_ORIGIN = "Wharf-Dlq-Origin"
"""Header on a dead letter from an outbound actor: the ``wharf.out.…`` subject it came from."""
SENDER_ID = "WHARF"

Positive = Annotated[float, msgspec.Meta(gt=0)]


class OutboundSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How outbound actors deliver (all times in seconds)."""

    max_attempts: Annotated[int, msgspec.Meta(ge=1)] = 8
    """Pushes of one order before it is dead-lettered (breaker waits do not count)."""
    backoff: list[Positive] = msgspec.field(default_factory=lambda: [1.0, 5.0, 30.0, 120.0, 300.0])
    """Delay before attempt n+1 after a transient failure of attempt n (last value repeats)."""
    jitter: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.2
    timeout: Positive = 10.0
    """One push: connect, send and answer."""
    max_retry_after: Positive = 3600.0
    """A partner's ``Retry-After`` is honoured up to this."""
    breaker_threshold: Annotated[int, msgspec.Meta(ge=1)] = 5
    """Consecutive failures of an endpoint that open its circuit."""
    breaker_cooldown: Positive = 30.0
    """How long an open circuit stays open before one trial push."""
    ack_wait: Positive = 30.0
    pull_expires: Positive = 5.0


def po_key(partner: str, document_id: str, purpose: str, digest: str) -> str:
    """An order's idempotency key: ``po:<partner>:<PO number>:<purpose>:<sha256 of body>``."""
    return f"po:{partner}:{document_id}:{purpose}:{digest}"


def outbound_consumer_name(partner: str) -> str:
    return f"wharf-outbound-{partner}"


# --- rendering -------------------------------------------------------------------------------

MEDIA_TYPES: Mapping[str, str] = {
    "json": "application/json",
    "x12": "application/edi-x12",
    "edifact": "application/edifact",
    "cxml": "application/xml",
    "ubl": "application/xml",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A purchase order in the partner's format."""

    format: Format
    media_type: str
    body: bytes


def default_writers() -> dict[str, Writer]:
    """Every writer that can write a purchase order (CSV has no PO layout)."""
    from wharf.codecs.cxml import CxmlCodec
    from wharf.codecs.edifact import EdifactCodec
    from wharf.codecs.ubl import UblCodec
    from wharf.codecs.x12 import X12Codec

    return {"x12": X12Codec(), "cxml": CxmlCodec(), "edifact": EdifactCodec(), "ubl": UblCodec()}


class Renderer:
    """Renders an order in the first of the partner's ``formats`` that has a writer.

    ``json`` is the canonical JSON itself; a partner none of whose formats can carry a PO gets
    canonical JSON too (Wharf's own partner API format). The envelope version is the first
    of the policy's ``versions`` for that format, if any.
    """

    def __init__(self, writers: Mapping[str, Writer] | None = None) -> None:
        self._writers = dict(writers) if writers is not None else default_writers()

    def format_for(self, partner: Partner) -> Format:
        for fmt in partner.formats:
            if fmt == "json" or fmt in self._writers:
                return fmt
        return "json"

    def render(self, partner: Partner, po: PurchaseOrder, control_number: int) -> Rendered:
        """The order in the partner's format; ValueError/DocumentError if it cannot be written."""
        fmt = self.format_for(partner)
        if fmt == "json":
            return Rendered("json", MEDIA_TYPES["json"], encode_document(po))
        versions = partner.versions.get(fmt)
        envelope = Envelope(
            sender_id=SENDER_ID, receiver_id=partner.id, control_number=control_number,
            version=versions[0] if versions else None,
        )
        return Rendered(fmt, MEDIA_TYPES[fmt], self._writers[fmt].encode(po, envelope))


# --- pushing ---------------------------------------------------------------------------------


class RetryLater(TransientError):
    """Raised when the partner asked to be called again later (429/503 with Retry-After)."""

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message, step="push")
        self.retry_in = retry_in


class CircuitBreaker:
    """Consecutive-failure breaker for one endpoint: closed → open → half-open → closed.

    :meth:`wait` says how long a caller must wait before pushing (0: go ahead). After the
    cool-down exactly one trial is let through; while it is out, others wait ``probe_wait``.
    A trial that never reports (its process died) is replaced after another cool-down.
    """

    def __init__(
        self, *, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.probe_wait = min(cooldown, 1.0)
        self._clock = clock
        self.state: Literal["closed", "open", "half_open"] = "closed"
        self.failures = 0
        self._since = 0.0

    def wait(self) -> float:
        now = self._clock()
        if self.state == "closed":
            return 0.0
        remaining = self._since + self.cooldown - now
        if self.state == "open":
            if remaining > 0:
                return remaining
            self.state, self._since = "half_open", now
            return 0.0
        if remaining > 0:  # half-open with a trial out
            return min(self.probe_wait, remaining)
        self._since = now  # the trial was lost: let another one through
        return 0.0

    def success(self) -> None:
        self.state, self.failures = "closed", 0

    def failure(self) -> None:
        self.failures += 1
        if self.state == "half_open" or self.failures >= self.threshold:
            if self.state != "open":
                log.warning("circuit opens after %d consecutive failures", self.failures)
            self.state, self._since = "open", self._clock()


def courier_client(
    ssl_context: ssl.SSLContext | None, *, timeout: float = 10.0
) -> httpx.AsyncClient:
    """The HTTP client for pushes: ``ssl_context`` carries Wharf's client certificate and the
    CAs it trusts (None: system CAs, no client certificate). Redirects are not followed."""
    return httpx.AsyncClient(
        verify=ssl_context if ssl_context is not None else True, timeout=timeout,
        follow_redirects=False,
    )


def retry_after_seconds(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now (delta-seconds or an HTTP date), None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


class Courier:
    """Pushes rendered orders to partners' HTTPS endpoints, one breaker per endpoint URL.

    Shared by every outbound actor of the process (one connection pool, one breaker table).
    """

    _TRANSIENT = frozenset({408, 425, 429})

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: OutboundSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._settings = settings
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def breaker(self, url: str) -> CircuitBreaker:
        if url not in self._breakers:
            self._breakers[url] = CircuitBreaker(
                threshold=self._settings.breaker_threshold,
                cooldown=self._settings.breaker_cooldown, clock=self._clock,
            )
        return self._breakers[url]

    async def push(
        self, url: str, rendered: Rendered, *, key: str, headers: Mapping[str, str]
    ) -> None:
        """POST the order; RetryLater / TransientError / PermanentError say why it did not land."""
        breaker = self.breaker(url)
        request_headers = {
            **headers, "Content-Type": rendered.media_type, "Idempotency-Key": key,
        }
        try:
            async with self._client.stream(
                "POST", url, content=rendered.body, headers=request_headers,
                timeout=self._settings.timeout,
            ) as response:
                status = response.status_code
                snippet = await _prefix(response, 300) if not 200 <= status < 300 else b""
        except httpx.HTTPError as exc:
            breaker.failure()
            raise TransientError(f"{url}: {type(exc).__name__}: {exc}", step="push") from exc
        if 200 <= status < 300:
            breaker.success()
            return
        reason = f"{url} answered {status}: {snippet.decode('utf-8', 'replace')}"
        if status >= 500:
            breaker.failure()
        else:
            breaker.success()  # the endpoint is up; it answered about this document
        delay = retry_after_seconds(response.headers.get("retry-after"))
        if status in (429, 503) and delay is not None:
            raise RetryLater(reason, retry_in=min(delay, self._settings.max_retry_after))
        if status >= 500 or status in self._TRANSIENT:
            raise TransientError(reason, step="push")
        raise PermanentError(reason, step="push")


async def _prefix(response: httpx.Response, limit: int) -> bytes:
    """The first ``limit`` bytes of an answer (a partner's error page may be huge)."""
    data = b""
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit]


# --- the outbox ------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox_orders (
    partner TEXT NOT NULL,
    po_key TEXT NOT NULL,
    purpose TEXT NOT NULL,
    digest TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    stream_seq INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'sent', 'acknowledged')),
    delivery TEXT NOT NULL CHECK (delivery IN ('pull', 'push')),
    target TEXT,
    format TEXT NOT NULL,
    media_type TEXT NOT NULL,
    canonical BLOB NOT NULL,
    body BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (partner, po_key, purpose)
);
CREATE INDEX IF NOT EXISTS outbox_orders_status
    ON outbox_orders (partner, status, stream_seq);
CREATE TABLE IF NOT EXISTS outbox_attempts (
    partner TEXT NOT NULL,
    stream_seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    PRIMARY KEY (partner, stream_seq)
);
"""

OutboxStatus = Literal["open", "sent", "acknowledged"]
OUTBOX_STATUSES: tuple[OutboxStatus, ...] = ("open", "sent", "acknowledged")
_COLUMNS = (
    "partner, po_key, purpose, digest, correlation_id, stream_seq, status, delivery, target, "
    "format, media_type, canonical, body, created_at, updated_at"
)


class OutboxEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One rendered order for one partner (the latest version per PO number and purpose)."""

    partner: str
    po_number: str
    purpose: str
    digest: str
    correlation_id: str
    stream_seq: int
    status: OutboxStatus
    delivery: Literal["pull", "push"]
    target: str | None
    format: str
    media_type: str
    canonical: bytes
    """Canonical JSON of the order."""
    body: bytes
    """The order as rendered for the partner."""
    created_at: str
    updated_at: str


def _context(partner: str, po_key: str, purpose: str, digest: str, part: str) -> bytes:
    return f"outbox:{partner}:{po_key}:{purpose}:{digest}:{part}".encode()


class Outbox:
    """Rendered purchase orders per partner (tables ``outbox_*``), bodies sealed at rest.

    The PO number is never stored in clear: rows are found by its keyed pseudonym
    (:class:`wharf.business.vault.Vault`), and the number itself is in the sealed order.

    ``open``: held for the partner to pull; ``sent``: pushed and accepted by the partner's
    endpoint; ``acknowledged``: the partner answered the order. A newer version of the same
    PO number and purpose (a later stream sequence) replaces the row and reopens it.
    """

    def __init__(self, db: Database, sealer: Sealer, key: Callable[[str], str]) -> None:
        self._db = db
        self._sealer = sealer
        self._key = key

    @classmethod
    async def open(cls, db: Database, sealer: Sealer) -> Outbox:
        from wharf.business.vault import Vault

        vault = await Vault.load(db, sealer)
        await db.migrate(SCHEMA)
        return cls(db, sealer, vault.po)

    async def delivered(self, partner: str, po_number: str, purpose: str, digest: str) -> bool:
        """True when exactly this order (same content) was already held or pushed."""
        row = await self._db.fetchone(
            "SELECT 1 FROM outbox_orders WHERE partner = ? AND po_key = ? "
            "AND purpose = ? AND digest = ?", (partner, self._key(po_number), purpose, digest),
        )
        return row is not None

    async def put(
        self,
        partner: str,
        po: PurchaseOrder,
        rendered: Rendered,
        *,
        digest: str,
        correlation_id: str,
        stream_seq: int,
        target: str | None,
    ) -> bool:
        """Record a held (``target`` None → open) or pushed (→ sent) order; False if a later
        version is there already."""
        purpose = po.purpose
        seal = self._sealer.seal
        key = self._key(po.document_id)
        canonical = seal(encode_document(po),
                         context=_context(partner, key, purpose, digest, "canonical"))
        body = seal(rendered.body, context=_context(partner, key, purpose, digest, "body"))
        status: OutboxStatus = "open" if target is None else "sent"
        changed = await self._db.execute(
            f"INSERT INTO outbox_orders ({_COLUMNS}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
            "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) "
            "ON CONFLICT (partner, po_key, purpose) DO UPDATE SET digest = excluded.digest, "
            "correlation_id = excluded.correlation_id, stream_seq = excluded.stream_seq, "
            "status = excluded.status, delivery = excluded.delivery, target = excluded.target, "
            "format = excluded.format, media_type = excluded.media_type, "
            "canonical = excluded.canonical, body = excluded.body, "
            "updated_at = excluded.updated_at "
            "WHERE excluded.stream_seq > outbox_orders.stream_seq",
            (partner, key, purpose, digest, correlation_id, stream_seq, status,
             "pull" if target is None else "push", target, rendered.format, rendered.media_type,
             canonical, body),
        )
        return changed > 0

    async def acknowledge(self, partner: str, po_number: str) -> int:
        """Mark every version of a PO acknowledged (the partner answered it); rows changed."""
        return await self._db.execute(
            "UPDATE outbox_orders SET status = 'acknowledged', "
            "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
            "WHERE partner = ? AND po_key = ? AND status != 'acknowledged'",
            (partner, self._key(po_number)),
        )

    async def entries(self, partner: str, status: OutboxStatus | None = None) -> list[OutboxEntry]:
        """The partner's orders (optionally of one status), oldest first."""
        sql = f"SELECT {_COLUMNS} FROM outbox_orders WHERE partner = ?"
        params: list[object] = [partner]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        rows = await self._db.fetchall(sql + " ORDER BY stream_seq", params)
        return [self._entry(row) for row in rows]

    async def latest(
        self, partner: str, po_number: str, purpose: str | None = None
    ) -> OutboxEntry | None:
        """The newest version of one of the partner's POs (of one purpose, if given)."""
        sql = f"SELECT {_COLUMNS} FROM outbox_orders WHERE partner = ? AND po_key = ?"
        params: list[object] = [partner, self._key(po_number)]
        if purpose is not None:
            sql += " AND purpose = ?"
            params.append(purpose)
        row = await self._db.fetchone(sql + " ORDER BY stream_seq DESC LIMIT 1", params)
        return None if row is None else self._entry(row)

    async def count_attempt(self, partner: str, stream_seq: int) -> int:
        """Count one more push of the order at ``stream_seq``; returns its attempt number."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO outbox_attempts (partner, stream_seq, attempts) VALUES (?, ?, 1) "
                "ON CONFLICT (partner, stream_seq) DO UPDATE SET attempts = attempts + 1",
                (partner, stream_seq),
            )
            async with conn.execute(
                "SELECT attempts FROM outbox_attempts WHERE partner = ? AND stream_seq = ?",
                (partner, stream_seq),
            ) as cursor:
                row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def forget_attempts(self, partner: str, stream_seq: int) -> None:
        await self._db.execute(
            "DELETE FROM outbox_attempts WHERE partner = ? AND stream_seq = ?",
            (partner, stream_seq),
        )

    def _entry(self, row: tuple[object, ...]) -> OutboxEntry:
        partner, key, purpose, digest = (str(v) for v in row[:4])
        canonical, body = row[11], row[12]
        assert isinstance(canonical, bytes) and isinstance(body, bytes)
        order = self._sealer.open(
            canonical, context=_context(partner, key, purpose, digest, "canonical"))
        return OutboxEntry(
            partner=partner, po_number=decode_document(order).document_id, purpose=purpose,
            digest=digest,
            correlation_id=str(row[4]), stream_seq=int(str(row[5])),
            status=row[6],  # type: ignore[arg-type]  # the CHECK constraint keeps it in range
            delivery=row[7],  # type: ignore[arg-type]
            target=None if row[8] is None else str(row[8]), format=str(row[9]),
            media_type=str(row[10]),
            canonical=order,
            body=self._sealer.open(body, context=_context(partner, key, purpose, digest, "body")),
            created_at=str(row[13]), updated_at=str(row[14]),
        )


# --- the actor -------------------------------------------------------------------------------


class Delivered(msgspec.Struct, frozen=True, kw_only=True):
    """An order that reached its partner (pushed) or waits for it (held for pull)."""

    partner: str
    po: PurchaseOrder
    correlation_id: str
    mode: Literal["pushed", "held"]
    target: str | None
    format: str


@dataclass(frozen=True, slots=True)
class _Order:
    po: PurchaseOrder
    correlation_id: str
    traceparent: str | None
    key: str
    digest: str
    stream_seq: int
    delivery: int
    """JetStream's delivery count (grows with every nak, breaker waits included)."""


@dataclass(frozen=True, slots=True)
class _Verdict:
    action: Literal["ack", "retry", "dead_letter"]
    delay: float = 0.0
    step: str | None = None
    reason: str | None = None


_ACK = _Verdict("ack")


class OutboundActor:
    """Delivers one partner's purchase orders, in order, one at a time."""

    def __init__(
        self,
        *,
        partner: str,
        js: JetStreamContext,
        courier: Courier,
        outbox: Outbox,
        events: EventEmitter,
        partners: Callable[[], Mapping[str, Partner]],
        push_url: Callable[[Partner], str | None],
        renderer: Renderer | None = None,
        settings: OutboundSettings | None = None,
        on_delivered: Callable[[Delivered], Awaitable[None]] | None = None,
        publish_timeout: float = 10.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.partner = partner
        self.name = outbound_consumer_name(partner)
        self._js = js
        self._courier = courier
        self._outbox = outbox
        self._events = events
        self._partners = partners
        self._push_url = push_url
        self._renderer = renderer or Renderer()
        self._settings = settings or OutboundSettings()
        self._on_delivered = on_delivered
        self._timeout = publish_timeout
        self._rand = rand

    def consumer_config(self) -> ConsumerConfig:
        s = self._settings
        return ConsumerConfig(
            name=self.name, durable_name=self.name,
            description=f"Wharf outbound purchase orders for {self.partner}",
            filter_subject=subjects.outbound(self.partner, DOC_TYPE),
            deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT,
            ack_wait=max(s.ack_wait, s.timeout * 2), max_ack_pending=1,
            max_deliver=-1,  # Wharf counts push attempts itself (see the module docstring)
        )

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Create or update the consumer, report readiness, deliver orders until cancelled."""
        await self._js.add_consumer(subjects.OUT_STREAM, self.consumer_config())
        sub = await self._js.pull_subscribe_bind(self.name, subjects.OUT_STREAM)
        task_status.started()
        try:
            while True:
                try:
                    messages = await sub.fetch(1, timeout=self._settings.pull_expires)
                except nats.errors.TimeoutError:
                    continue
                for msg in messages:
                    await self._process(msg)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await sub.unsubscribe()

    async def _process(self, msg: Msg) -> None:
        try:
            order = self._order(msg)
        except (KeyError, ValueError) as exc:  # msgspec errors are ValueErrors
            log.error("outbound %s: unreadable order: %s", self.partner, exc)
            await self._dead_letter(msg, None, _Verdict("dead_letter", step="receive",
                                                        reason=f"unreadable order: {exc}"))
            return
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._keep_alive, msg)
                verdict = await self._handle(order)
                tg.cancel_scope.cancel()
            if verdict.action == "ack":
                await msg.ack_sync(timeout=self._timeout)
            elif verdict.action == "retry":
                await msg.nak(delay=verdict.delay)
            else:
                await self._dead_letter(msg, order, verdict)
        except Exception:
            # NATS or SQLite unavailable mid-way: the order is redelivered after ack_wait and
            # the outbox check / Idempotency-Key keep the partner from seeing it twice.
            log.exception("outbound %s: could not finish %s", self.partner, order.correlation_id)

    def _order(self, msg: Msg) -> _Order:
        headers = msg.headers or {}
        po = decode_document(msg.data, doc_type=DOC_TYPE)
        assert isinstance(po, PurchaseOrder)
        digest = hashlib.sha256(msg.data).hexdigest()
        meta = msg.metadata
        return _Order(
            po=po, correlation_id=headers[Header.CORRELATION_ID],
            traceparent=headers.get(Header.TRACEPARENT),
            key=po_key(self.partner, po.document_id, po.purpose, digest), digest=digest,
            stream_seq=meta.sequence.stream, delivery=meta.num_delivered,
        )

    async def _handle(self, order: _Order) -> _Verdict:
        po = order.po
        if await self._outbox.delivered(self.partner, po.document_id, po.purpose, order.digest):
            return _ACK  # delivered before (a repeated post, or a crash before the ack)
        partner = self._partners().get(self.partner)
        if partner is None:
            return await self._fail(order, PermanentError(
                f"partner {self.partner!r} is not in the policy", step="render"), attempt=0)
        url = self._push_url(partner)
        if url is not None:
            wait = self._courier.breaker(url).wait()
            if wait > 0:
                await self._emit(order, "retried", EventData(
                    step="push", target=url, retry_in=round(wait, 3),
                    error=f"circuit open for {url}"))
                return _Verdict("retry", delay=wait, step="push", reason="circuit open")
        try:
            rendered = self._renderer.render(partner, po, order.stream_seq)
        except (ValueError, DocumentError) as exc:
            return await self._fail(order, PermanentError(str(exc), step="render"), attempt=0)
        await self._emit(order, "transformed", EventData(
            step="render", format=rendered.format, document_id=po.document_id,
            size=len(rendered.body)))
        if url is None:
            await self._outbox.put(self.partner, po, rendered, digest=order.digest,
                                   correlation_id=order.correlation_id,
                                   stream_seq=order.stream_seq, target=None)
            return await self._delivered(order, rendered, None)
        attempt = await self._outbox.count_attempt(self.partner, order.stream_seq)
        if attempt > self._settings.max_attempts:  # earlier attempts crashed before reporting
            return await self._fail(order, TransientError(
                f"no answer after {attempt - 1} attempts", step="push"), attempt=attempt)
        try:
            await self._courier.push(url, rendered, key=order.key, headers=self._headers(order))
        except (TransientError, PermanentError) as exc:
            return await self._fail(order, exc, attempt=attempt)
        await self._outbox.put(self.partner, po, rendered, digest=order.digest,
                               correlation_id=order.correlation_id,
                               stream_seq=order.stream_seq, target=url)
        await self._outbox.forget_attempts(self.partner, order.stream_seq)
        return await self._delivered(order, rendered, url, attempt)

    def _headers(self, order: _Order) -> dict[str, str]:
        headers = {Header.CORRELATION_ID: order.correlation_id,
                   "Wharf-Document-Id": order.po.document_id}
        if order.traceparent:
            headers[Header.TRACEPARENT] = order.traceparent
        return headers

    async def _delivered(
        self, order: _Order, rendered: Rendered, url: str | None, attempt: int | None = None
    ) -> _Verdict:
        await self._emit(order, "posted", EventData(
            step="push" if url else "hold", attempt=attempt, target=url or "outbox",
            document_id=order.po.document_id, format=rendered.format))
        if self._on_delivered is not None:
            delivered = Delivered(
                partner=self.partner, po=order.po, correlation_id=order.correlation_id,
                mode="pushed" if url else "held", target=url, format=rendered.format)
            try:
                await self._on_delivered(delivered)
            except Exception:  # the order is delivered; a failing observer must not undo it
                log.exception("outbound %s: on_delivered failed for %s", self.partner,
                              order.correlation_id)
        return _ACK

    async def _fail(self, order: _Order, exc: TransientError | PermanentError, *,
                    attempt: int) -> _Verdict:
        permanent = isinstance(exc, PermanentError)
        reason = str(exc) or type(exc).__name__
        await self._emit(order, "failed", EventData(
            step=exc.step, attempt=attempt or None, error=reason,
            error_class="permanent" if permanent else "transient"))
        if permanent or attempt >= self._settings.max_attempts:
            return _Verdict("dead_letter", step=exc.step, reason=reason)
        delay = exc.retry_in if isinstance(exc, RetryLater) else self._backoff(attempt)
        await self._emit(order, "retried", EventData(
            step=exc.step, attempt=attempt, retry_in=round(delay, 3)))
        return _Verdict("retry", delay=delay, step=exc.step, reason=reason)

    def _backoff(self, attempt: int) -> float:
        steps = self._settings.backoff or [1.0]
        base = steps[min(attempt, len(steps)) - 1]
        spread = base * self._settings.jitter
        return max(0.0, base - spread + 2 * spread * self._rand())

    async def _emit(self, order: _Order, name: EventName, data: EventData) -> None:
        await self._events.emit(
            name, doc_type=DOC_TYPE, correlation_id=order.correlation_id, partner=self.partner,
            traceparent=order.traceparent, data=data, attempt=order.delivery,
        )

    async def _keep_alive(self, msg: Msg) -> None:
        interval = max(self._settings.ack_wait / 3, 0.5)
        while True:
            await anyio.sleep(interval)
            await msg.in_progress()

    async def _dead_letter(self, msg: Msg, order: _Order | None, verdict: _Verdict) -> None:
        headers = dict(msg.headers or {})
        meta = msg.metadata
        key = order.correlation_id if order else f"seq-{meta.sequence.stream}"
        headers.update({
            Header.MSG_ID: f"dlq:out:{key}:{meta.sequence.stream}",
            Header.DLQ_REASON: (verdict.reason or "")[:1000],
            Header.DLQ_STEP: verdict.step or "",
            Header.DLQ_DELIVERIES: str(meta.num_delivered),
            Header.DLQ_STREAM_SEQ: str(meta.sequence.stream),
            DLQ_ORIGIN: msg.subject,
        })
        await self._js.publish(subjects.dlq(self.partner), msg.data, timeout=self._timeout,
                               stream=subjects.DLQ_STREAM, headers=headers)
        if order is not None:
            await self._emit(order, "dead_lettered", EventData(
                step=verdict.step, error=verdict.reason, target=subjects.dlq(self.partner)))
            await self._outbox.forget_attempts(self.partner, order.stream_seq)
        await msg.term()
