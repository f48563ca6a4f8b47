"""The steps one inbound document goes through: transform → validate → post → (retry).

:meth:`Pipeline.handle` processes one delivery of one document and returns the
:class:`Outcome` the mailbox should apply (ack, nak with a delay, or dead-letter). Every step
emits a business event. A delivery is safe to repeat: transform and validate have no side
effects, and posting skips every target the effects ledger says was already reached.

Failure policy (written down, as pykka does):

- :class:`TransientError` (target down, timeout) and unexpected exceptions → retry after
  the backoff for this attempt; after ``max_deliveries`` attempts → dead letter.
- :class:`PermanentError` and :class:`DocumentError` (the document itself is wrong) → dead
  letter at once: retrying cannot help.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Literal

import anyio.to_thread
import msgspec
import nats.errors

from wharf.actors.checks import BusinessChecks, Verdict
from wharf.actors.posting import EffectsLedger, Posting, PostingTarget
from wharf.actors.views import Enrichment, render
from wharf.broker.subjects import Header
from wharf.codecs.base import OFFLOAD_BYTES, decode_off_loop
from wharf.errors import DocumentError, PermanentError, StepError, TransientError
from wharf.model import DocType, Document, decode_document
from wharf.observability.events import EventData, EventEmitter, EventName, cloudevent_headers

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from wharf.business import Resolution
    from wharf.codecs import CodecRegistry
    from wharf.policies import Partner
    from wharf.settings import ActorSettings

__all__ = ("Delivery", "Outcome", "Pipeline", "backoff_delay", "emit_for")

log = logging.getLogger(__name__)


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """One delivery of one inbound document, as read from the mailbox."""

    partner: str
    doc_type: DocType
    format: str
    correlation_id: str
    traceparent: str | None
    body: bytes
    attempt: int
    stream_seq: int


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """What to do with the delivery: ``ack``, ``retry`` after ``delay`` s, or ``dead_letter``."""

    action: Literal["ack", "retry", "dead_letter"]
    delay: float = 0.0
    step: str | None = None
    reason: str | None = None


def backoff_delay(settings: ActorSettings, attempt: int, rand: Callable[[], float] = random.random) -> float:
    """Seconds before attempt ``attempt + 1``: the configured backoff ± jitter."""
    steps = settings.backoff or [1.0]
    base = steps[min(attempt, len(steps)) - 1]
    spread = base * settings.jitter
    return max(0.0, base - spread + 2 * spread * rand())


class Pipeline:
    """Runs the steps for one partner's documents."""

    def __init__(
        self,
        *,
        codecs: CodecRegistry,
        events: EventEmitter,
        ledger: EffectsLedger,
        targets: Callable[[str], PostingTarget],
        partners: Callable[[], Mapping[str, Partner]],
        settings: ActorSettings,
        checks: BusinessChecks | None = None,
    ) -> None:
        self._checks = checks
        self._codecs = codecs
        self._events = events
        self._ledger = ledger
        self._targets = targets
        self._partners = partners
        self._settings = settings

    async def handle(self, d: Delivery) -> Outcome:
        step = "transform"
        try:
            partner = self._partners().get(d.partner)
            if partner is None:
                raise PermanentError(f"partner {d.partner!r} is not in the policy", step=step)
            documents = await self._transform(d)
            await self._emit(d, "transformed", EventData(step=step, attempt=d.attempt))
            step = "validate"
            verdicts = []
            for index, document in enumerate(documents):
                self._validate(partner, d, document)
                verdicts.append(await self._check(partner, d, document, _ref(d, index)))
            await self._emit(d, "validated", EventData(
                step=step, attempt=d.attempt,
                warnings=[f"{w.kind} at {w.pointer}: {w.message}"
                          for v in verdicts for w in v.warnings] or None,
            ))
            step = "post"
            for index, verdict in enumerate(verdicts):
                if verdict.action == "hold":
                    assert verdict.exception is not None
                    await self._emit(d, "held", EventData(
                        step="validate", attempt=d.attempt, exception_id=verdict.exception.id,
                        error="; ".join(f"{i.kind} at {i.pointer}: {i.message}"
                                        for i in verdict.exception.issues),
                    ))
                elif verdict.action == "post":
                    await self._accepted(partner, d, verdict.document)
                    await self._post(partner, d, verdict.document, _ref(d, index))
        except (PermanentError, DocumentError) as exc:
            return await self._fail(d, step, exc, permanent=True)
        except TransientError as exc:
            return await self._fail(d, step, exc, permanent=False)
        except Exception as exc:  # a bug or an unforeseen failure: report it and retry
            log.exception("unexpected error in step %s for %s", step, d.correlation_id)
            return await self._fail(d, step, exc, permanent=False)
        return Outcome(action="ack")

    async def _check(
        self, partner: Partner, d: Delivery, document: Document, document_ref: str
    ) -> Verdict:
        if self._checks is None:
            return Verdict("post", document)
        return await self._checks.check(
            partner, document, correlation_id=d.correlation_id, document_ref=document_ref,
            traceparent=d.traceparent,
        )

    async def resume(self, resolution: Resolution) -> None:
        """Carry on with a document a buyer approved or corrected: post it (the steps before
        posting are not repeated). Safe to call again: posting skips reached targets."""
        partner = self._partners().get(resolution.partner)
        if partner is None or resolution.document_json is None:
            raise PermanentError(f"cannot resume exception {resolution.exception_id}", step="post")
        d = Delivery(
            partner=partner.id, doc_type=resolution.doc_type, format="json",
            correlation_id=resolution.correlation_id, traceparent=resolution.traceparent,
            body=resolution.document_json.encode(), attempt=1, stream_seq=0,
        )
        document = decode_document(d.body)
        await self._emit(d, "resumed", EventData(
            step="post", exception_id=resolution.exception_id, error=resolution.note,
        ))
        await self._accepted(partner, d, document)
        await self._post(partner, d, document, resolution.document_ref)

    async def _accepted(self, partner: Partner, d: Delivery, document: Document) -> None:
        """The document passed validation: its PO lifecycle moves on (idempotent per
        correlation id) before it is posted, so the ledger never lags the posting."""
        if self._checks is not None:
            await self._checks.posted(partner, document, d.correlation_id)

    async def _transform(self, d: Delivery) -> list[Document]:
        decoded = await decode_off_loop(self._codecs.get(d.format), d.body, doc_type=d.doc_type)
        if decoded.errors:
            raise decoded.errors[0]
        return decoded.documents

    def _validate(self, partner: Partner, d: Delivery, document: Document) -> None:
        claimed = document.supplier.id
        if claimed is not None and not partner.is_self(claimed):
            raise PermanentError(
                f"document names supplier {claimed!r} but was sent by partner {partner.id!r}",
                step="validate",
            )
        if not partner.routes.get(d.doc_type):
            raise PermanentError(f"no route for {d.doc_type} in {partner.id}'s policy", step="validate")

    async def _post(
        self, partner: Partner, d: Delivery, document: Document, document_ref: str
    ) -> None:
        enrichment = (
            await self._checks.enrich(partner, document) if self._checks is not None
            else Enrichment()
        )
        for subject in partner.routes[d.doc_type]:
            if await self._ledger.done(document_ref, subject):
                continue  # reached on an earlier delivery: never post twice
            target = self._targets(subject)
            key = f"{document_ref}:{subject}"
            body, extra = (
                render(subject, document, enrichment) if len(d.body) < OFFLOAD_BYTES
                else await anyio.to_thread.run_sync(render, subject, document, enrichment)
            )
            headers = cloudevent_headers(
                event_id=key,
                event_type=f"wharf.{d.doc_type}",
                subject=document.document_id,
                correlation_id=d.correlation_id,
                partner=d.partner,
                traceparent=d.traceparent,
            )
            headers[Header.DOC_TYPE] = d.doc_type
            headers[Header.CORRELATION_ID] = d.correlation_id
            headers[Header.PARTNER] = d.partner
            headers.update(extra)
            await target.post(Posting(idempotency_key=key, body=body, headers=headers))
            await self._ledger.record(document_ref, subject, key)
            await self._emit(
                d, "posted",
                EventData(step="post", attempt=d.attempt, target=subject,
                          document_id=document.document_id),
            )

    async def _fail(self, d: Delivery, step: str, exc: Exception, *, permanent: bool) -> Outcome:
        reason = str(exc) or type(exc).__name__
        pointer = exc.pointer if isinstance(exc, DocumentError) else None
        if isinstance(exc, StepError):
            step = exc.step
        error_class: Literal["transient", "permanent"] = "permanent" if permanent else "transient"
        await self._emit(
            d, "failed",
            EventData(step=step, attempt=d.attempt, error=reason, error_class=error_class,
                      pointer=pointer),
        )
        if permanent or d.attempt >= self._settings.max_deliveries:
            return Outcome(action="dead_letter", step=step, reason=reason)
        delay = backoff_delay(self._settings, d.attempt)
        await self._emit(
            d, "retried", EventData(step=step, attempt=d.attempt, retry_in=round(delay, 3))
        )
        return Outcome(action="retry", delay=delay, step=step, reason=reason)

    async def _emit(self, d: Delivery, name: EventName, data: EventData) -> None:
        """Best effort: a trace event that cannot be published must not stop the document
        (it would otherwise be redelivered until it ran out of deliveries)."""
        try:
            await emit_for(self._events, d, name, data)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            log.warning("event %s for %s not published: %r", name, d.correlation_id, exc)


def _ref(d: Delivery, index: int) -> str:
    """The effects-ledger key of the ``index``-th document of a delivery."""
    return d.correlation_id if index == 0 else f"{d.correlation_id}#{index}"


async def emit_for(events: EventEmitter, d: Delivery, name: EventName, data: EventData) -> None:
    """Emit the business event ``name`` about the document being delivered."""
    await events.emit(
        name,
        doc_type=d.doc_type,
        correlation_id=d.correlation_id,
        partner=d.partner,
        traceparent=d.traceparent,
        data=data,
        attempt=d.attempt,
        delivery=d.stream_seq,
    )
