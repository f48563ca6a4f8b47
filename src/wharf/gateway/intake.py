"""Intake: turning an accepted request into a durable mailbox entry, exactly once.

Each document of a request is published to ``wharf.in.<partner>.<doctype>`` with
``Nats-Msg-Id`` = ``<partner>:<key>`` and the partner gets its 202 only after JetStream's
PubAck. A request holding several documents (an X12 interchange with three 856s) gives each
its own key (``<key>#<n>`` for the n-th), so each has its own correlation id and fate. The
correlation id is derived from the same (partner, key) pair, so a retried request gets the
same correlation ids even when it races the first one or arrives after a crash between the
publish and the receipt being written; JetStream drops the repeated publish, and after the
duplicate window the posted-effects ledger (keyed by correlation id) still posts nothing twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import uuid
from typing import TYPE_CHECKING

import aiosqlite
import anyio.to_thread
import nats.errors
from nats.js.errors import APIError, NoStreamResponseError

from wharf.broker import subjects
from wharf.broker.subjects import Header
from wharf.codecs.base import OFFLOAD_BYTES
from wharf.errors import IdempotencyConflict, PayloadTooLarge, WharfError
from wharf.gateway.receipts import Receipt, ReceiptStore
from wharf.model import Document, doc_type_of, encode_document
from wharf.observability.events import EventData, EventEmitter
from wharf.observability.tracestore import Payload

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from wharf.codecs import Reply
    from wharf.observability.tracestore import TraceStore
    from wharf.policies import Partner

__all__ = (
    "Intake",
    "Unavailable",
    "body_digest",
    "child_traceparent",
    "part_key",
    "request_key",
)

log = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("6f0c2a8e-5b0e-4c59-9d0f-8a7e0c1d2b3a")
_UNAVAILABLE = (
    nats.errors.TimeoutError, nats.errors.NoRespondersError, NoStreamResponseError, APIError,
    nats.errors.ConnectionClosedError, nats.errors.OutboundBufferLimitError,
)
_TRACEPARENT = re.compile(r"^00-(?P<trace>[0-9a-f]{32})-[0-9a-f]{16}-(?P<flags>[0-9a-f]{2})$")


class Unavailable(WharfError):
    """Raised when JetStream did not confirm the write; the partner should retry later."""


def child_traceparent(incoming: str | None) -> str:
    """A W3C traceparent for Wharf's work: a child of ``incoming`` when valid, else a new trace."""
    match = _TRACEPARENT.match(incoming.strip().lower()) if incoming else None
    if match and match["trace"] != "0" * 32:
        trace, flags = match["trace"], match["flags"]
    else:
        trace, flags = secrets.token_hex(16), "01"
    return f"00-{trace}-{secrets.token_hex(8)}-{flags}"


