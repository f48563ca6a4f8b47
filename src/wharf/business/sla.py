"""SLA timers for purchase orders: durable due-times that a runner fires exactly once.

A timer is a ``po_sla`` row — what is awaited (``ack``, ``asn``, ``invoice``) for which PO,
by when (the PO by its pseudonym ``po_key``, its number sealed; see :mod:`~wharf.business.vault`) — written in the same transaction as the lifecycle event that arms it, so it
survives any restart (no in-memory sleep anywhere). The event it waits for *closes* it
(``satisfied``), even when it comes late and even out of order; re-arming (a PO re-sent
after a change, an acknowledgment moving the promised date) closes the previous row as
``superseded`` and writes a new one. A fired timer is never closed or re-fired: the alert
was raised, whatever happens afterwards.

Arming rules, from the partner's :class:`SlaSettings`:

* ``sent`` → ack due ``ack_due_hours`` later, unless the current version of the PO was
  already acknowledged; ASN due from the PO's requested date, unless acknowledged/shipped.
* ``acknowledged`` → closes the ack timer; re-arms the ASN from the earliest promised
  date; a rejection closes the ASN timer.
* ``shipped`` closes the ASN timer and arms the invoice timer (``invoice_due_days``), which
  ``received`` moves and ``invoiced`` closes; ``cancelled`` closes them all.

The ASN is due ``asn_grace_hours`` after the promised day begins (UTC).

Firing: :func:`due` lists open, unfired rows due by ``now``; :func:`mark_fired` is a
compare-and-set that succeeds for exactly one caller per row, across processes and
restarts. A runner should emit the alert with ``sla:<id>`` as its idempotency key and then
mark it fired: a crash in between re-emits, and the key makes the repeat harmless.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal, get_args

import msgspec

from wharf.model.common import Canonical

if TYPE_CHECKING:
    from collections.abc import Sequence

    import aiosqlite

    from wharf.business.vault import Vault
    from wharf.storage import Database

__all__ = ("SCHEMA", "SlaDue", "SlaKind", "SlaSettings", "arm_for", "due", "mark_fired",
           "timers_of", "ts")

SlaKind = Literal["ack", "asn", "invoice"]
_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class SlaSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A partner's SLA timers; ``None`` switches one off."""

    ack_due_hours: float | None = 24
    """Acknowledgment due this many hours after the PO was sent."""
    asn_grace_hours: float | None = 24
    """ASN due this many hours after the promised date begins (24 = by the end of it; a
    negative number: that many hours before it)."""
    invoice_due_days: float | None = 30
    """Invoice due this many days after the goods were received (or shipped)."""


class SlaDue(Canonical):
    """One SLA timer: what is awaited (``kind``) for which PO, by when."""

    id: int
    supplier: str
    po_number: str
    kind: SlaKind
    due_at: datetime
    armed_by: str
    """The correlation id of the event that armed it."""
    fired_at: datetime | None = None
    closed_at: datetime | None = None
    closed_reason: str | None = None


SCHEMA = """
CREATE TABLE IF NOT EXISTS po_sla (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    supplier TEXT NOT NULL, po_key TEXT NOT NULL, po_number BLOB NOT NULL, kind TEXT NOT NULL,
    due_at TEXT NOT NULL, armed_by TEXT NOT NULL, created_at TEXT NOT NULL,
    fired_at TEXT, closed_at TEXT, closed_reason TEXT,
    UNIQUE (supplier, po_key, kind, armed_by)
);
CREATE INDEX IF NOT EXISTS po_sla_due ON po_sla (due_at) WHERE fired_at IS NULL
    AND closed_at IS NULL;
CREATE INDEX IF NOT EXISTS po_sla_po ON po_sla (supplier, po_key);
"""

_COLUMNS = ("id", "supplier", "po_key", "po_number", "kind", "due_at", "armed_by", "fired_at",
            "closed_at", "closed_reason")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM po_sla"


def ts(at: datetime) -> str:
    """A sortable UTC timestamp; naive datetimes are refused (their zone would be a guess)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"timestamp {at.isoformat()} has no time zone")
    return at.astimezone(UTC).strftime(_FORMAT)


def _sealed_number(supplier: str, po_key: str) -> tuple[str, ...]:
    """Where a timer's sealed PO number belongs (its sealing context)."""
    return ("po_sla", supplier, po_key, "po_number")


def _row(vault: Vault, row: Sequence[object]) -> SlaDue:
    fields = {k: v for k, v in zip(_COLUMNS, row, strict=True) if v is not None}
    po_key = str(fields.pop("po_key"))
    fields["po_number"] = vault.text(fields["po_number"],
                                     *_sealed_number(str(fields["supplier"]), po_key))
    return msgspec.convert(fields, SlaDue)


