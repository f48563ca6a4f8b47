"""The per-partner mailbox across two Wharf processes: one active, a quiet standby, fast handover."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import nats
import pytest

from wharf.actors import Mailbox
from wharf.broker import ensure_streams, subjects
from wharf.settings import ActorSettings, StreamSettings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client

SETTINGS = ActorSettings(pull_expires=0.5, priority_timeout=30.0)


@pytest.fixture
async def nc(clean_jetstream: str) -> AsyncIterator[Client]:
    client = await nats.connect(clean_jetstream)
    await ensure_streams(client.jetstream(), StreamSettings())
    yield client
    await client.close()


async def test_standby_waits_quietly_and_takes_over_when_the_active_one_unpins(nc: Client) -> None:
    js = nc.jetstream()
    active, standby = Mailbox(nc, "acme", SETTINGS), Mailbox(nc, "acme", SETTINGS)
    await active.open()
    await standby.open()
    await js.publish(subjects.inbound("acme", "ship_notice"), b"1")
    first = await active.next()
    assert first is not None and first.data == b"1"
    await first.ack_sync()

    # The standby's pulls are held by the server until they expire: no busy loop, no delivery.
    await js.publish(subjects.inbound("acme", "ship_notice"), b"2")
    pulls, started = 0, time.monotonic()
    while time.monotonic() - started < 1.0:
        assert await standby.next() is None
        pulls += 1
    assert pulls <= 3, f"the standby spun: {pulls} pulls in one second"

    second = await active.next()
    assert second is not None and second.data == b"2"
    await second.ack_sync()

    # Graceful shutdown of the active process hands the partner over at once.
    await js.publish(subjects.inbound("acme", "ship_notice"), b"3")
    await active.close()
    started = time.monotonic()
    third = None
    while third is None and time.monotonic() - started < 5.0:
        third = await standby.next()
    assert third is not None and third.data == b"3"
    assert time.monotonic() - started < 2.0, "handover must not wait for priority_timeout"
    await third.ack_sync()
    await standby.close()
