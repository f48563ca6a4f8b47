"""Posting: delivering a canonical document to an internal system, exactly once in effect.

A :class:`PostingTarget` is the seam: NATS subjects (JetStream) and HTTPS endpoints today.
Exactly-once *effect* rests on two things, because NATS cannot prevent redeliveries:

1. every posting carries a stable idempotency key (``Nats-Msg-Id`` = ``<document>:<target>``)
   so a JetStream-backed target drops a repeat within its duplicate window, and
2. the :class:`EffectsLedger` remembers, per (document, target), that the target confirmed
   the posting; a redelivered or replayed document skips targets it already reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import httpx
import msgspec
import nats.errors
from nats.js.errors import APIError, NoStreamResponseError

from wharf.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from wharf.storage import Database

__all__ = ("EffectsLedger", "HttpTarget", "NatsSubjectTarget", "Posting", "PostingTarget")


class Posting(msgspec.Struct, frozen=True, kw_only=True):
    """One document on its way to one target."""

    idempotency_key: str
    body: bytes
    headers: dict[str, str]


class PostingTarget(Protocol):
    """Where documents of one type go; raises TransientError or PermanentError on failure."""

    @property
    def name(self) -> str: ...

    async def post(self, posting: Posting) -> None: ...


class NatsSubjectTarget:
    """Publishes to a NATS subject through JetStream and waits for the stream's PubAck.

    A subject that no stream captures fails (there would be no proof of delivery): the
    document is retried and, if that persists, dead-lettered.
    """

    def __init__(self, js: JetStreamContext, subject: str, *, timeout: float = 10.0) -> None:
        self._js = js
        self._subject = subject
        self._timeout = timeout

    @property
    def name(self) -> str:
        return self._subject

    async def post(self, posting: Posting) -> None:
        try:
            await self._js.publish(
                self._subject, posting.body, timeout=self._timeout, headers=posting.headers
            )
        except (nats.errors.NoRespondersError, NoStreamResponseError) as exc:
            raise TransientError(
                f"no JetStream stream captures subject {self._subject}", step="post"
            ) from exc
        except nats.errors.TimeoutError as exc:
            raise TransientError(f"{self._subject}: no acknowledgment in time", step="post") from exc
        except APIError as exc:
            raise TransientError(f"{self._subject}: {exc.description}", step="post") from exc


class HttpTarget:
    """POSTs to an internal system's HTTPS endpoint with an ``Idempotency-Key`` header.

    2xx is success. 408, 425, 429 and 5xx, timeouts and connection failures are transient
    (retried with backoff; the same key makes a retry safe at the receiver); any other answer
    is permanent: the receiver said this document will never be accepted as it is.
    """

    _TRANSIENT = frozenset({408, 425, 429})

    def __init__(self, client: httpx.AsyncClient, url: str, *, timeout: float = 10.0) -> None:
        self._client = client
        self._url = url
        self._timeout = timeout

    @property
    def name(self) -> str:
        return self._url

    async def post(self, posting: Posting) -> None:
        headers = {
            **{k: v for k, v in posting.headers.items() if k != "Nats-Msg-Id"},
            "Idempotency-Key": posting.idempotency_key,
            "Content-Type": "application/json",
        }
        try:
            response = await self._client.post(
                self._url, content=posting.body, headers=headers, timeout=self._timeout
            )
        except httpx.ConnectError as exc:
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                # Retrying cannot fix a certificate; dead-letter now, replay once it is fixed.
                raise PermanentError(f"{self._url}: TLS: {exc}", step="post") from exc
            raise TransientError(f"{self._url}: {type(exc).__name__}: {exc}", step="post") from exc
        except httpx.HTTPError as exc:
            raise TransientError(f"{self._url}: {type(exc).__name__}: {exc}", step="post") from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = f"{self._url} answered {status}: {response.text[:200]}"
        if status in self._TRANSIENT or status >= 500:
            raise TransientError(reason, step="post")
        raise PermanentError(reason, step="post")


SCHEMA = """
CREATE TABLE IF NOT EXISTS posted_effects (
    document TEXT NOT NULL,
    target TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    posted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (document, target)
);
"""


class EffectsLedger:
    """Which (document, target) postings were confirmed."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    async def open(cls, db: Database) -> EffectsLedger:
        await db.migrate(SCHEMA)
        return cls(db)

    async def done(self, document: str, target: str) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 FROM posted_effects WHERE document = ? AND target = ?", (document, target)
        )
        return row is not None

    async def record(self, document: str, target: str, idempotency_key: str) -> None:
        await self._db.execute(
            "INSERT OR IGNORE INTO posted_effects (document, target, idempotency_key) "
            "VALUES (?, ?, ?)",
            (document, target, idempotency_key),
        )

    async def count(self, document: str) -> int:
        row = await self._db.fetchone(
            "SELECT count(*) FROM posted_effects WHERE document = ?", (document,)
        )
        return int(row[0]) if row else 0
