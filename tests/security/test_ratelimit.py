"""Rate limits: token buckets in a real JetStream KV bucket, shared by several connections."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio
import msgspec
import nats
import pytest

from wharf.security.ratelimit import (
    Decision,
    RateLimit,
    RateLimiter,
    RateLimitSettings,
    headers,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from nats.aio.client import Client

    Connect = Callable[[], Awaitable[Client]]


class FakeClock:
    """A clock the test moves by hand: refill without sleeping."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def connect(clean_jetstream: str) -> AsyncIterator[Connect]:
    """Open NATS connections (each one a separate "process"); all closed at the end."""
    opened: list[Client] = []

    async def make() -> Client:
        nc = await nats.connect(clean_jetstream)
        opened.append(nc)
        return nc

    yield make
    for nc in opened:
        await nc.close()


async def limiter(
    nc: Client, clock: Callable[[], float] = time.time, **settings: object
) -> RateLimiter:
    built = RateLimiter(
        nc.jetstream(), settings=msgspec.convert(settings, RateLimitSettings), clock=clock
    )
    await built.open()
    return built


TEN_A_MINUTE = RateLimit(requests_per_window=10, documents_per_window=100, window_seconds=60,
                         burst=5, documents_burst=20)


async def test_burst_is_admitted_then_refused_with_the_time_to_the_next_token(
    connect: Connect,
) -> None:
    clock = FakeClock()
    rl = await limiter(await connect(), clock)
    seen = [await rl.take("acme", TEN_A_MINUTE, "requests") for _ in range(5)]
    assert [d.allowed for d in seen] == [True] * 5
    assert [d.remaining for d in seen] == [4, 3, 2, 1, 0]
    refused = await rl.take("acme", TEN_A_MINUTE, "requests")
    assert not refused.allowed
    assert refused.outcome == "limited"
    assert refused.retry_after_seconds == 6  # 10 a minute: one token every 6 s
    assert refused.remaining == 0
    assert refused.reset_seconds == pytest.approx(30.0)  # 5 tokens × 6 s to be full again
    assert headers(refused)["Retry-After"] == "6"


async def test_tokens_come_back_with_time_up_to_the_burst(connect: Connect) -> None:
    clock = FakeClock()
    rl = await limiter(await connect(), clock)
    for _ in range(5):
        assert (await rl.take("acme", TEN_A_MINUTE, "requests")).allowed
    clock.now += 5.9
    assert not (await rl.take("acme", TEN_A_MINUTE, "requests")).allowed
    clock.now += 0.1  # 6 s: exactly one token back
    back = await rl.take("acme", TEN_A_MINUTE, "requests")
    assert back.allowed and back.remaining == 0
    assert (await rl.take("acme", TEN_A_MINUTE, "requests")).retry_after_seconds == 6
    clock.now += 3600  # an hour idle refills the bucket, never beyond the burst
    allowed = [(await rl.take("acme", TEN_A_MINUTE, "requests")).allowed for _ in range(7)]
    assert allowed == [True] * 5 + [False] * 2


async def test_two_processes_together_never_exceed_the_bucket(
    connect: Connect,
) -> None:
    limit = RateLimit(requests_per_window=20, documents_per_window=20, window_seconds=3600)
    # Real wall clock: over this test's seconds an hourly quota refills < 1 token.
    first = await limiter(await connect(), attempts=32)
    second = await limiter(await connect(), attempts=32)
    assert first is not second
    decisions: list[Decision] = []

    async def hammer(rl: RateLimiter) -> None:
        decisions.extend([await rl.take("acme", limit, "requests") for _ in range(30)])

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for rl in (first, second, first, second):  # two concurrent callers per process
                tg.start_soon(hammer, rl)
    outcomes = [d.outcome for d in decisions]
    assert len(outcomes) == 120
    assert outcomes.count("allowed") == 20
    assert outcomes.count("limited") == 100


