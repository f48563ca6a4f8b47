"""The supplier actor: one per partner, draining its mailbox in order, one document at a time.

The actor turns each JetStream delivery into a :class:`Delivery`, lets the
:class:`Pipeline` decide its :class:`Outcome`, and applies it to the message: ``ack`` when
everything was posted, ``nak`` with the backoff delay for a retry (never a bare nak: that
would ignore the delay), or — after the last attempt or for a document that can never
succeed — a copy to ``wharf.dlq.<partner>`` followed by ``+TERM``, so that the partner's next
documents keep flowing. While a document is being handled the actor tells the server it is
still working (``+WPI``) so a slow target does not cause a redelivery mid-post.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, get_args

import anyio
import anyio.abc
import nats.errors

from wharf.actors.pipeline import Delivery, Outcome, Pipeline, backoff_delay, emit_for
from wharf.broker import subjects
from wharf.broker.subjects import Header
from wharf.model import DocType
from wharf.observability.events import EventData, EventEmitter

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

    from wharf.actors.mailbox import Mailbox
    from wharf.settings import ActorSettings

__all__ = ("SupplierActor",)

log = logging.getLogger(__name__)

_DOC_TYPES = frozenset(get_args(DocType))


class SupplierActor:
    """Processes one partner's inbound documents."""

    def __init__(
        self,
        *,
        mailbox: Mailbox,
        pipeline: Pipeline,
        js: JetStreamContext,
        events: EventEmitter,
        settings: ActorSettings,
        publish_timeout: float = 10.0,
    ) -> None:
        self.partner = mailbox.partner
        self._mailbox = mailbox
        self._pipeline = pipeline
        self._js = js
        self._events = events
        self._settings = settings
        self._timeout = publish_timeout

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Open the mailbox, report readiness, then process documents until cancelled."""
        await self._mailbox.open()
        task_status.started()
        try:
            while True:
                msg = await self._mailbox.next()
                if msg is not None:
                    await self._process(msg)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self._mailbox.close()

    async def _process(self, msg: Msg) -> None:
        try:
            delivery = self._delivery(msg)
        except (KeyError, ValueError) as exc:
            # Not from Wharf's gateway (someone published by hand): park it, do not crash.
            log.error("partner %s: unreadable mailbox message: %s", self.partner, exc)
            await self._dead_letter(msg, None, Outcome(action="dead_letter", step="receive",
                                                       reason=f"unreadable message: {exc}"))
            return
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._keep_alive, msg)
                outcome = await self._pipeline.handle(delivery)
                tg.cancel_scope.cancel()
            if outcome.action == "ack":
                await msg.ack_sync(timeout=self._timeout)
            elif outcome.action == "retry":
                await msg.nak(delay=outcome.delay)
            else:
                await self._dead_letter(msg, delivery, outcome)
        except Exception:
            # NATS unavailable mid-way (the ack, the DLQ): ask for a redelivery after the
            # backoff; if even that fails the server redelivers after ack_wait. The consumer
            # has no max_deliver, so the document is never dropped by the server.
            log.exception("partner %s: could not finish %s", self.partner, delivery.correlation_id)
            with anyio.move_on_after(self._timeout):
                try:
                    await msg.nak(delay=backoff_delay(self._settings, delivery.attempt))
                except (nats.errors.Error, OSError, TimeoutError) as exc:
                    log.warning("partner %s: nak failed too: %r", self.partner, exc)

    def _delivery(self, msg: Msg) -> Delivery:
        headers = msg.headers or {}
        doc_type = headers[Header.DOC_TYPE]
        if doc_type not in _DOC_TYPES:
            raise ValueError(f"unknown document type {doc_type!r}")
        meta = msg.metadata
        return Delivery(
            partner=self.partner,
            doc_type=doc_type,  # type: ignore[arg-type]  # checked against DocType above
            format=headers.get(Header.FORMAT, "json"),
            correlation_id=headers[Header.CORRELATION_ID],
            traceparent=headers.get(Header.TRACEPARENT),
            body=msg.data,
            attempt=meta.num_delivered,
            stream_seq=meta.sequence.stream,
        )

    async def _keep_alive(self, msg: Msg) -> None:
        interval = max(self._settings.ack_wait / 3, 0.5)
        while True:
            await anyio.sleep(interval)
            await msg.in_progress()

    async def _dead_letter(self, msg: Msg, delivery: Delivery | None, outcome: Outcome) -> None:
        headers = dict(msg.headers or {})
        meta = msg.metadata
        key = headers.get(Header.CORRELATION_ID) or f"seq-{meta.sequence.stream}"
        headers.update(
            {
                # With the mailbox sequence: a replayed document that fails again is a new
                # dead letter, not a duplicate of the first.
                Header.MSG_ID: f"dlq:{key}:{meta.sequence.stream}",
                Header.DLQ_REASON: " ".join((outcome.reason or "").split())[:1000],
                Header.DLQ_STEP: outcome.step or "",
                Header.DLQ_DELIVERIES: str(meta.num_delivered),
                Header.DLQ_STREAM_SEQ: str(meta.sequence.stream),
            }
        )
        await self._js.publish(
            subjects.dlq(self.partner), msg.data, timeout=self._timeout,
            stream=subjects.DLQ_STREAM, headers=headers,
        )
        if delivery is not None:
            await emit_for(
                self._events, delivery, "dead_lettered",
                EventData(step=outcome.step, attempt=delivery.attempt, error=outcome.reason,
                          target=subjects.dlq(self.partner)),
            )
        assert msg.reply
        reason = (outcome.reason or "dead-lettered").replace("\n", " ")[:200]
        await msg._client.publish(msg.reply, b"+TERM " + reason.encode())
