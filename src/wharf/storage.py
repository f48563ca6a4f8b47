"""Wharf's SQLite file: one connection per process, every write serialised by one lock.

Each store (receipts, traces, posted effects, ...) owns its tables but not a connection. With one
connection, SQLite never has two of our own writers competing, so "database is locked" cannot
come from inside the process however loaded the machine is; the lock keeps one coroutine's
transaction from interleaving with another's statements (aiosqlite serialises statements,
not transactions). Reads go straight to the connection. Another process on the same file still
waits on ``busy_timeout``; Wharf processes are meant to have a ``var/`` each.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite
import anyio

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

__all__ = ("Database",)

class Database:
    """The process's connection to Wharf's SQLite file."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._write = anyio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        """Open (creating if needed) the SQLite file at ``path`` in WAL mode."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            await conn.execute("PRAGMA busy_timeout=30000")
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
        except BaseException:
            await conn.close()
            raise
        return cls(conn)

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._conn.close()

    async def migrate(self, schema: str) -> None:
        """Apply a store's idempotent DDL."""
        async with self._write:
            await self._conn.executescript(schema)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold the write lock for a ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""
        async with self._write:
            await self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._conn.execute("ROLLBACK")
                raise
            with anyio.CancelScope(shield=True):
                await self._conn.execute("COMMIT")

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement on its own; returns the number of rows changed."""
        async with self._write:
            cursor = await self._conn.execute(sql, params)
            changed = cursor.rowcount
            await cursor.close()
            return changed

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Any:
        async with self._conn.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self._conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())
