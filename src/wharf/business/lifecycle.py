"""The purchase-order lifecycle ledger: every PO's milestones, anomalies and SLA due-times.

Per (supplier, PO number) the ledger keeps the events that happened to the order —
``issued → sent → acknowledged (accepted / changed / rejected) → shipped → received →
invoiced → matched / disputed``, plus ``changed`` and ``cancelled`` — and the state they
lead to. Every event is stored, whatever order it arrives in; nothing is ever lost.

The ordering rule (documents arrive out of order in real life — an ASN before the ack is
common):

* The state is the furthest milestone reached; it never moves back. ``matched`` and
  ``disputed`` may replace each other; ``cancelled`` ends the order.
* An event that skips milestones (an ASN while the PO is only ``sent``) advances the state
  and records an ``out_of_order`` anomaly per missing milestone. When the missing event
  arrives late it is stored (``in_order = False``), fills its gap (the ack status is
  taken) and *resolves* that anomaly — so open anomalies are exactly the gaps that remain.
* The first event of a PO Wharf never issued records ``unknown_po`` (resolved if the
  ``issued`` event turns up later). Events after ``cancelled`` record ``after_cancel``;
  shipping, receiving or invoicing after a rejected acknowledgment records
  ``after_rejection``.
* Repeats of a milestone (a second ASN, a re-acknowledged change) are normal.
* The same (event, correlation id) twice is a redelivery: stored once, reported as a
  duplicate, no effect.

At rest (:mod:`wharf.business.vault`): rows are keyed by the PO number's pseudonym
(``po_key``); the number itself, the kept PO and acknowledgment and every event's detail are
sealed, bound to their row. Callers pass and get real PO numbers.

SLA timers (:mod:`wharf.business.sla`) are armed and closed in the same transaction as
the event that triggers them, from the partner's :class:`SlaSettings`; the ledger exposes
:meth:`~PurchaseOrderLedger.due` and :meth:`~PurchaseOrderLedger.mark_fired` for the timer
runner.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Literal, TypeVar, cast, get_args

import msgspec

from wharf.business import sla
from wharf.business.sla import SlaDue, SlaSettings, ts
from wharf.business.vault import Vault
from wharf.model import (
    Document,
    Invoice,
    POAcknowledgment,
    PurchaseOrder,
    Quantity,
    ShipNotice,
)
from wharf.model.common import Canonical

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Sequence

    import aiosqlite

    from wharf.model.documents import ShipmentOrder
    from wharf.security.sealing import Sealer
    from wharf.storage import Database

__all__ = (
    "AckStatus",
    "Anomaly",
    "EventDetail",
    "LineQuantity",
    "PoEvent",
    "PoEventRecord",
    "PoRecord",
    "PoState",
    "PurchaseOrderLedger",
    "Recorded",
)

PoEvent = Literal["issued", "changed", "cancelled", "sent", "acknowledged", "shipped",
                  "received", "invoiced", "matched", "disputed"]
PoState = Literal["issued", "sent", "acknowledged", "shipped", "received", "invoiced",
                  "matched", "disputed", "cancelled"]
AckStatus = Literal["accepted", "changed", "rejected"]
AnomalyKind = Literal["out_of_order", "unknown_po", "after_cancel", "after_rejection"]

_EVENTS = frozenset(get_args(PoEvent))
_MILESTONES: tuple[PoState, ...] = ("issued", "sent", "acknowledged", "shipped", "received",
                                    "invoiced")
_RANK: dict[str, int] = {**{m: i for i, m in enumerate(_MILESTONES)}, "matched": 6,
                         "disputed": 6}
_OPEN_EXCLUDES = ("matched", "cancelled")
_PURPOSE_EVENT: dict[str, PoEvent] = {"original": "issued", "change": "changed",
                                      "cancel": "cancelled"}
_ACK_STATUS: dict[str, AckStatus] = {"accepted": "accepted",
                                     "accepted_with_changes": "changed",
                                     "rejected": "rejected"}


class _Struct(Canonical):
    """Frozen, keyword-only, compact: the canonical model's base, for our records too."""


_S = TypeVar("_S", bound=_Struct)


class LineQuantity(_Struct, frozen=True):
    """A quantity shipped or received against one PO line."""

    line_number: str
    quantity: Quantity