class Intake:
    """Publishes accepted documents to the partner's mailbox and remembers the answer."""

    def __init__(
        self,
        js: JetStreamContext,
        receipts: ReceiptStore,
        events: EventEmitter,
        payloads: TraceStore,
        *,
        max_payload: int,
        timeout: float = 10.0,
    ) -> None:
        self._js = js
        self._receipts = receipts
        self._events = events
        self._payloads = payloads
        self._max_payload = max_payload
        self._timeout = timeout

    async def earlier(self, partner: Partner, key: str, digest: str) -> bool:
        """True if this key was accepted before with this body; IdempotencyConflict if another."""
        receipt = await self._receipts.first_for_request(partner.id, key)
        if receipt is None:
            return False
        if receipt.body_sha256 != digest:
            raise IdempotencyConflict("this Idempotency-Key was used before with a different body")
        return True

    async def submit(
        self,
        partner: Partner,
        document: Document,
        *,
        key: str,
        request_sha256: str,
        fmt: str,
        source: str | None,
        raw: bytes,
        media_type: str,
        traceparent: str,
    ) -> tuple[Receipt, bool]:
        """Accept one document under its own idempotency ``key``; return its receipt and
        whether JetStream had it already (a replay).

        The mailbox carries the canonical JSON of the document (decoded and validated at the
        edge), whatever format the partner sent.
        """
        body = (
            encode_document(document) if len(raw) < OFFLOAD_BYTES
            else await anyio.to_thread.run_sync(encode_document, document)
        )
        if len(body) > self._max_payload:
            raise PayloadTooLarge(f"the broker takes at most {self._max_payload} bytes")
        doc_type = doc_type_of(document)
        correlation_id = str(uuid.uuid5(_NAMESPACE, f"{partner.id}\x00{key}"))
        received_at = dt.datetime.now(dt.UTC)
        headers = {
            Header.MSG_ID: f"{partner.id}:{key}",
            Header.CORRELATION_ID: correlation_id,
            Header.PARTNER: partner.id,
            Header.DOC_TYPE: doc_type,
            Header.FORMAT: "json",
            Header.SOURCE_FORMAT: fmt,
            Header.CONTENT_TYPE: "application/json",
            Header.IDEMPOTENCY_KEY: key,
            Header.RECEIVED_AT: received_at.isoformat(),
            Header.TRACEPARENT: traceparent,
        }
        if source is not None:
            headers[Header.SOURCE] = source
        try:
            ack = await self._js.publish(
                subjects.inbound(partner.id, doc_type), body, timeout=self._timeout,
                stream=subjects.IN_STREAM, headers=headers,
            )
        except _UNAVAILABLE as exc:
            raise Unavailable(f"the mailbox did not confirm the document: {exc!r}") from exc
        receipt = Receipt(
            partner=partner.id, idempotency_key=key, body_sha256=request_sha256,
            correlation_id=correlation_id, doc_type=doc_type, document_id=document.document_id,
        )
        try:
            receipt = await self._receipts.put(receipt)
            if receipt.body_sha256 != request_sha256:
                # Raced another request with this key and another body: JetStream kept the
                # first one; this body was dropped as a duplicate, so it must not get a 202.
                raise IdempotencyConflict(
                    "this Idempotency-Key was used at the same time with a different body"
                )
            await self._payloads.put_payload(
                correlation_id, Payload(media_type=media_type, raw=raw, canonical=body)
            )
        except aiosqlite.Error:
            # The document is safe in JetStream; a retry within the duplicate window is
            # still deduplicated by Nats-Msg-Id. Log and answer.
            log.exception("could not store the receipt for %s", correlation_id)
        # Always emit: a duplicate PubAck may follow a crash before the first "received"; the
        # event's own Msg-Id keeps it single in WHARF_EVT.
        try:
            await self._events.emit(
                "received", doc_type=doc_type, correlation_id=correlation_id,
                partner=partner.id, traceparent=traceparent, time=received_at,
                data=EventData(document_id=document.document_id, size=len(raw), format=fmt,
                               source=source),
            )
        except (nats.errors.Error, APIError) as exc:
            log.warning("could not emit received for %s: %r", correlation_id, exc)
        return receipt, bool(ack.duplicate)

    async def reply(self, partner: Partner, key: str, reply: Reply) -> None:
        """Keep the format's own answer (997, CONTRL) in the partner's outbox on WHARF_OUT."""
        try:
            await self._js.publish(
                subjects.outbound(partner.id, "functional_ack"), reply.body,
                timeout=self._timeout, stream=subjects.OUT_STREAM,
                headers={
                    Header.MSG_ID: f"{partner.id}:{key}:{reply.kind}",
                    Header.PARTNER: partner.id,
                    Header.FORMAT: reply.kind,
                    Header.CONTENT_TYPE: reply.media_type,
                    Header.IDEMPOTENCY_KEY: key,
                },
            )
        except _UNAVAILABLE as exc:
            # The partner still gets the reply in the HTTP answer; the outbox copy is a courtesy.
            log.warning("could not keep the %s for %s:%s: %r", reply.kind, partner.id, key, exc)


def request_key(idempotency_key: str | None, digest: str) -> str:
    """The request's idempotency key: a hash of the partner's header (partners put PO numbers
    in them, and keys are stored), else the body's content hash."""
    if idempotency_key is None:
        return f"sha256:{digest}"
    return "key:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def part_key(key: str, index: int) -> str:
    """The idempotency key of the ``index``-th document in a request (the first keeps ``key``)."""
    return key if index == 0 else f"{key}#{index}"


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
