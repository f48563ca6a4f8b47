"""PO out at the edges: the ERP hands Wharf purchase orders; partners pull the ones held for them.

Entry (ERP → Wharf), on the internal listener and on NATS:

- ``POST /internal/v1/purchase-orders`` with a canonical ``PurchaseOrder`` (JSON; original,
  change or cancel; ``supplier.id`` = the partner id) → ``202`` with the correlation id once
  JetStream has the order on ``wharf.out.<partner>.purchase_order``. Bad JSON is ``400``, a
  document the model refuses ``422`` (both problem+json with a JSON pointer), an unknown
  partner ``404``, JetStream not confirming ``503`` with ``Retry-After``.
- ``wharf.erp.po`` (queue group ``wharf-erp-po``): the same, answered on the request's reply
  subject (``{"status": 202, ...}`` or a problem object). Only a request gets a confirmation: an
  ERP that must not lose an order uses request-reply and retries on timeout. If a stream ever
  captures ``wharf.erp.po``, a JetStream delivery is acked after the WHARF_OUT publish, nak'ed
  when JetStream is unavailable and terminated when the order is invalid.

The order's ``Nats-Msg-Id`` is ``po:<partner>:<PO number>:<purpose>:<sha256 of the canonical
JSON>`` and its correlation id is derived from it, so an ERP that posts the same order twice
(over HTTP, NATS or both) gets the same answer and the partner gets one order.

Pull (partner listener, ``purchase-orders:read``): ``GET /v1/purchase-orders?status=open`` lists
the partner's own held orders; ``GET /v1/purchase-orders/{po}`` returns one, as canonical JSON or
(``Accept``) in the partner's format. Another partner's PO answers 404, exactly like an unknown one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.abc
import msgspec
import nats.errors
from nats.js.errors import APIError, NoStreamResponseError
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wharf.actors.outbound import OUTBOX_STATUSES, po_key
from wharf.broker import subjects
from wharf.broker.subjects import Header
from wharf.errors import DocumentError, MalformedDocument, PayloadTooLarge, RequestTimeout
from wharf.gateway.intake import Unavailable, child_traceparent
from wharf.gateway.problems import MEDIA_TYPE as PROBLEM_MEDIA_TYPE, PROBLEM_BASE, Problem, problem
from wharf.model import PurchaseOrder, decode_document, encode_document
from wharf.observability.events import EventData, EventEmitter
from wharf.pointers import locate
from wharf.security.tokens import PURCHASE_ORDERS_READ

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence

    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext
    from starlette.requests import Request

    from wharf.actors.outbound import Outbox, OutboxEntry
    from wharf.gateway.guard import Guard
    from wharf.policies import Partner

__all__ = (
    "ERP_QUEUE",
    "ERP_SUBJECT",
    "Accepted",
    "ErpPurchaseOrders",
    "PurchaseOrderIntake",
    "UnknownPartner",
    "internal_routes",
    "negotiate",
    "partner_routes",
)

log = logging.getLogger(__name__)

ERP_SUBJECT = "wharf.erp.po"
ERP_QUEUE = "wharf-erp-po"
DOC_TYPE: Literal["purchase_order"] = "purchase_order"

_NAMESPACE = uuid.UUID("0b6f3c1e-8a41-4f7e-b7c5-3d2a9e6f1c40")
_UNAVAILABLE = (
    nats.errors.TimeoutError, nats.errors.NoRespondersError, NoStreamResponseError, APIError,
    nats.errors.ConnectionClosedError, nats.errors.OutboundBufferLimitError,
)
_encode = msgspec.json.Encoder().encode


class UnknownPartner(DocumentError):
    """Raised when an order names a supplier that is not a partner in the policy."""

    status = 404
    title = "Unknown partner"


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    """An order on its way to the partner (in WHARF_OUT)."""

    correlation_id: str
    partner: str
    po_number: str
    purpose: str
    idempotency_key: str
    duplicate: bool
    """True when JetStream had this exact order already (a repeated post)."""


# --- entry -----------------------------------------------------------------------------------


class PurchaseOrderIntake:
    """Validates an ERP's order and publishes it to the partner's outbound subject.

    ``on_accepted`` (e.g. the PO lifecycle ledger's ``issued``/``changed``/``cancelled``) is
    called after every confirmed publish, repeats included, so it must be idempotent; its
    failure is logged and does not fail the request (the order is already safe in JetStream).
    """

    def __init__(
        self,
        js: JetStreamContext,
        events: EventEmitter,
        partners: Callable[[], Mapping[str, Partner]],
        *,
        max_payload: int,
        timeout: float = 10.0,
        on_accepted: Callable[[PurchaseOrder, Accepted], Awaitable[None]] | None = None,
    ) -> None:
        self._js = js
        self._events = events
        self._partners = partners
        self._max_payload = max_payload
        self._timeout = timeout
        self._on_accepted = on_accepted

    def decode(self, body: bytes) -> tuple[PurchaseOrder, Partner]:
        """The order and its partner; DocumentError (400/422/404) with a pointer if not."""
        try:
            po = decode_document(body, doc_type=DOC_TYPE)
        except msgspec.ValidationError as exc:
            where = locate(exc)
            raise DocumentError(where.message, pointer=where.pointer) from exc
        except msgspec.DecodeError as exc:
            raise MalformedDocument(f"not valid JSON: {exc}", pointer="") from exc
        assert isinstance(po, PurchaseOrder)
        supplier = po.supplier.id
        if not supplier:
            raise DocumentError("`supplier.id` must name the partner the order goes to",
                                pointer="/supplier/id")
        partner = self._partners().get(supplier)
        if partner is None:
            raise UnknownPartner(f"no partner {supplier!r} in the policy", pointer="/supplier/id")
        return po, partner

    async def accept(self, body: bytes, *, traceparent: str | None = None,
                     via: str = "http") -> Accepted:
        """Publish the order in ``body``; Unavailable when JetStream did not confirm it."""
        po, partner = self.decode(body)
        canonical = encode_document(po)
        if len(canonical) > self._max_payload:
            raise PayloadTooLarge(f"the broker takes at most {self._max_payload} bytes")
        key = po_key(partner.id, po.document_id, po.purpose, hashlib.sha256(canonical).hexdigest())
        correlation_id = str(uuid.uuid5(_NAMESPACE, key))
        traceparent = child_traceparent(traceparent)
        received_at = dt.datetime.now(dt.UTC)
        headers = {
            Header.MSG_ID: key,
            Header.CORRELATION_ID: correlation_id,
            Header.PARTNER: partner.id,
            Header.DOC_TYPE: DOC_TYPE,
            Header.FORMAT: "json",
            Header.CONTENT_TYPE: "application/json",
            Header.IDEMPOTENCY_KEY: key,
            Header.RECEIVED_AT: received_at.isoformat(),
            Header.TRACEPARENT: traceparent,
        }
        try:
            ack = await self._js.publish(
                subjects.outbound(partner.id, DOC_TYPE), canonical, timeout=self._timeout,
                stream=subjects.OUT_STREAM, headers=headers,
            )
        except _UNAVAILABLE as exc:
            raise Unavailable(f"the outbound stream did not confirm the order: {exc!r}") from exc
        accepted = Accepted(
            correlation_id=correlation_id, partner=partner.id, po_number=po.document_id,
            purpose=po.purpose, idempotency_key=key, duplicate=bool(ack.duplicate),
        )
        try:
            await self._events.emit(
                "received", doc_type=DOC_TYPE, correlation_id=correlation_id,
                partner=partner.id, traceparent=traceparent, time=received_at,
                data=EventData(document_id=po.document_id, size=len(body), format="json",
                               source=f"erp:{via}"),
            )
        except (nats.errors.Error, APIError) as exc:
            log.warning("could not emit received for %s: %r", correlation_id, exc)
        if self._on_accepted is not None:
            try:
                await self._on_accepted(po, accepted)
            except Exception:  # reported; the order is safe in JetStream either way
                log.exception("on_accepted failed for %s", correlation_id)
        return accepted


def _problem_body(exc: DocumentError) -> bytes:
    return _encode(Problem(
        type=PROBLEM_BASE + exc.title.lower().replace(" ", "-"), title=exc.title,
        status=exc.status, detail=exc.detail, pointer=exc.pointer,
    ))


class ErpPurchaseOrders:
    """The NATS entry: orders the ERP publishes (or requests) on ``wharf.erp.po``."""

    def __init__(
        self,
        nc: Client,
        intake: PurchaseOrderIntake,
        *,
        subject: str = ERP_SUBJECT,
        queue: str = ERP_QUEUE,
        retry_delay: float = 5.0,
    ) -> None:
        self._nc = nc
        self._intake = intake
        self._subject = subject
        self._queue = queue
        self._retry_delay = retry_delay

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Subscribe (in the queue group: one Wharf process takes each order) until cancelled."""
        sub = await self._nc.subscribe(self._subject, queue=self._queue)
        task_status.started()
        try:
            async for msg in sub.messages:
                try:
                    await self.handle(msg)
                except Exception:  # reported; one bad exchange must not stop the entry
                    log.exception("could not handle an order on %s", msg.subject)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await sub.unsubscribe()

    async def handle(self, msg: Msg) -> None:
        """Accept one order; confirm (reply or ack) only after the WHARF_OUT publish."""
        jetstream = bool(msg.reply) and msg.reply.startswith("$JS.ACK.")
        headers = msg.headers or {}
        try:
            accepted = await self._intake.accept(
                msg.data, traceparent=headers.get(Header.TRACEPARENT), via="nats")
        except DocumentError as exc:
            log.warning("refused an order on %s: %s (%s)", msg.subject, exc.detail, exc.pointer)
            if jetstream:
                await msg.term()
            else:
                await self._answer(msg, _problem_body(exc), PROBLEM_MEDIA_TYPE)
            return
        except Unavailable as exc:
            log.warning("order on %s not taken: %s", msg.subject, exc)
            if jetstream:
                await msg.nak(delay=self._retry_delay)
            else:
                body = _encode(Problem(type=PROBLEM_BASE + "unavailable", status=503,
                                       title="Service unavailable", detail=str(exc)))
                await self._answer(msg, body, PROBLEM_MEDIA_TYPE)
            return
        if jetstream:
            await msg.ack()
        else:
            answer = {"status": 202, **msgspec.to_builtins(accepted)}
            await self._answer(msg, _encode(answer), "application/json")

    async def _answer(self, msg: Msg, body: bytes, media_type: str) -> None:
        if msg.reply:
            await self._nc.publish(msg.reply, body, headers={"Content-Type": media_type})


async def _read_body(request: Request, limit: int, within: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    with anyio.move_on_after(within) as scope:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
    if scope.cancelled_caught:
        raise RequestTimeout(f"the body did not arrive within {within:g} s")
    return b"".join(chunks)


def _document_problem(exc: DocumentError) -> Response:
    return problem(exc.status, exc.title.lower().replace(" ", "-"), exc.title, exc.detail,
                   pointer=exc.pointer)


def internal_routes(
    intake: PurchaseOrderIntake, *, max_body_bytes: int = 1_048_576, body_timeout: float = 30.0
) -> list[Route]:
    """``POST /internal/v1/purchase-orders`` for the internal listener."""

    async def create(request: Request) -> Response:
        media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media and media != "application/json" and not media.endswith("+json"):
            return problem(415, "unsupported-media-type", "Unsupported media type",
                           "send the canonical purchase order as application/json",
                           header="Content-Type")
        try:
            body = await _read_body(request, max_body_bytes, body_timeout)
            accepted = await intake.accept(
                body, traceparent=request.headers.get("traceparent"), via="http")
        except DocumentError as exc:
            return _document_problem(exc)
        except Unavailable as exc:
            return problem(503, "unavailable", "Service unavailable", str(exc),
                           headers={"Retry-After": "5"})
        status_url = (str(request.base_url).rstrip("/")
                      + f"/internal/v1/traces/{accepted.correlation_id}")
        headers = {"Location": status_url, Header.CORRELATION_ID: accepted.correlation_id}
        if accepted.duplicate:
            headers["Idempotent-Replayed"] = "true"
        answer = {**msgspec.to_builtins(accepted), "status_url": status_url}
        return JSONResponse(answer, status_code=202, headers=headers)

    return [Route("/internal/v1/purchase-orders", create, methods=["POST"],
                  name="internal_purchase_orders")]


# --- pull ------------------------------------------------------------------------------------


class _Listed(msgspec.Struct, frozen=True, kw_only=True):
    po_number: str
    purpose: str
    status: str
    correlation_id: str
    format: str
    media_type: str
    """The media type of the order as rendered for the partner (``Accept`` it on the item URL)."""
    created_at: str
    updated_at: str
    href: str
    purchase_order: msgspec.Raw


def _listed(entry: OutboxEntry, href: str) -> _Listed:
    return _Listed(
        po_number=entry.po_number, purpose=entry.purpose, status=entry.status,
        correlation_id=entry.correlation_id, format=entry.format, media_type=entry.media_type,
        created_at=entry.created_at, updated_at=entry.updated_at, href=href,
        purchase_order=msgspec.Raw(entry.canonical),
    )


def negotiate(accept: str | None, offers: Sequence[str]) -> str | None:
    """The offer the ``Accept`` header prefers (first offer wins ties); None if none is acceptable.

    Each offer takes the q of the most specific range matching it (``type/sub`` over
    ``type/*`` over ``*/*``).
    """
    if not accept or not accept.strip():
        return offers[0] if offers else None
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media:
            ranges.append((media.lower(), q))
    best, best_q = None, 0.0
    for offer in offers:
        kind = offer.split("/", 1)[0]
        found: tuple[int, float] | None = None
        for media, q in ranges:
            rank = {offer: 3, f"{kind}/*": 2, "*/*": 1}.get(media, 0)
            if rank and (found is None or rank > found[0]):
                found = (rank, q)
        if found is not None and found[1] > best_q:
            best, best_q = offer, found[1]
    return best


_PURPOSES = ("original", "change", "cancel")


def partner_routes(guard: Guard, outbox: Outbox) -> list[Route]:
    """``GET /v1/purchase-orders`` and ``GET /v1/purchase-orders/{po}`` for the partner listener.

    Needs the partner app's exception handlers (AuthError, RateLimited) like every guarded route.
    """

    async def list_orders(request: Request) -> Response:
        caller = await guard.enter(request)
        await guard.require(request, caller, PURCHASE_ORDERS_READ)
        status = request.query_params.get("status", "open")
        if status != "all" and status not in OUTBOX_STATUSES:
            return problem(400, "invalid-parameter", "Invalid parameter",
                           f"status must be one of {', '.join(OUTBOX_STATUSES)} or all")
        entries = await outbox.entries(
            caller.partner.id, None if status == "all" else status)  # type: ignore[arg-type]
        listed = [
            _listed(e, str(request.url_for("partner_purchase_order", po=e.po_number)))
            for e in entries
        ]
        return Response(_encode(listed), media_type="application/json")

    async def one_order(request: Request) -> Response:
        caller = await guard.enter(request)
        await guard.require(request, caller, PURCHASE_ORDERS_READ)
        purpose = request.query_params.get("purpose")
        if purpose is not None and purpose not in _PURPOSES:
            return problem(400, "invalid-parameter", "Invalid parameter",
                           f"purpose must be one of {', '.join(_PURPOSES)}")
        entry = await outbox.latest(caller.partner.id, request.path_params["po"], purpose)
        if entry is None:  # another partner's PO looks exactly like an unknown one
            return problem(404, "not-found", "Not found", "no such purchase order")
        offers = ["application/json", entry.media_type]
        if entry.media_type == "application/xml":
            offers.append("text/xml")
        chosen = negotiate(request.headers.get("accept"), offers)
        headers = {Header.CORRELATION_ID: entry.correlation_id, "Vary": "Accept"}
        if chosen is None:
            return problem(406, "not-acceptable", "Not acceptable",
                           f"available as {', '.join(dict.fromkeys(offers))}", headers=headers)
        if chosen == "application/json":
            return Response(entry.canonical, media_type="application/json", headers=headers)
        return Response(entry.body, media_type=entry.media_type, headers=headers)

    return [
        Route("/v1/purchase-orders", list_orders, methods=["GET"],
              name="partner_purchase_orders"),
        Route("/v1/purchase-orders/{po:path}", one_order, methods=["GET"],
              name="partner_purchase_order"),
    ]