class _Timers:
    """Arms and closes one PO's timers inside the caller's transaction."""

    def __init__(self, conn: aiosqlite.Connection, vault: Vault, supplier: str, po_number: str,
                 when: str, armed_by: str) -> None:
        self.conn, self.vault, self.supplier = conn, vault, supplier
        self.po_number, self.po_key = po_number, vault.po(po_number)
        self.when, self.armed_by = when, armed_by

    async def arm(self, kind: SlaKind, due_at: datetime) -> None:
        await self.close(kind, "superseded")
        sealed = self.vault.seal(self.po_number, *_sealed_number(self.supplier, self.po_key))
        await self.conn.execute(
            "INSERT OR IGNORE INTO po_sla (supplier, po_key, po_number, kind, due_at, armed_by, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.supplier, self.po_key, sealed, kind, ts(due_at), self.armed_by,
             ts(datetime.now(UTC))))

    async def close(self, kind: SlaKind, reason: str) -> None:
        await self.conn.execute(
            "UPDATE po_sla SET closed_at = ?, closed_reason = ? WHERE supplier = ? AND "
            "po_key = ? AND kind = ? AND closed_at IS NULL AND fired_at IS NULL",
            (self.when, reason, self.supplier, self.po_key, kind))


def _day(day: date, hours: float) -> datetime:
    return datetime.combine(day, time(0), UTC) + timedelta(hours=hours)


async def arm_for(
    conn: aiosqlite.Connection, vault: Vault, settings: SlaSettings, *, supplier: str,
    po_number: str,
    event: str, at: datetime, armed_by: str, acknowledged: bool, shipped: bool,
    invoiced: bool, promised: date | None, rejected: bool,
) -> None:
    """Arm or close timers for one recorded lifecycle event (rules in the module docstring).

    ``acknowledged``: the current PO version has an acknowledgment; ``shipped`` /
    ``invoiced``: such an event was ever recorded; ``promised``: for ``sent`` the PO's
    requested date, for ``acknowledged`` the earliest promised date.
    """
    timers = _Timers(conn, vault, supplier, po_number, ts(at), armed_by)
    match event:
        case "sent":
            if settings.ack_due_hours is not None and not acknowledged:
                await timers.arm("ack", at + timedelta(hours=settings.ack_due_hours))
            if settings.asn_grace_hours is not None and promised is not None \
                    and not (acknowledged or shipped):
                await timers.arm("asn", _day(promised, settings.asn_grace_hours))
        case "acknowledged":
            await timers.close("ack", "satisfied")
            if rejected:
                await timers.close("asn", "rejected")
            elif promised is not None and not shipped and settings.asn_grace_hours is not None:
                await timers.arm("asn", _day(promised, settings.asn_grace_hours))
        case "shipped":
            await timers.close("asn", "satisfied")
            # The invoice is due after the goods shipped (the policy's
            # invoice_due_after_ship_days); a later receipt moves the timer.
            if settings.invoice_due_days is not None and not invoiced:
                await timers.arm("invoice", at + timedelta(days=settings.invoice_due_days))
        case "received":
            if settings.invoice_due_days is not None and not invoiced:
                await timers.arm("invoice", at + timedelta(days=settings.invoice_due_days))
        case "invoiced":
            await timers.close("invoice", "satisfied")
        case "cancelled":
            for kind in get_args(SlaKind):
                await timers.close(kind, "cancelled")


async def close_for(conn: aiosqlite.Connection, vault: Vault, *, supplier: str, po_number: str,
                    kind: SlaKind, at: datetime, reason: str) -> None:
    """Close one kind of timer for a PO (e.g. the ack timer when an acknowledgment arrived
    but waits for a buyer: the supplier answered on time)."""
    await _Timers(conn, vault, supplier, po_number, ts(at), "").close(kind, reason)


async def due(db: Database, vault: Vault, now: datetime) -> list[SlaDue]:
    """Timers due at ``now`` that were neither closed nor fired, oldest first."""
    rows = await db.fetchall(
        f"{_SELECT} WHERE due_at <= ? AND fired_at IS NULL AND closed_at IS NULL "
        "ORDER BY due_at, id", (ts(now),))
    return [_row(vault, row) for row in rows]


async def mark_fired(db: Database, timer_id: int, at: datetime | None = None) -> bool:
    """Mark a timer fired; True only for the one call that did it, ever."""
    changed = await db.execute(
        "UPDATE po_sla SET fired_at = ? WHERE id = ? AND fired_at IS NULL AND closed_at IS NULL",
        (ts(at or datetime.now(UTC)), timer_id))
    return changed == 1


async def timers_of(db: Database, vault: Vault, supplier: str, po_number: str
                    ) -> list[SlaDue]:
    """Every timer of one PO, in the order they were armed."""
    rows = await db.fetchall(f"{_SELECT} WHERE supplier = ? AND po_key = ? ORDER BY id",
                             (supplier, vault.po(po_number)))
    return [_row(vault, row) for row in rows]