class EventDetail(_Struct, frozen=True):
    """What an event carries beyond its name: the document, ack outcome, dates, quantities."""

    document_id: str | None = None
    ack_status: AckStatus | None = None
    promised_date: date | None = None
    lines: tuple[LineQuantity, ...] = ()
    note: str | None = None


class PoEventRecord(_Struct, frozen=True):
    id: int
    event: PoEvent
    at: datetime
    correlation_id: str
    in_order: bool
    detail: EventDetail | None = None


class Anomaly(_Struct, frozen=True):
    """An event that broke the expected order; ``resolved_at`` once the gap was filled."""

    id: int
    kind: AnomalyKind
    message: str
    event_id: int
    at: datetime
    milestone: str | None = None
    resolved_at: datetime | None = None


class PoRecord(_Struct, frozen=True):
    """A PO's lifecycle: state, ack outcome and (from :meth:`~PurchaseOrderLedger.get`)
    its events, anomalies and timers."""

    supplier: str
    po_number: str
    state: PoState
    updated_at: datetime
    ack_status: AckStatus | None = None
    events: tuple[PoEventRecord, ...] = ()
    anomalies: tuple[Anomaly, ...] = ()
    timers: tuple[SlaDue, ...] = ()


class Recorded(_Struct, frozen=True):
    """The effect of one :meth:`~PurchaseOrderLedger.record` call."""

    po_number: str
    supplier: str
    event: PoEvent
    state: PoState
    duplicate: bool = False
    in_order: bool = True
    state_before: PoState | None = None
    anomalies: tuple[str, ...] = ()


SCHEMA = """
CREATE TABLE IF NOT EXISTS po_orders (
    supplier TEXT NOT NULL, po_key TEXT NOT NULL, po_number BLOB NOT NULL,
    state TEXT NOT NULL, ack_status TEXT, po_json BLOB, ack_json BLOB,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (supplier, po_key)
);
CREATE INDEX IF NOT EXISTS po_orders_state ON po_orders (state);
CREATE INDEX IF NOT EXISTS po_orders_key ON po_orders (po_key);
CREATE TABLE IF NOT EXISTS po_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    supplier TEXT NOT NULL, po_key TEXT NOT NULL, event TEXT NOT NULL, at TEXT NOT NULL,
    correlation_id TEXT NOT NULL, detail BLOB, in_order INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    UNIQUE (supplier, po_key, event, correlation_id)
);
CREATE TABLE IF NOT EXISTS po_anomalies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    supplier TEXT NOT NULL, po_key TEXT NOT NULL, kind TEXT NOT NULL, milestone TEXT,
    message TEXT NOT NULL, event_id INTEGER NOT NULL, at TEXT NOT NULL, resolved_at TEXT
);
CREATE INDEX IF NOT EXISTS po_anomalies_po ON po_anomalies (supplier, po_key);
"""

_ENCODER = msgspec.json.Encoder(decimal_format="string")
_DETAIL = msgspec.json.Decoder(EventDetail)
_PO = msgspec.json.Decoder(PurchaseOrder)
_ACK = msgspec.json.Decoder(POAcknowledgment)


def _now() -> str:
    return ts(datetime.now(UTC))


async def _all(conn: aiosqlite.Connection, sql: str, params: Sequence[object]) -> list[tuple[
        object, ...]]:
    async with conn.execute(sql, params) as cursor:
        return [tuple(row) for row in await cursor.fetchall()]


def _promised(po: PurchaseOrder) -> date | None:
    dates = [line.requested_date for line in po.lines if line.requested_date is not None]
    return min(dates) if dates else po.requested_date


