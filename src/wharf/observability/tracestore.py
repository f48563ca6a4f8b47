"""The trace store: every business event, projected from ``wharf.evt.>`` into SQLite.

Rows are keyed by the event's stream sequence, and the projection's position is written in
the same transaction as the rows it covers, so a restart resumes exactly where it stopped:
nothing is skipped and nothing is stored twice.

Event data (which may name purchase orders, items and amounts in error texts) is sealed with
AES-GCM (:class:`~wharf.security.sealing.Sealer`), bound to its row; so are the payloads
(the partner's bytes and their canonical JSON) that the trace shows to operators.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import anyio
import msgspec

from wharf.observability.events import Event, EventData

if TYPE_CHECKING:
    from collections.abc import Sequence

    from wharf.security.sealing import Sealer
    from wharf.storage import Database

__all__ = ("Payload", "Trace", "TraceEntry", "TraceStore")

SCHEMA = """
CREATE TABLE IF NOT EXISTS trace_events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    partner TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    name TEXT NOT NULL,
    time TEXT NOT NULL,
    subject TEXT NOT NULL,
    traceparent TEXT,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS trace_events_by_correlation ON trace_events (correlation_id, seq);
CREATE TABLE IF NOT EXISTS payloads (
    correlation_id TEXT PRIMARY KEY,
    media_type TEXT NOT NULL,
    raw BLOB NOT NULL,
    canonical BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS projection_offsets (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
"""

_PROJECTION = "traces"
_encode = msgspec.json.Encoder().encode
_decode_data = msgspec.json.Decoder(EventData).decode

# Which event decides a document's status, latest first.
_STATUS = {
    "received": "received",
    "transformed": "processing",
    "validated": "processing",
    "posted": "posted",
    "failed": "failed",
    "retried": "retrying",
    "dead_lettered": "dead_lettered",
    "held": "held_for_review",
    "resumed": "processing",
    "rejected": "rejected",
}


_BEFORE_POSTING = frozenset({"received", "transformed", "validated"})


class TraceEntry(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """One step in a document's timeline."""

    event: str
    time: dt.datetime
    subject: str
    step: str | None = None
    attempt: int | None = None
    target: str | None = None
    error: str | None = None
    error_class: str | None = None
    pointer: str | None = None
    retry_in: float | None = None
    document_id: str | None = None
    format: str | None = None
    source: str | None = None
    exception_id: int | None = None
    warnings: list[str] | None = None


class Trace(msgspec.Struct, frozen=True, kw_only=True):
    """A document's journey through Wharf."""

    correlation_id: str
    partner: str
    doc_type: str
    status: str
    traceparent: str | None
    events: list[TraceEntry]


def _event_context(seq: int) -> bytes:
    return f"trace_events:{seq}".encode()


def _payload_context(correlation_id: str, part: str) -> bytes:
    return f"payloads:{correlation_id}:{part}".encode()


class Payload(msgspec.Struct, frozen=True, kw_only=True):
    """What the partner sent for one document, and what Wharf made of it."""

    media_type: str
    raw: bytes
    canonical: bytes


class TraceStore:
    """Reads and writes the projected events."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer
        self._changed = anyio.Event()

    @classmethod
    async def open(cls, db: Database, sealer: Sealer) -> TraceStore:
        await db.migrate(SCHEMA)
        return cls(db, sealer)

    async def position(self) -> int:
        """Stream sequence of the last event applied (0 before the first)."""
        row = await self._db.fetchone(
            "SELECT seq FROM projection_offsets WHERE name = ?", (_PROJECTION,)
        )
        return int(row[0]) if row else 0

    async def apply(self, batch: Sequence[tuple[int, Event]]) -> None:
        """Store a batch of (stream sequence, event) and advance the position, atomically."""
        if not batch:
            return
        rows = [
            (
                seq, e.id, e.correlation_id, e.partner, e.doc_type, e.name,
                e.time.isoformat(), e.subject, e.traceparent,
                self._sealer.seal(_encode(e.data), context=_event_context(seq)),
            )
            for seq, e in batch
        ]
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT OR IGNORE INTO trace_events VALUES (?,?,?,?,?,?,?,?,?,?)", rows
            )
            await conn.execute(
                "INSERT INTO projection_offsets (name, seq) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)",
                (_PROJECTION, batch[-1][0]),
            )
        self._changed.set()
        self._changed = anyio.Event()

    async def put_payload(self, correlation_id: str, payload: Payload) -> None:
        """Keep a document's payload (sealed); the first one stored for an id stays."""
        await self._db.execute(
            "INSERT OR IGNORE INTO payloads VALUES (?, ?, ?, ?)",
            (
                correlation_id, payload.media_type,
                self._sealer.seal(payload.raw, context=_payload_context(correlation_id, "raw")),
                self._sealer.seal(
                    payload.canonical, context=_payload_context(correlation_id, "canonical")
                ),
            ),
        )

    async def payload(self, correlation_id: str) -> Payload | None:
        row = await self._db.fetchone(
            "SELECT media_type, raw, canonical FROM payloads WHERE correlation_id = ?",
            (correlation_id,),
        )
        if row is None:
            return None
        return Payload(
            media_type=row[0],
            raw=self._sealer.open(row[1], context=_payload_context(correlation_id, "raw")),
            canonical=self._sealer.open(
                row[2], context=_payload_context(correlation_id, "canonical")
            ),
        )

    async def wait_changed(self) -> None:
        """Return after the next batch is applied (callers bound this with a deadline)."""
        await self._changed.wait()

    async def get(self, correlation_id: str) -> Trace | None:
        """The timeline of one document, or None if no event of it was projected yet."""
        rows = await self._db.fetchall(
            "SELECT seq, partner, doc_type, name, time, subject, traceparent, data "
            "FROM trace_events WHERE correlation_id = ? ORDER BY time, seq",
            (correlation_id,),
        )
        if not rows:
            return None
        entries: list[TraceEntry] = []
        status = "received"
        traceparent: str | None = None
        for seq, _, _, name, time, subject, parent, data in rows:
            d = _decode_data(self._sealer.open(data, context=_event_context(seq)))
            entries.append(
                TraceEntry(
                    event=name, time=dt.datetime.fromisoformat(time), subject=subject,
                    step=d.step, attempt=d.attempt, target=d.target, error=d.error,
                    error_class=d.error_class, pointer=d.pointer, retry_in=d.retry_in,
                    document_id=d.document_id, format=d.format, source=d.source,
                    exception_id=d.exception_id, warnings=d.warnings,
                )
            )
            # A redelivery of a document already posted re-runs the early steps and finds every
            # target reached: it stays posted.
            if not (status == "posted" and name in _BEFORE_POSTING):
                status = _STATUS.get(name, status)
            traceparent = traceparent or parent
        first = rows[0]
        return Trace(
            correlation_id=correlation_id, partner=first[1], doc_type=first[2],
            status=status, traceparent=traceparent, events=entries,
        )