async def test_partners_and_kinds_have_separate_buckets(connect: Connect) -> None:
    clock = FakeClock()
    rl = await limiter(await connect(), clock)
    for _ in range(5):
        await rl.take("acme", TEN_A_MINUTE, "requests")
    assert not (await rl.take("acme", TEN_A_MINUTE, "requests")).allowed
    assert (await rl.take("globex", TEN_A_MINUTE, "requests")).allowed
    documents = await rl.take("acme", TEN_A_MINUTE, "documents", cost=12)
    assert documents.allowed and documents.remaining == 8
    short = await rl.take("acme", TEN_A_MINUTE, "documents", cost=9)
    assert short.outcome == "limited"
    assert short.retry_after_seconds == 1  # one more document needed, 100 a minute
    assert (await rl.take("acme", TEN_A_MINUTE, "documents", cost=8)).allowed


async def test_a_batch_larger_than_the_burst_can_never_pass(connect: Connect) -> None:
    rl = await limiter(await connect(), FakeClock())
    decision = await rl.take("acme", TEN_A_MINUTE, "documents", cost=21)
    assert decision.outcome == "exceeds_burst"
    assert not decision.allowed
    assert decision.retry_after_seconds is None  # waiting cannot help
    assert decision.remaining == 20  # nothing was taken
    assert "Retry-After" not in headers(decision)


async def test_a_process_whose_clock_lags_gets_no_extra_tokens(
    connect: Connect,
) -> None:
    ahead, behind = FakeClock(1_000.0), FakeClock(990.0)
    first = await limiter(await connect(), ahead)
    second = await limiter(await connect(), behind)
    for _ in range(5):
        assert (await first.take("acme", TEN_A_MINUTE, "requests")).allowed
    behind.now += 9  # still before the bucket's time: nothing refilled for it
    lagging = await second.take("acme", TEN_A_MINUTE, "requests")
    assert lagging.outcome == "limited"
    assert lagging.retry_after_seconds == 6


async def test_unreachable_nats_fails_closed(connect: Connect) -> None:
    nc = await connect()
    rl = await limiter(nc, FakeClock(), timeout=1.0, unavailable_retry_after=7)
    assert (await rl.take("acme", TEN_A_MINUTE, "requests")).allowed
    await nc.close()
    with anyio.fail_after(5):
        decision = await rl.take("acme", TEN_A_MINUTE, "requests")
    assert decision.outcome == "unavailable"
    assert not decision.allowed
    assert decision.retry_after_seconds == 7
    assert headers(decision) == {
        "RateLimit-Policy": '"requests";q=10;w=60',
        "Retry-After": "7",
    }


def test_headers_follow_the_structured_field_syntax() -> None:
    requests = Decision(
        allowed=True, limit=100, remaining=42, reset_seconds=16.2, retry_after_seconds=None,
        policy='"requests";q=100;w=60', kind="requests", outcome="allowed",
    )
    documents = Decision(
        allowed=False, limit=1000, remaining=3, reset_seconds=59.9, retry_after_seconds=2,
        policy='"documents";q=1000;w=60', kind="documents", outcome="limited",
    )
    assert headers(requests) == {
        "RateLimit-Policy": '"requests";q=100;w=60',
        "RateLimit": '"requests";r=42;t=17',
    }
    assert headers(requests, documents) == {
        "RateLimit-Policy": '"requests";q=100;w=60, "documents";q=1000;w=60',
        "RateLimit": '"requests";r=42;t=17, "documents";r=3;t=60',
        "Retry-After": "2",
    }
    assert headers() == {}


def test_the_policy_struct_defaults_bursts_and_rejects_unknown_keys() -> None:
    limit = msgspec.convert(
        {"requests_per_window": 100, "documents_per_window": 500, "window_seconds": 60},
        RateLimit,
    )
    assert limit.capacity("requests") == 100
    assert limit.capacity("documents") == 500
    assert limit.policy("requests") == '"requests";q=100;w=60'
    assert RateLimit(requests_per_window=1, documents_per_window=1, window_seconds=0.5,
                     burst=3).policy("requests") == '"requests";q=1;w=1'
    with pytest.raises(msgspec.ValidationError, match="bursts"):
        msgspec.convert({"requests_per_window": 1, "documents_per_window": 1,
                         "window_seconds": 1, "bursts": 2}, RateLimit)
    with pytest.raises(msgspec.ValidationError, match="requests_per_window"):
        msgspec.convert({"requests_per_window": 0, "documents_per_window": 1,
                         "window_seconds": 1}, RateLimit)
