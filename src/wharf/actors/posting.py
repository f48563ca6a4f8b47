"""Posting: delivering a canonical document to an internal system, exactly once in effect.

A :class:`PostingTarget` is the seam: NATS subjects (JetStream) and HTTPS endpoints today.
Exactly-once *effect* rests on two things, because NATS cannot prevent redeliveries:

1. every posting carries a stable idempotency key (``Nats-Msg-Id`` = ``<document>:<target>``)
   so a JetStream-backed target drops a repeat within its duplicate window, and
2. the :class:`EffectsLedger` remembers, per (document, target), that the target confirmed
   the posting — in JetStream KV, so every Wharf process sees it; a redelivered or replayed
   document skips targets it already reached.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Protocol

import httpx
import msgspec
import nats.errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import (
    APIError,
    BucketNotFoundError,
    KeyNotFoundError,
    NoStreamResponseError,
)

from wharf.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue

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


class EffectsLedger:
    """Which (document, target) postings were confirmed, in a JetStream KV bucket.

    The bucket is shared by every Wharf process on the cluster (and replicated like the
    streams), so when a partner's actor moves to another process — a crash, a pin handed
    over — a redelivered or replayed document still finds the targets it already reached.
    Keys are hashes (document refs and URLs are not valid KV keys, and PO-bearing ids must
    not sit in clear text anywhere): ``<sha256(document)[:32]>.<sha256(target)[:32]>``.
    """

    def __init__(self, kv: KeyValue, js: JetStreamContext, bucket: str) -> None:
        self._kv = kv
        self._js = js
        self._bucket = bucket

    @classmethod
    async def open(
        cls, js: JetStreamContext, *, bucket: str = "WHARF_EFFECTS", replicas: int = 1
    ) -> EffectsLedger:
        try:
            kv = await js.key_value(bucket)
        except BucketNotFoundError:
            kv = await js.create_key_value(KeyValueConfig(
                bucket=bucket, history=1, storage=StorageType.FILE, replicas=replicas,
                description="Wharf posted effects: (document, target) pairs a target confirmed",
            ))
        return cls(kv, js, bucket)

    @staticmethod
    def _hash(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _key(self, document: str, target: str) -> str:
        return f"{self._hash(document)}.{self._hash(target)}"

    async def done(self, document: str, target: str) -> bool:
        try:
            await self._kv.get(self._key(document, target))
        except KeyNotFoundError:  # KeyDeletedError included
            return False
        return True

    async def record(self, document: str, target: str, idempotency_key: str) -> None:
        await self._kv.put(
            self._key(document, target),
            msgspec.json.encode({"idempotency_key": self._hash(idempotency_key),
                                 "posted_at": dt.datetime.now(dt.UTC).isoformat()}),
        )

    async def count(self, document: str) -> int:
        """How many targets confirmed ``document`` (for operators and tests)."""
        subject = f"$KV.{self._bucket}.{self._hash(document)}.*"
        info = await self._js.stream_info(f"KV_{self._bucket}", subjects_filter=subject)
        return len(info.state.subjects or {})
