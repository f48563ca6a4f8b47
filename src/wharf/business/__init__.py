"""The business layer the actor pipeline calls between transform and post.

* :mod:`~wharf.business.masterdata` / :mod:`~wharf.business.masterfiles` /
  :mod:`~wharf.business.records` — suppliers, items (GTIN, supplier part numbers, unit
  conversions), price lists, warehouses with dock/zone rules, open customer orders;
  attribute ownership; loading from files; exact unit conversion.
* :mod:`~wharf.business.validation` — ``validate(document, context)``: typed, pointed
  :class:`ValidationIssue`\\ s with severities ``error`` / ``exception`` / ``warning``.
* :mod:`~wharf.business.issues` — the issue vocabulary and :class:`Tolerances`.
* :mod:`~wharf.business.matching` — the invoice three-way match.
* :mod:`~wharf.business.exceptions` — the buyer exception queue (approve/reject/correct).
* :mod:`~wharf.business.lifecycle` / :mod:`~wharf.business.sla` — the PO lifecycle ledger
  and its durable SLA due-times.
* :mod:`~wharf.business.vault` — encryption at rest: sealed columns and the keyed
  pseudonyms PO numbers are looked up by (no PO number is stored in plain text).

Every store is opened with ``await Store.open(db, sealer)`` on the process's
:class:`wharf.storage.Database` and :class:`wharf.security.sealing.Sealer`, and owns its
tables (``md_``, ``exc_``, ``po_``; ``business_keys`` holds the sealed lookup key).
Import from here; the submodules are implementation layout.
"""

from __future__ import annotations

from wharf.business.exceptions import (
    AuditEntry,
    ExceptionQueue,
    ExceptionQueueError,
    ExceptionRecord,
    InvalidCorrection,
    Resolution,
    ResolutionConflict,
    UnknownException,
)
from wharf.business.issues import Severity, Tolerances, ValidationIssue
from wharf.business.lifecycle import (
    EventDetail,
    LineQuantity,
    PoRecord,
    PurchaseOrderLedger,
    Recorded,
)
from wharf.business.masterdata import MasterData
from wharf.business.masterfiles import LoadReport, MasterDataLoadError, Problem
from wharf.business.matching import LineMatch, MatchResult, match_invoice
from wharf.business.records import (
    ConversionError,
    CustomerOrder,
    ItemCatalog,
    Location,
    MasterDataError,
    OwnershipError,
    OwnershipRule,
    PriceEntry,
    Warehouse,
    ZoneRule,
    convert,
)
from wharf.business.sla import SlaDue, SlaSettings
from wharf.business.validation import ValidationContext, build_context, validate
from wharf.business.vault import UnsealedLayout

__all__ = (
    "AuditEntry",
    "ConversionError",
    "CustomerOrder",
    "EventDetail",
    "ExceptionQueue",
    "ExceptionQueueError",
    "ExceptionRecord",
    "InvalidCorrection",
    "ItemCatalog",
    "LineMatch",
    "LineQuantity",
    "LoadReport",
    "Location",
    "MasterData",
    "MasterDataError",
    "MasterDataLoadError",
    "MatchResult",
    "OwnershipError",
    "OwnershipRule",
    "PoRecord",
    "PriceEntry",
    "Problem",
    "PurchaseOrderLedger",
    "Recorded",
    "Resolution",
    "ResolutionConflict",
    "Severity",
    "SlaDue",
    "SlaSettings",
    "Tolerances",
    "UnknownException",
    "UnsealedLayout",
    "ValidationContext",
    "ValidationIssue",
    "Warehouse",
    "ZoneRule",
    "build_context",
    "convert",
    "match_invoice",
    "validate",
)
