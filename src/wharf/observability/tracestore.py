"""The trace store: every business event, projected from ``wharf.evt.>`` into SQLite.

Rows are keyed by the event's stream sequence, and the projection's position is written in
the same transaction as the rows it covers, so a restart resumes exactly where it stopped:
nothing is skipped and nothing is stored twice.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import anyio
import msgspec

from wharf.observability.events import Event, EventData

if TYPE_CHECKING:
    from collections.abc import Sequence

    from wharf.storage import Database

__all__ = ("Trace", "TraceEntry", "TraceStore")

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
}


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


class Trace(msgspec.Struct, frozen=True, kw_only=True):
    """A document's journey through Wharf."""

    correlation_id: str
    partner: str
    doc_type: str
    status: str
    traceparent: str | None
    events: list[TraceEntry]


class TraceStore:
    """Reads and writes the projected events."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._changed = anyio.Event()

    @classmethod
    async def open(cls, db: Database) -> TraceStore:
        await db.migrate(SCHEMA)
        return cls(db)

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
                e.time.isoformat(), e.subject, e.traceparent, _encode(e.data),
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

    async def wait_changed(self) -> None:
        """Return after the next batch is applied (callers bound this with a deadline)."""
        await self._changed.wait()

    async def get(self, correlation_id: str) -> Trace | None:
        """The timeline of one document, or None if no event of it was projected yet."""
        rows = await self._db.fetchall(
            "SELECT partner, doc_type, name, time, subject, traceparent, data "
            "FROM trace_events WHERE correlation_id = ? ORDER BY time, seq",
            (correlation_id,),
        )
        if not rows:
            return None
        entries: list[TraceEntry] = []
        status = "received"
        traceparent: str | None = None
        for _, _, name, time, subject, parent, data in rows:
            d = _decode_data(data)
            entries.append(
                TraceEntry(
                    event=name, time=dt.datetime.fromisoformat(time), subject=subject,
                    step=d.step, attempt=d.attempt, target=d.target, error=d.error,
                    error_class=d.error_class, pointer=d.pointer, retry_in=d.retry_in,
                    document_id=d.document_id, format=d.format, source=d.source,
                )
            )
            status = _STATUS.get(name, status)
            traceparent = traceparent or parent
        first = rows[0]
        return Trace(
            correlation_id=correlation_id, partner=first[0], doc_type=first[1],
            status=status, traceparent=traceparent, events=entries,
        )
