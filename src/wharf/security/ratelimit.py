"""Per-partner rate limits: token buckets kept in a JetStream KV bucket, exact across processes.

Several Wharf processes serve one partner, so a counter in process memory would let each of
them admit a full burst. Each ``(partner, kind)`` bucket is therefore one key of the KV bucket
``WHARF_RATELIMIT`` holding ``[tokens, at]``. A take reads the key, refills it for the time
elapsed since ``at``, and writes it back with compare-and-set on the key's revision
(``Nats-Expected-Last-Subject-Sequence``); a process that lost the race re-reads and tries
again, a bounded number of times. Every admitted unit is one successful compare-and-set, so
the total admitted by all processes together never exceeds what a single bucket allows.

Inside one process, takes on the same key are serialised by a lock and the last written
state is cached: the common case costs one round trip (the write). A refusal computed from
the cache needs no round trip at all, and is safe: other processes only ever remove tokens,
so the real bucket never holds more than the cached one projected to now.

Clock: wall clock (``time.time``), injectable for tests. NATS offers no "server now", and a
KV entry's timestamp only says when it was last written. Skew between processes is
tolerated: the bucket's ``at`` only moves forward, so a process whose clock runs *behind*
refills nothing until its clock passes ``at`` (it admits less), and one running *ahead* by
``d`` seconds advances ``at`` once and so grants at most ``d × rate`` extra units in total,
not per take. With NTP (skew well under a second) that is below one unit for any rate
under one per second; keep clocks synchronised.

Failure policy: fail closed. A gateway that cannot reach NATS cannot accept documents
anyway, so when the KV bucket cannot be read or written within ``timeout`` the decision is
``outcome="unavailable"`` (``allowed=False``): answer 503 with ``Retry-After``.

Headers follow draft-ietf-httpapi-ratelimit-headers-11 (structured fields)::

    RateLimit-Policy: "requests";q=100;w=60, "documents";q=1000;w=60
    RateLimit: "requests";r=42;t=17, "documents";r=990;t=1

``q`` is the quota per window ``w`` (seconds), ``r`` the units left now, ``t`` the seconds
until the bucket is full again. The documents policy counts documents (the draft's ``qu``
has no registered unit for them, so it is left out; the policy name says what is counted).
"""

from __future__ import annotations

import logging
import math
import re
import time
from typing import TYPE_CHECKING, Annotated, Literal

import anyio
import msgspec
import nats.errors
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError

from wharf.errors import BrokerError

if TYPE_CHECKING:
    from collections.abc import Callable

    from nats.js import JetStreamContext
    from nats.js.kv import KeyValue

__all__ = (
    "Decision",
    "Kind",
    "Outcome",
    "RateLimit",
    "RateLimitSettings",
    "RateLimiter",
    "headers",
)

log = logging.getLogger(__name__)

Kind = Literal["requests", "documents"]
"""What a bucket counts: HTTP requests, or documents inside them."""

Outcome = Literal["allowed", "limited", "exceeds_burst", "contended", "unavailable"]
"""Why a take was decided as it was.

``limited``: not enough tokens now, retry after ``retry_after_seconds``. ``exceeds_burst``:
the cost is larger than the bucket can ever hold (a batch bigger than the burst); waiting
cannot help. ``contended``: too many processes raced for the key; retry shortly.
``unavailable``: the KV bucket could not be reached (fail closed; answer 503).
"""

_EPSILON = 1e-9
"""Float slack so that refilled tokens like 0.9999999999 count as one."""
_PARTNER = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")

Positive = Annotated[int, msgspec.Meta(gt=0)]


