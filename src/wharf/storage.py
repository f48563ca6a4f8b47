"""Opening Wharf's SQLite file. Each store owns its tables and its own connection.

One connection per store keeps transactions from different components apart (aiosqlite
serialises the statements of one connection, not their transactions). WAL mode lets the
trace API read while the projection writes.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite

__all__ = ("open_database",)


async def open_database(path: str | Path, schema: str) -> aiosqlite.Connection:
    """Open (creating if needed) the SQLite file at ``path`` and apply ``schema`` (idempotent DDL)."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA busy_timeout=10000")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.executescript(schema)
    except BaseException:
        await conn.close()
        raise
    return conn
