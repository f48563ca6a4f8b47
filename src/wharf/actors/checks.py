"""The business half of the validate step: master data, the PO, tolerances, buyer exceptions.

For each document the check gathers what it refers to (its POs and acknowledgments from the
PO ledger, its items and prices from master data) and validates it against the partner's
tolerances (:mod:`wharf.business.validation`). Its :class:`Verdict` is one of:

* ``post`` — carry on (warnings, if any, go into the trace);
* ``hold`` — outside tolerance or unknown to master data: an exception record waits for a
  buyer in the queue, and the document is not posted until it is approved or corrected;
* an ``error`` issue raises :class:`DocumentError` with its pointer (the document is wrong:
  dead letter at once).

A redelivered document finds its exception already open (the queue keeps one per
document), or already decided: then the decision applies instead of a second hold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from wharf.actors.views import Enrichment, enrich
from wharf.business import Tolerances, build_context, validate
from wharf.errors import DocumentError
from wharf.model import (
    Document,
    POAcknowledgment,
    decode_document,
    doc_type_of,
    encode_document,
    po_numbers,
)

if TYPE_CHECKING:
    from wharf.business import (
        ExceptionQueue,
        ExceptionRecord,
        MasterData,
        PurchaseOrderLedger,
        ValidationIssue,
    )
    from wharf.policies import Partner

__all__ = ("BusinessChecks", "Verdict")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the pipeline does with one document after the business checks."""

    action: Literal["post", "hold", "skip"]
    document: Document
    """The document to post (a buyer's corrected version after ``correct``)."""
    warnings: tuple[ValidationIssue, ...] = ()
    exception: ExceptionRecord | None = None


class BusinessChecks:
    """Validates documents against master data and POs; keeps the PO lifecycle."""

    def __init__(
        self,
        *,
        master: MasterData,
        ledger: PurchaseOrderLedger,
        queue: ExceptionQueue,
        max_past_days: int = 0,
        clock: type[dt.datetime] = dt.datetime,
    ) -> None:
        self.master = master
        self.ledger = ledger
        self.queue = queue
        self._max_past_days = max_past_days
        self._clock = clock

    async def check(
        self,
        partner: Partner,
        document: Document,
        *,
        correlation_id: str,
        document_ref: str,
        traceparent: str | None,
    ) -> Verdict:
        if partner.validation != "full":
            return Verdict("post", document)
        tolerances = Tolerances(
            quantity_percent=partner.tolerances.quantity_percent,
            price_percent=partner.tolerances.price_percent,
            date_days=int(partner.tolerances.date_days),
        )
        context = await build_context(
            document, supplier=partner.id, master=self.master, ledger=self.ledger,
            tolerances=tolerances, today=self._clock.now(dt.UTC).date(),
            max_past_days=self._max_past_days,
        )
        issues = validate(document, context)
        errors = [i for i in issues if i.severity == "error"]
        if errors:
            raise DocumentError(
                "; ".join(f"{i.kind} at {i.pointer}: {i.message}" for i in errors),
                pointer=errors[0].pointer,
            )
        held = [i for i in issues if i.severity == "exception"]
        warnings = tuple(i for i in issues if i.severity == "warning")
        if not held:
            return Verdict("post", document, warnings)
        numbers = po_numbers(document)
        record = await self.queue.open_exception(
            partner.id, doc_type_of(document), correlation_id,
            numbers[0] if numbers else None, held, "post", encode_document(document),
            document_ref=document_ref, traceparent=traceparent,
        )
        if record.status == "open":
            if isinstance(document, POAcknowledgment):
                await self.ledger.answered(document.po_number, partner.id,
                                           self._clock.now(dt.UTC))
            return Verdict("hold", document, warnings, record)
        if record.status == "rejected":
            return Verdict("skip", document, warnings, record)
        # Approved or corrected before this redelivery: the decision stands.
        decided = record.corrected_json or record.document_json
        return Verdict("post", decode_document(decided.encode()), warnings, record)

    async def enrich(self, partner: Partner, document: Document) -> Enrichment:
        """Receiving locations and affected customer orders, for the systems posted to."""
        return await enrich(document, partner.id, self.master)

    async def posted(self, partner: Partner, document: Document, correlation_id: str) -> None:
        """Advance the PO lifecycle for a document that passed validation (and is being
        posted); recording the same correlation id again changes nothing."""
        await self.ledger.record_document(
            partner.id, document, self._clock.now(dt.UTC), correlation_id
        )