class PurchaseOrderLedger:
    """The lifecycle of every purchase order (tables ``po_*``)."""

    def __init__(self, db: Database, vault: Vault,
                 sla_for: Callable[[str], SlaSettings]) -> None:
        self._db = db
        self._vault = vault
        self._sla_for = sla_for

    @classmethod
    async def open(cls, db: Database, sealer: Sealer, *,
                   sla_for: Callable[[str], SlaSettings] | None = None) -> PurchaseOrderLedger:
        """Create the tables if needed; ``sealer`` keeps PO numbers and documents sealed;
        ``sla_for(partner)`` gives a partner's SLA settings."""
        for table in ("po_orders", "po_events", "po_anomalies", "po_sla"):
            await Vault.require_column(db, table, "po_key")
        vault = await Vault.load(db, sealer)
        await db.migrate(SCHEMA)
        await db.migrate(sla.SCHEMA)
        default = SlaSettings()
        return cls(db, vault, sla_for or (lambda _partner: default))

    # -- recording ---------------------------------------------------------------------------

    async def record(self, po_number: str, supplier: str, event: PoEvent, at: datetime,
                     correlation_id: str, detail: EventDetail | None = None) -> Recorded:
        """Store one event for a PO (see the module docstring for the ordering rule)."""
        if event not in _EVENTS:
            raise ValueError(f"unknown PO event {event!r} (one of {', '.join(sorted(_EVENTS))})")
        when = ts(at)
        async with self._db.transaction() as conn:
            return await self._record(conn, po_number, supplier, event, when, correlation_id,
                                      detail)

    async def answered(self, po_number: str, supplier: str, at: datetime) -> None:
        """The supplier acknowledged in time, though its answer waits for a buyer: the
        acknowledgment timer closes without the PO moving on."""
        async with self._db.transaction() as conn:
            await sla.close_for(conn, self._vault, supplier=supplier, po_number=po_number,
                                kind="ack", at=at, reason="answered, held for a buyer")

    async def record_document(self, supplier: str, document: Document, at: datetime,
                              correlation_id: str) -> list[Recorded]:
        """Record what a canonical document means for the POs it names.

        PO → ``issued`` / ``changed`` / ``cancelled`` (and keeps the PO); acknowledgment →
        ``acknowledged`` with its status and earliest promised date (and keeps it); ASN →
        ``shipped`` per PO with the quantities per PO line; invoice → ``invoiced`` per PO.
        Other documents record nothing.
        """
        when = ts(at)
        async with self._db.transaction() as conn:
            match document:
                case PurchaseOrder():
                    event = _PURPOSE_EVENT[document.purpose]
                    done = await self._record(
                        conn, document.document_id, supplier, event, when, correlation_id,
                        EventDetail(document_id=document.document_id, promised_date=_promised(
                            document)), keep=("po_json", document))
                    return [done]
                case POAcknowledgment():
                    status = _ACK_STATUS[document.status]
                    dates = [line.promised_date for line in document.lines
                             if line.promised_date is not None and line.status != "rejected"]
                    detail = EventDetail(document_id=document.document_id, ack_status=status,
                                         promised_date=min(dates) if dates else None)
                    return [await self._record(conn, document.po_number, supplier,
                                               "acknowledged", when, correlation_id, detail,
                                               keep=("ack_json", document))]
                case ShipNotice():
                    results = []
                    for order in document.orders:
                        lines = await self._shipped_lines(conn, supplier, order.po_number,
                                                          order)
                        results.append(await self._record(
                            conn, order.po_number, supplier, "shipped", when, correlation_id,
                            EventDetail(document_id=document.document_id, lines=lines)))
                    return results
                case Invoice():
                    return [await self._record(conn, number, supplier, "invoiced", when,
                                               correlation_id,
                                               EventDetail(document_id=document.document_id))
                            for number in dict.fromkeys(document.po_numbers)]
                case _:
                    return []

    async def _shipped_lines(self, conn: aiosqlite.Connection, supplier: str, po_number: str,
                             order: ShipmentOrder) -> tuple[LineQuantity, ...]:
        po = await self._stored_po(conn, po_number, supplier)
        shipped = [s for pack in order.packs for s in pack.items] + list(order.items)
        lines: list[LineQuantity] = []
        for item in shipped:
            number = item.line_number
            if number is None and po is not None:
                # Attribute by an identifier the PO line shares (no catalog here: exact only).
                same = [pl.line_number for pl in po.lines
                        if {(k, v) for k, v in msgspec.structs.asdict(pl.item).items()
                            if v is not None and k != "description"}
                        & {(k, v) for k, v in msgspec.structs.asdict(item.item).items()
                           if v is not None and k != "description"}]
                number = same[0] if len(same) == 1 else None
            if number is not None:
                lines.append(LineQuantity(line_number=number, quantity=item.quantity))
        return tuple(lines)

    async def _record(
        self, conn: aiosqlite.Connection, po_number: str, supplier: str, event: PoEvent,
        when: str, correlation_id: str, detail: EventDetail | None,
        keep: tuple[str, msgspec.Struct] | None = None,
    ) -> Recorded:
        key = self._vault.po(po_number)
        rows = await _all(conn, "SELECT state, ack_status FROM po_orders WHERE supplier = ? "
                          "AND po_key = ?", (supplier, key))
        before = cast("PoState | None", rows[0][0] if rows else None)
        ack_status = cast("AckStatus | None", rows[0][1] if rows else None)
        dup = await _all(conn, "SELECT 1 FROM po_events WHERE supplier = ? AND po_key = ? "
                         "AND event = ? AND correlation_id = ?",
                         (supplier, key, event, correlation_id))
        if dup:
            assert before is not None
            return Recorded(po_number=po_number, supplier=supplier, event=event,
                            duplicate=True, state_before=before, state=before)
        seen = {str(r[0]) for r in await _all(
            conn, "SELECT DISTINCT event FROM po_events WHERE supplier = ? AND po_key = ?",
            (supplier, key))}
        state, in_order, anomalies = _transition(before, ack_status, seen, event)
        sealed_detail = None if detail is None else self._vault.seal(
            _ENCODER.encode(detail), *_detail_at(supplier, key, event, correlation_id))
        cursor = await conn.execute(
            "INSERT INTO po_events (supplier, po_key, event, at, correlation_id, detail, "
            "in_order, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (supplier, key, event, when, correlation_id, sealed_detail, int(in_order), _now()))
        event_id = cursor.lastrowid
        # Anomaly messages name events and milestones only, never the PO: kept in plain text.
        await conn.executemany(
            "INSERT INTO po_anomalies (supplier, po_key, kind, milestone, message, "
            "event_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(supplier, key, kind, milestone, message, event_id, when)
             for kind, milestone, message in anomalies])
        # A late milestone fills its gap.
        await conn.execute(
            "UPDATE po_anomalies SET resolved_at = ? WHERE supplier = ? AND po_key = ? "
            "AND milestone = ? AND resolved_at IS NULL AND kind IN ('out_of_order', "
            "'unknown_po')", (when, supplier, key, event))
        if event == "acknowledged":
            ack_status = (detail.ack_status if detail else None) or "accepted"
        await conn.execute(
            "INSERT INTO po_orders (supplier, po_key, po_number, state, ack_status, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (supplier, po_key) DO UPDATE "
            "SET state = excluded.state, ack_status = excluded.ack_status, "
            "updated_at = excluded.updated_at",
            (supplier, key, self._vault.seal(po_number, *_order_at(supplier, key, "po_number")),
             state, ack_status, when, when))
        if keep is not None:
            column, document = keep
            await conn.execute(
                f"UPDATE po_orders SET {column} = ? WHERE supplier = ? AND po_key = ?",
                (self._vault.seal(_ENCODER.encode(document), *_order_at(supplier, key, column)),
                 supplier, key))
        await self._timers(conn, supplier, po_number, event, when, correlation_id, detail,
                           ack_status)
        return Recorded(po_number=po_number, supplier=supplier, event=event, in_order=in_order,
                        state_before=before, state=state,
                        anomalies=tuple(kind for kind, _, _ in anomalies))

    # -- SLA timers ------------------------------------------------------------------------

    async def _timers(self, conn: aiosqlite.Connection, supplier: str, po_number: str,
                      event: PoEvent, when: str, correlation_id: str,
                      detail: EventDetail | None, ack_status: AckStatus | None) -> None:
        rows = await _all(conn, "SELECT event, at FROM po_events WHERE supplier = ? AND "
                          "po_key = ?", (supplier, self._vault.po(po_number)))
        ever = {str(event) for event, _ in rows}
        # The current version of the PO is the latest issued/changed; an ack before it
        # answered an older version.
        version = max((str(at) for e, at in rows if e in ("issued", "changed")), default="")
        acknowledged = any(e == "acknowledged" and str(at) >= version for e, at in rows)
        promised = detail.promised_date if detail else None
        if event == "sent":
            po = await self._stored_po(conn, po_number, supplier)
            promised = None if po is None else _promised(po)
        at = datetime.strptime(when, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        await sla.arm_for(
            conn, self._vault, self._sla_for(supplier), supplier=supplier, po_number=po_number,
            event=event, at=at, armed_by=correlation_id, acknowledged=acknowledged,
            shipped="shipped" in ever, invoiced="invoiced" in ever, promised=promised,
            rejected=ack_status == "rejected")

    async def due(self, now: datetime) -> builtins.list[SlaDue]:
        """Timers due at ``now`` that were neither satisfied nor fired, oldest first."""
        return await sla.due(self._db, self._vault, now)

    async def mark_fired(self, timer_id: int, at: datetime | None = None) -> bool:
        """Mark a timer fired; True only for the one call that did it (ever)."""
        return await sla.mark_fired(self._db, timer_id, at)

    # -- queries ---------------------------------------------------------------------------

    async def _stored_po(self, conn: aiosqlite.Connection, po_number: str,
                         supplier: str) -> PurchaseOrder | None:
        key = self._vault.po(po_number)
        rows = await _all(conn, "SELECT po_json FROM po_orders WHERE po_key = ? AND "
                          "supplier = ? AND po_json IS NOT NULL", (key, supplier))
        if not rows:
            return None
        return _PO.decode(self._vault.open(rows[0][0], *_order_at(supplier, key, "po_json")))

    async def _kept(self, column: str, po_number: str, supplier: str | None) -> bytes | None:
        """A kept document (``po_json`` / ``ack_json``), of the first supplier if omitted."""
        key = self._vault.po(po_number)
        row = await self._db.fetchone(
            f"SELECT supplier, {column} FROM po_orders WHERE po_key = ? AND {column} IS NOT NULL"
            + (" AND supplier = ?" if supplier else "") + " ORDER BY supplier",
            (key, supplier) if supplier else (key,))
        return None if row is None else self._vault.open(row[1], *_order_at(row[0], key, column))

    async def order(self, po_number: str, supplier: str | None = None) -> PurchaseOrder | None:
        """The latest version of the PO as issued or changed, if the ledger saw it."""
        kept = await self._kept("po_json", po_number, supplier)
        return None if kept is None else _PO.decode(kept)

    async def acknowledgment(self, po_number: str, supplier: str | None = None
                             ) -> POAcknowledgment | None:
        """The latest acknowledgment recorded for the PO."""
        kept = await self._kept("ack_json", po_number, supplier)
        return None if kept is None else _ACK.decode(kept)

    async def quantities(self, po_number: str, supplier: str
                         ) -> dict[str, builtins.list[Quantity]]:
        """Per PO line, the quantities received — or, for a line with no receipt, shipped."""
        key = self._vault.po(po_number)
        rows = await self._db.fetchall(
            "SELECT event, correlation_id, detail FROM po_events WHERE supplier = ? AND "
            "po_key = ? AND event IN ('shipped', 'received') AND detail IS NOT NULL ORDER BY id",
            (supplier, key))
        per: dict[str, dict[str, builtins.list[Quantity]]] = {"shipped": {}, "received": {}}
        for event, correlation_id, detail in rows:
            opened = self._vault.open(detail, *_detail_at(supplier, key, event, correlation_id))
            for line in _DETAIL.decode(opened).lines:
                per[event].setdefault(line.line_number, []).append(line.quantity)
        return {**per["shipped"], **per["received"]}

    async def get(self, po_number: str, supplier: str | None = None) -> PoRecord | None:
        """The PO's state with its events, anomalies and timers (first supplier if omitted)."""
        key = self._vault.po(po_number)
        row = await self._db.fetchone(
            f"SELECT {_PO_COLUMNS} FROM po_orders WHERE po_key = ?"
            + (" AND supplier = ?" if supplier else "") + " ORDER BY supplier",
            (key, supplier) if supplier else (key,))
        if row is None:
            return None
        found = row[0]
        events = await self._db.fetchall(
            "SELECT id, event, at, correlation_id, in_order, detail FROM po_events WHERE "
            "supplier = ? AND po_key = ? ORDER BY at, id", (found, key))
        anomalies = await self._db.fetchall(
            "SELECT id, kind, milestone, message, event_id, at, resolved_at FROM po_anomalies "
            "WHERE supplier = ? AND po_key = ? ORDER BY id", (found, key))
        timers = await sla.timers_of(self._db, self._vault, found, po_number)
        return msgspec.structs.replace(
            self._po_record(row),
            events=tuple(self._event(found, key, e) for e in events),
            anomalies=tuple(_row(_ANOMALY_NAMES, a, Anomaly) for a in anomalies),
            timers=tuple(timers),
        )

    async def list(self, partner: str | None = None, state: str | None = None
                   ) -> builtins.list[PoRecord]:
        """POs, optionally of one partner and in one state (``open``: not matched/cancelled)."""
        clauses, params = [], []
        if partner is not None:
            clauses.append("supplier = ?")
            params.append(partner)
        if state == "open":
            clauses.append(f"state NOT IN {_OPEN_EXCLUDES!r}")
        elif state is not None:
            clauses.append("state = ?")
            params.append(state)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._db.fetchall(f"SELECT {_PO_COLUMNS} FROM po_orders{where}", params)
        # Sealed numbers cannot be sorted by SQLite: sort once they are opened.
        return sorted((self._po_record(row) for row in rows),
                      key=lambda record: (record.supplier, record.po_number))

    def _po_record(self, row: Sequence[object]) -> PoRecord:
        supplier, key, sealed, *rest = row
        number = self._vault.text(sealed, *_order_at(str(supplier), str(key), "po_number"))
        return _row(_PO_NAMES, (supplier, number, *rest), PoRecord)

    def _event(self, supplier: str, key: str, row: Sequence[object]) -> PoEventRecord:
        event_id, event, at, correlation_id, in_order, sealed = row
        detail = None if sealed is None else _DETAIL.decode(self._vault.open(
            sealed, *_detail_at(supplier, key, str(event), str(correlation_id))))
        record = _row(("id", "event", "at", "correlation_id", "in_order"),
                      (event_id, event, at, correlation_id, bool(in_order)), PoEventRecord)
        return msgspec.structs.replace(record, detail=detail)


_PO_COLUMNS = "supplier, po_key, po_number, state, ack_status, updated_at"
_PO_NAMES = ("supplier", "po_number", "state", "ack_status", "updated_at")


def _order_at(supplier: str, key: str, column: str) -> tuple[str, ...]:
    """Where a sealed ``po_orders`` value belongs (its sealing context)."""
    return ("po_orders", supplier, key, column)


def _detail_at(supplier: str, key: str, event: str, correlation_id: str) -> tuple[str, ...]:
    """Where an event's sealed detail belongs: the row's unique key."""
    return ("po_events", supplier, key, event, correlation_id)


def _row(names: Sequence[str], row: Sequence[object], type_: type[_S]) -> _S:
    """A Struct from a row; msgspec parses the stored timestamps and checks the literals."""
    return msgspec.convert({k: v for k, v in zip(names, row, strict=True) if v is not None},
                           type_)


_ANOMALY_NAMES = ("id", "kind", "milestone", "message", "event_id", "at", "resolved_at")


def _transition(before: PoState | None, ack_status: AckStatus | None, seen: set[str],
                event: PoEvent) -> tuple[PoState, bool, builtins.list[tuple[str, str | None,
                                                                            str]]]:
    """(new state, in order?, anomalies as (kind, milestone, message))."""
    anomalies: builtins.list[tuple[str, str | None, str]] = []
    if before is None:
        if event != "issued":
            anomalies.append(("unknown_po", "issued",
                              f"first event for this PO is {event}: Wharf never issued it"))
        state = "issued" if event in ("issued", "changed") else cast("PoState", event)
        return state, event == "issued", anomalies
    if before == "cancelled":
        if event != "cancelled":
            anomalies.append(("after_cancel", None, f"{event} after the PO was cancelled"))
        return "cancelled", event == "cancelled", anomalies
    if event == "cancelled":
        return "cancelled", True, anomalies
    if event == "changed":
        return before, True, anomalies
    if ack_status == "rejected" and event in ("shipped", "received", "invoiced"):
        anomalies.append(("after_rejection", None,
                          f"{event} although the supplier rejected the PO"))
    rank, current = _RANK[event], _RANK[before]
    if rank > current:
        anomalies.extend(("out_of_order", milestone, f"{event} before {milestone}")
                         for milestone in _MILESTONES
                         if current < _RANK[milestone] < rank and milestone not in seen)
        return cast("PoState", event), not any(a[0] == "out_of_order" for a in anomalies), \
            anomalies
    if rank == current and event in ("matched", "disputed"):
        return event, True, anomalies
    # A repeat of the current milestone, or an earlier one: state stays.
    return before, rank == current or event in seen, anomalies
