"""Receipts: what the gateway answered for each (partner, Idempotency-Key).

JetStream's ``Nats-Msg-Id`` dedup lasts only the stream's duplicate window (minutes); the
receipts table keeps the Idempotency-Key horizon (days) so that a partner's retry an hour
later still gets the original answer instead of a second document. It also answers "is this
correlation id one of yours?" before the trace projection has seen the document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from wharf.storage import Database

__all__ = ("Receipt", "ReceiptStore")

SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts (
    partner TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    document_id TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (partner, idempotency_key)
);
CREATE INDEX IF NOT EXISTS receipts_by_correlation ON receipts (correlation_id);
"""


_COLUMNS = "partner, idempotency_key, body_sha256, correlation_id, doc_type, document_id"


class Receipt(msgspec.Struct, frozen=True):
    """The gateway's answer to one accepted document (``body_sha256`` is the whole request's)."""

    partner: str
    idempotency_key: str
    body_sha256: str
    correlation_id: str
    doc_type: str
    document_id: str


class ReceiptStore:
    """SQLite-backed receipts."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    async def open(cls, db: Database) -> ReceiptStore:
        await db.migrate(SCHEMA)
        return cls(db)

    async def get(self, partner: str, idempotency_key: str) -> Receipt | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM receipts WHERE partner = ? AND idempotency_key = ?",
            (partner, idempotency_key),
        )
        return None if row is None else Receipt(*row)

    async def first_for_request(self, partner: str, key: str) -> Receipt | None:
        """Any receipt stored for a request's key (its documents' keys are ``key`` or ``key#n``)."""
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM receipts WHERE partner = ? "
            "AND (idempotency_key = ? OR idempotency_key BETWEEN ? AND ?) LIMIT 1",
            (partner, key, key + "#", key + "#\uffff"),
        )
        return None if row is None else Receipt(*row)

    async def by_correlation(self, correlation_id: str) -> Receipt | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM receipts WHERE correlation_id = ?", (correlation_id,)
        )
        return None if row is None else Receipt(*row)

    async def put(self, receipt: Receipt) -> Receipt:
        """Store ``receipt`` unless one exists for its key; return the stored one."""
        await self._db.execute(
            f"INSERT OR IGNORE INTO receipts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (receipt.partner, receipt.idempotency_key, receipt.body_sha256,
             receipt.correlation_id, receipt.doc_type, receipt.document_id),
        )
        stored = await self.get(receipt.partner, receipt.idempotency_key)
        assert stored is not None
        return stored
