"""Business data at rest: sealed columns, and keyed pseudonyms to look sealed values up by.

The business stores keep purchase-order numbers and whole documents, which must not be
readable from the SQLite file (nor its ``-wal``). Two tools do that:

* **Sealing** (:class:`~wharf.security.sealing.Sealer`, AES-256-GCM): every document, detail,
  issue list, note and the real PO number itself is stored sealed, bound to its row by a
  context naming the table, the row's key and the column (:func:`context`), so a ciphertext
  moved to another row or column does not open.
* **Pseudonyms** (:class:`Pseudonyms`, HMAC-SHA256): a column that is *searched* by PO number
  holds ``HMAC(lookup key, "po" NUL number)`` instead — deterministic, so equality lookups,
  unique keys and joins still work, and useless without the key.

Key rotation. The lookup key is not a sealing key (deriving it from the active sealing key
would change every pseudonym, i.e. every index, on rotation). It is 32 random bytes created
once per database and stored *sealed* in ``business_keys`` (the standard envelope pattern):
:meth:`Vault.load` re-seals it under the active key whenever the sealer says it is still under
an old one, so an old sealing key can be retired without touching a single pseudonym. The
pseudonyms only change if that row is lost — then the lookup columns must be rebuilt from
the sealed PO numbers (there is no tool for that yet). Records other than the lookup key
stay under the key they were sealed with until something re-seals them
(:meth:`~wharf.security.sealing.Sealer.rotate_needed`); keep old keys configured until then.

What stays in plain text: suppliers (partner ids), states, timestamps, correlation ids
(opaque ids — callers must not build them from PO numbers), issue kinds, anomaly messages
(event names only), master data other than customer orders, and which rows share a PO
(equal pseudonyms).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec

from wharf.errors import WharfError

if TYPE_CHECKING:
    from wharf.security.sealing import Sealer
    from wharf.storage import Database

__all__ = ("SCHEMA", "Pseudonyms", "UnsealedLayout", "Vault", "context")

SCHEMA = """
CREATE TABLE IF NOT EXISTS business_keys (
    name TEXT PRIMARY KEY, record BLOB NOT NULL, created_at TEXT NOT NULL
);
"""

_LOOKUP = "lookup"
_LOOKUP_CONTEXT = b'["business_keys","lookup"]'
_KEY_BYTES = 32


class UnsealedLayout(WharfError):
    """Raised when the database holds business tables written before sealing existed."""

    def __init__(self, table: str, column: str) -> None:
        super().__init__(
            f"table {table} was written by a Wharf that kept PO numbers and documents in plain "
            f"text (it has no {column} column); move that database away (or drop its po_*, "
            "exc_* and md_customer_orders tables) and start again")
        self.table, self.column = table, column


def context(*parts: str | int) -> bytes:
    """A sealing context naming table, row key and column; JSON, so parts cannot run together."""
    return msgspec.json.encode(parts)


class Pseudonyms:
    """Deterministic keyed pseudonyms: equal inputs give equal outputs, only with the key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("a pseudonym key needs at least 16 bytes")
        self._key = key

    def of(self, kind: str, value: str) -> str:
        """The pseudonym of ``value`` in namespace ``kind`` (128 bits, hex)."""
        mac = hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]

    def po(self, po_number: str) -> str:
        """The lookup key of a purchase-order number."""
        return self.of("po", po_number)


class Vault:
    """What a business store needs at rest: the sealer and the database's pseudonyms."""

    def __init__(self, sealer: Sealer, pseudonyms: Pseudonyms) -> None:
        self.sealer = sealer
        self.pseudonyms = pseudonyms

    @classmethod
    async def load(cls, db: Database, sealer: Sealer) -> Vault:
        """Load this database's lookup key (creating it once), re-sealed if the key rotated."""
        await db.migrate(SCHEMA)
        async with db.transaction() as conn:
            async with conn.execute("SELECT record FROM business_keys WHERE name = ?",
                                    (_LOOKUP,)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                key = os.urandom(_KEY_BYTES)
                await conn.execute(
                    "INSERT INTO business_keys (name, record, created_at) VALUES (?, ?, ?)",
                    (_LOOKUP, sealer.seal(key, context=_LOOKUP_CONTEXT),
                     datetime.now(UTC).isoformat()))
            else:
                record = bytes(row[0])
                key = sealer.open(record, context=_LOOKUP_CONTEXT)
                if sealer.rotate_needed(record):
                    await conn.execute("UPDATE business_keys SET record = ? WHERE name = ?",
                                       (sealer.seal(key, context=_LOOKUP_CONTEXT), _LOOKUP))
        return cls(sealer, Pseudonyms(key))

    def po(self, po_number: str) -> str:
        """The lookup key of a purchase-order number (see :class:`Pseudonyms`)."""
        return self.pseudonyms.po(po_number)

    def seal(self, value: str | bytes, *where: str | int) -> bytes:
        """``value`` sealed for the row and column ``where`` names (see :func:`context`)."""
        data = value.encode() if isinstance(value, str) else value
        return self.sealer.seal(data, context=context(*where))

    def seal_optional(self, value: str | bytes | None, *where: str | int) -> bytes | None:
        return None if value is None else self.seal(value, *where)

    def open(self, record: object, *where: str | int) -> bytes:
        """Open a sealed column value read from SQLite (``bytes``)."""
        if not isinstance(record, bytes):
            raise TypeError(f"sealed column {context(*where).decode()} holds "
                            f"{type(record).__name__}, not bytes")
        return self.sealer.open(record, context=context(*where))

    def text(self, record: object, *where: str | int) -> str:
        return self.open(record, *where).decode()

    def text_optional(self, record: object, *where: str | int) -> str | None:
        return None if record is None else self.text(record, *where)

    @staticmethod
    async def require_column(db: Database, table: str, column: str) -> None:
        """Refuse a table from before sealing (``CREATE TABLE IF NOT EXISTS`` kept it)."""
        rows = await db.fetchall("SELECT name FROM pragma_table_info(?)", (table,))
        if rows and column not in {str(r[0]) for r in rows}:
            raise UnsealedLayout(table, column)
