"""Intake: turning an accepted request into a durable mailbox entry, exactly once.

The document is published to ``wharf.in.<partner>.<doctype>`` with ``Nats-Msg-Id`` =
``<partner>:<idempotency key>`` and the partner gets its 202 only after JetStream's PubAck.
The correlation id is derived from the same (partner, key) pair, so a retried request gets
the same correlation id even when it races the first one or arrives after a crash between
the publish and the receipt being written; JetStream drops the repeated publish.
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
import nats.errors
from nats.js.errors import APIError, NoStreamResponseError

from wharf.broker import subjects
from wharf.broker.subjects import Header
from wharf.errors import IdempotencyConflict, PayloadTooLarge, WharfError
from wharf.gateway.receipts import Receipt, ReceiptStore
from wharf.model import Document, doc_type_of
from wharf.observability.events import EventData, EventEmitter

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from wharf.policies import Partner

__all__ = ("Intake", "Unavailable", "child_traceparent")

log = logging.getLogger(__name__)

_NAMESPACE = uuid.UUID("6f0c2a8e-5b0e-4c59-9d0f-8a7e0c1d2b3a")
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
        *,
        max_payload: int,
        timeout: float = 10.0,
    ) -> None:
        self._js = js
        self._receipts = receipts
        self._events = events
        self._max_payload = max_payload
        self._timeout = timeout

    async def submit(
        self,
        partner: Partner,
        document: Document,
        *,
        body: bytes,
        fmt: str,
        content_type: str,
        idempotency_key: str | None,
        traceparent: str | None,
    ) -> tuple[Receipt, bool]:
        """Accept one document; return its receipt and whether it is a replay of an earlier one."""
        digest = hashlib.sha256(body).hexdigest()
        key = idempotency_key or f"sha256:{digest}"
        earlier = await self._receipts.get(partner.id, key)
        if earlier is not None:
            if earlier.body_sha256 != digest:
                raise IdempotencyConflict(
                    "this Idempotency-Key was used before with a different body"
                )
            return earlier, True
        if len(body) > self._max_payload:
            raise PayloadTooLarge(f"the broker takes at most {self._max_payload} bytes")
        doc_type = doc_type_of(document)
        correlation_id = str(uuid.uuid5(_NAMESPACE, f"{partner.id}\x00{key}"))
        parent = child_traceparent(traceparent)
        received_at = dt.datetime.now(dt.UTC)
        headers = {
            Header.MSG_ID: f"{partner.id}:{key}",
            Header.CORRELATION_ID: correlation_id,
            Header.PARTNER: partner.id,
            Header.DOC_TYPE: doc_type,
            Header.FORMAT: fmt,
            Header.CONTENT_TYPE: content_type,
            Header.IDEMPOTENCY_KEY: key,
            Header.RECEIVED_AT: received_at.isoformat(),
            Header.TRACEPARENT: parent,
        }
        try:
            ack = await self._js.publish(
                subjects.inbound(partner.id, doc_type), body, timeout=self._timeout,
                stream=subjects.IN_STREAM, headers=headers,
            )
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError, NoStreamResponseError, APIError,
                nats.errors.ConnectionClosedError, nats.errors.OutboundBufferLimitError) as exc:
            raise Unavailable(f"the mailbox did not confirm the document: {exc!r}") from exc
        receipt = Receipt(
            partner=partner.id, idempotency_key=key, body_sha256=digest,
            correlation_id=correlation_id, doc_type=doc_type, document_id=document.document_id,
        )
        try:
            receipt = await self._receipts.put(receipt)
        except aiosqlite.Error:
            # The document is safe in JetStream; a retry within the duplicate window is
            # still deduplicated by Nats-Msg-Id. Log and answer.
            log.exception("could not store the receipt for %s", correlation_id)
        # Always emit: a duplicate PubAck may follow a crash before the first "received"; the
        # event's own Msg-Id keeps it single in WHARF_EVT.
        try:
            await self._events.emit(
                "received", doc_type=doc_type, correlation_id=correlation_id,
                partner=partner.id, traceparent=parent, time=received_at,
                data=EventData(document_id=document.document_id, size=len(body), format=fmt),
            )
        except (nats.errors.Error, APIError) as exc:
            log.warning("could not emit received for %s: %r", correlation_id, exc)
        return receipt, bool(ack.duplicate)
