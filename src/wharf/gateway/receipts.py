"""Receipts: what the gateway answered for each (partner, Idempotency-Key).

JetStream's ``Nats-Msg-Id`` dedup lasts only the stream's duplicate window (minutes); the
receipts table keeps the Idempotency-Key horizon (days) so that a partner's retry an hour
later still gets the original answer instead of a second document. It also answers "is this
correlation id one of yours?" before the trace projection has seen the document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from wharf.security.sealing import Sealer
    from wharf.storage import Database

__all__ = ("Receipt", "ReceiptStore")

SCHEMA = """
CREATE TABLE IF NOT EXISTS receipts_v2 (
    partner TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    document_id BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (partner, idempotency_key)
);
CREATE INDEX IF NOT EXISTS receipts_v2_by_correlation ON receipts_v2 (correlation_id);
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
    """SQLite-backed receipts; the document id (which may be a PO number) is sealed."""

    def __init__(self, db: Database, sealer: Sealer) -> None:
        self._db = db
        self._sealer = sealer

    @classmethod
    async def open(cls, db: Database, sealer: Sealer) -> ReceiptStore:
        await db.migrate(SCHEMA)
        return cls(db, sealer)

    def _receipt(self, row: Any) -> Receipt:
        partner, key, digest, correlation_id, doc_type, sealed = row
        document_id = self._sealer.open(sealed, context=_context(partner, key)).decode()
        return Receipt(partner, key, digest, correlation_id, doc_type, document_id)

    async def get(self, partner: str, idempotency_key: str) -> Receipt | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM receipts_v2 WHERE partner = ? AND idempotency_key = ?",
            (partner, idempotency_key),
        )
        return None if row is None else self._receipt(row)

    async def first_for_request(self, partner: str, key: str) -> Receipt | None:
        """Any receipt stored for a request's key (its documents' keys are ``key`` or ``key#n``)."""
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM receipts_v2 WHERE partner = ? "
            "AND (idempotency_key = ? OR idempotency_key BETWEEN ? AND ?) LIMIT 1",
            (partner, key, key + "#", key + "#\uffff"),
        )
        return None if row is None else self._receipt(row)

    async def by_correlation(self, correlation_id: str) -> Receipt | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM receipts_v2 WHERE correlation_id = ?", (correlation_id,)
        )
        return None if row is None else self._receipt(row)

    async def put(self, receipt: Receipt) -> Receipt:
        """Store ``receipt`` unless one exists for its key; return the stored one."""
        sealed = self._sealer.seal(
            receipt.document_id.encode(),
            context=_context(receipt.partner, receipt.idempotency_key),
        )
        await self._db.execute(
            f"INSERT OR IGNORE INTO receipts_v2 ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (receipt.partner, receipt.idempotency_key, receipt.body_sha256,
             receipt.correlation_id, receipt.doc_type, sealed),
        )
        stored = await self.get(receipt.partner, receipt.idempotency_key)
        assert stored is not None
        return stored


def _context(partner: str, key: str) -> bytes:
    return f"receipts:{partner}:{key}:document_id".encode()
