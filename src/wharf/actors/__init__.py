"""Per-supplier actors: a JetStream mailbox per partner and the steps each document takes."""

from __future__ import annotations

from wharf.actors.mailbox import Mailbox
from wharf.actors.pipeline import Delivery, Outcome, Pipeline
from wharf.actors.posting import (
    EffectsLedger,
    HttpTarget,
    NatsSubjectTarget,
    Posting,
    PostingTarget,
)
from wharf.actors.supervisor import Supervisor
from wharf.actors.supplier import SupplierActor

__all__ = (
    "Delivery",
    "EffectsLedger",
    "HttpTarget",
    "Mailbox",
    "NatsSubjectTarget",
    "Outcome",
    "Pipeline",
    "Posting",
    "PostingTarget",
    "Supervisor",
    "SupplierActor",
)