class RateLimit(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A partner's rate limits (policy): two token buckets refilled continuously.

    ``requests_per_window`` requests and ``documents_per_window`` documents are added back
    per ``window_seconds``, evenly (100 per 60 s = one every 0.6 s). A bucket holds at most
    ``burst`` requests and ``documents_burst`` documents; each defaults to its per-window
    amount, so an idle partner may spend one window's quota at once. Keep the time to refill
    a whole bucket (``burst / per_window × window_seconds``) below the limiter's ``idle_ttl``.
    """

    requests_per_window: Positive
    """Requests added back per window."""
    documents_per_window: Positive
    """Documents added back per window (an interchange with 12 invoices counts 12)."""
    window_seconds: Annotated[float, msgspec.Meta(gt=0)]
    """The window the per-window amounts refer to, in seconds."""
    burst: Positive | None = None
    """Most requests accepted back to back (bucket size); default ``requests_per_window``."""
    documents_burst: Positive | None = None
    """Most documents accepted back to back; default ``documents_per_window``."""

    def quota(self, kind: Kind) -> int:
        """Units added back per window."""
        return self.requests_per_window if kind == "requests" else self.documents_per_window

    def capacity(self, kind: Kind) -> int:
        """The bucket size: most units accepted back to back."""
        burst = self.burst if kind == "requests" else self.documents_burst
        return self.quota(kind) if burst is None else burst

    def rate(self, kind: Kind) -> float:
        """Units added back per second."""
        return self.quota(kind) / self.window_seconds

    def policy(self, kind: Kind) -> str:
        """This bucket as a ``RateLimit-Policy`` list member."""
        window = max(1, math.ceil(self.window_seconds))
        return f'"{kind}";q={self.quota(kind)};w={window}'


class RateLimitSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """How the rate limiter keeps its buckets (``Settings.ratelimit``)."""

    idle_ttl: Annotated[float, msgspec.Meta(gt=0)] = 86_400.0
    """Seconds a bucket key lives after its last write; an idle partner's key then expires
    and starts again full. Must exceed the longest full-refill time of any policy."""
    storage: Literal["memory", "file"] = "memory"
    """KV storage. Memory: no fsync per take; a NATS restart refills every bucket once."""
    replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    attempts: Annotated[int, msgspec.Meta(ge=1)] = 16
    """Compare-and-set attempts per take before answering ``contended``."""
    timeout: Annotated[float, msgspec.Meta(gt=0)] = 2.0
    """Seconds one take may spend on NATS (all attempts); beyond, ``unavailable``."""
    unavailable_retry_after: Annotated[int, msgspec.Meta(ge=1)] = 5
    """``Retry-After`` seconds when NATS cannot be reached."""


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to one take, with what the response headers need."""

    allowed: bool
    limit: int
    """Quota per window (the policy's ``q``)."""
    remaining: int
    """Whole units left in the bucket after this take (``r``)."""
    reset_seconds: float
    """Seconds until the bucket is full again (``t``, rounded up)."""
    retry_after_seconds: int | None
    """When refused and waiting helps: seconds until ``cost`` units are available."""
    policy: str
    """This bucket as a ``RateLimit-Policy`` member, e.g. ``"requests";q=100;w=60``."""
    kind: Kind
    outcome: Outcome


class _Bucket(msgspec.Struct, frozen=True, array_like=True):
    tokens: float
    at: float
    """Clock reading the tokens were counted at; never moves backwards."""


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(_Bucket).decode


def _refill(stored: _Bucket | None, now: float, limit: RateLimit, kind: Kind) -> _Bucket:
    capacity = limit.capacity(kind)
    if stored is None:
        return _Bucket(float(capacity), now)
    at = max(stored.at, now)  # a peer's clock ahead of ours: wait for it, never run back
    tokens = min(float(capacity), stored.tokens + (at - stored.at) * limit.rate(kind))
    return _Bucket(tokens, at)


def _decision(
    bucket: _Bucket, limit: RateLimit, kind: Kind, cost: int, outcome: Outcome
) -> Decision:
    rate = limit.rate(kind)
    retry_after: int | None = None
    if outcome in ("limited", "contended"):
        retry_after = max(1, math.ceil((cost - bucket.tokens) / rate - _EPSILON))
    return Decision(
        allowed=outcome == "allowed",
        limit=limit.quota(kind),
        remaining=max(0, math.floor(bucket.tokens + _EPSILON)),
        reset_seconds=max(0.0, (limit.capacity(kind) - bucket.tokens) / rate),
        retry_after_seconds=retry_after,
        policy=limit.policy(kind),
        kind=kind,
        outcome=outcome,
    )


class RateLimiter:
    """Takes tokens from per-partner buckets shared by every Wharf process through NATS."""

    def __init__(
        self,
        js: JetStreamContext,
        bucket: str = "WHARF_RATELIMIT",
        *,
        settings: RateLimitSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._js = js
        self._bucket = bucket
        self._settings = settings or RateLimitSettings()
        self._clock = clock
        self._kv: KeyValue | None = None
        self._locks: dict[str, anyio.Lock] = {}
        self._cache: dict[str, tuple[int, _Bucket]] = {}
        self._degraded = False

    async def open(self) -> None:
        """Bind to the KV bucket, creating it (history 1, ``idle_ttl``) when absent."""
        try:
            await self._bind()
        except (OSError, nats.errors.Error) as exc:
            raise BrokerError(f"cannot open KV bucket {self._bucket}: {exc}") from exc

    async def _bind(self) -> None:
        try:
            self._kv = await self._js.key_value(self._bucket)
        except BucketNotFoundError:
            self._kv = await self._js.create_key_value(self._kv_config())

    def _kv_config(self) -> KeyValueConfig:
        settings = self._settings
        return KeyValueConfig(
            bucket=self._bucket,
            description="Wharf rate-limit token buckets, one key per partner and kind",
            history=1,
            ttl=settings.idle_ttl,
            storage=StorageType.MEMORY if settings.storage == "memory" else StorageType.FILE,
            replicas=settings.replicas,
        )

    async def take(
        self, partner: str, limit: RateLimit, kind: Kind, cost: int = 1
    ) -> Decision:
        """Take ``cost`` units from ``partner``'s ``kind`` bucket, or refuse and say why.

        Never raises for NATS trouble: that is ``outcome="unavailable"`` (fail closed).
        """
        if cost < 1:
            raise ValueError(f"cost must be at least 1, not {cost}")
        if not _PARTNER.match(partner):
            raise ValueError(f"partner id {partner!r} cannot be a rate-limit key")
        if self._kv is None:
            raise RuntimeError("RateLimiter.open() was not called")
        key = f"{partner}.{kind}"
        lock = self._locks.setdefault(key, anyio.Lock())
        try:
            # The deadline covers waiting for the lock: a hung NATS must not queue requests.
            with anyio.fail_after(self._settings.timeout):
                async with lock:
                    if self._degraded:
                        await self._bind()  # the bucket may have been lost with the server
                    assert self._kv is not None
                    decision = await self._take(self._kv, key, limit, kind, cost)
        except (OSError, nats.errors.Error) as exc:  # TimeoutError is an OSError
            self._cache.pop(key, None)
            return self._unavailable(limit, kind, exc)
        if self._degraded:
            self._degraded = False
            log.info("rate limiter: KV bucket %s reachable again", self._bucket)
        return decision

    async def _take(
        self, kv: KeyValue, key: str, limit: RateLimit, kind: Kind, cost: int
    ) -> Decision:
        bucket = _Bucket(0.0, 0.0)
        for _ in range(self._settings.attempts):
            cached = self._cache.pop(key, None)
            revision, stored = cached if cached is not None else await self._read(kv, key)
            bucket = _refill(stored, self._clock(), limit, kind)
            if cost > limit.capacity(kind):
                self._cache[key] = (revision, bucket)
                return _decision(bucket, limit, kind, cost, "exceeds_burst")
            if bucket.tokens + _EPSILON < cost:
                # Safe even from the cache: the real bucket never holds more than this.
                self._cache[key] = (revision, bucket)
                return _decision(bucket, limit, kind, cost, "limited")
            spent = _Bucket(bucket.tokens - cost, bucket.at)
            try:
                revision = await self._write(kv, key, spent, revision)
            except KeyWrongLastSequenceError:
                continue  # another process wrote first (or our cache was stale): re-read
            self._cache[key] = (revision, spent)
            return _decision(spent, limit, kind, cost, "allowed")
        log.warning("rate limiter: %s still contended after %d attempts", key,
                    self._settings.attempts)
        return _decision(bucket, limit, kind, cost, "contended")

    async def _read(self, kv: KeyValue, key: str) -> tuple[int, _Bucket | None]:
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:
            return 0, None
        assert entry.revision is not None
        try:
            return entry.revision, _decode(entry.value or b"")
        except msgspec.DecodeError:
            # Someone wrote garbage under our key: count it as empty (fail closed).
            log.warning("rate limiter: unreadable bucket %s reset to empty", key)
            return entry.revision, _Bucket(0.0, self._clock())

    @staticmethod
    async def _write(kv: KeyValue, key: str, bucket: _Bucket, revision: int) -> int:
        if revision == 0:
            return await kv.create(key, _encode(bucket))
        return await kv.update(key, _encode(bucket), last=revision)

    def _unavailable(self, limit: RateLimit, kind: Kind, exc: BaseException) -> Decision:
        if not self._degraded:
            self._degraded = True
            log.warning("rate limiter: KV bucket %s unreachable (%s); refusing until it is back",
                        self._bucket, type(exc).__name__)
        return Decision(
            allowed=False, limit=limit.quota(kind), remaining=0, reset_seconds=0.0,
            retry_after_seconds=self._settings.unavailable_retry_after,
            policy=limit.policy(kind), kind=kind, outcome="unavailable",
        )


def headers(*decisions: Decision) -> dict[str, str]:
    """``RateLimit-Policy`` and ``RateLimit`` for these decisions, plus ``Retry-After`` if refused.

    Pass every decision taken for the request (requests, then documents when counted); put
    the result on every response, success or not. An ``unavailable`` decision reports its
    policy but no counters (they are unknown).
    """
    if not decisions:
        return {}
    result = {"RateLimit-Policy": ", ".join(d.policy for d in decisions)}
    counters = [
        f'"{d.kind}";r={d.remaining};t={math.ceil(d.reset_seconds - _EPSILON)}'
        for d in decisions
        if d.outcome != "unavailable"
    ]
    if counters:
        result["RateLimit"] = ", ".join(counters)
    waits = [d.retry_after_seconds for d in decisions if d.retry_after_seconds is not None]
    if waits:
        result["Retry-After"] = str(max(waits))
    return result
