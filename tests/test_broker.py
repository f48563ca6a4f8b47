"""The embedded nats-server's lifecycle and the trace projection's restart behaviour."""

from __future__ import annotations

import datetime as dt
import os
import signal
from typing import TYPE_CHECKING

import anyio
import nats
import pytest

from wharf.broker import EmbeddedNats, ensure_streams
from wharf.broker.subjects import EVT_STREAM
from wharf.observability.events import EventData, EventEmitter, EventName
from wharf.observability.projection import TraceProjection
from wharf.observability.tracestore import TraceStore
from wharf.security.sealing import Sealer
from wharf.settings import EmbeddedNatsSettings, StreamSettings
from wharf.storage import Database

if TYPE_CHECKING:
    from pathlib import Path

    from nats.js import JetStreamContext


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_embedded_server_starts_restarts_after_a_crash_and_stops(tmp_path: Path) -> None:
    server = EmbeddedNats(EmbeddedNatsSettings(port=0, store_dir=str(tmp_path / "nats")))
    async with anyio.create_task_group() as tg:
        url: str = await tg.start(server.run)
        assert url.startswith("nats://127.0.0.1:")
        assert (tmp_path / "nats" / "nats-server.conf").is_file()
        reconnected = anyio.Event()

        async def on_reconnect() -> None:
            reconnected.set()

        nc = await nats.connect(
            url, max_reconnect_attempts=-1, reconnect_time_wait=0.1, reconnected_cb=on_reconnect
        )
        try:
            js = nc.jetstream()
            await js.add_stream(name="LIFECYCLE", subjects=["life.>"])
            await js.publish("life.one", b"kept on disk")

            first = server.pid
            assert first is not None and alive(first)
            os.kill(first, signal.SIGKILL)  # a crash: the supervisor restarts it on the same port
            with anyio.fail_after(20):
                await reconnected.wait()
            assert server.pid != first
            # The server takes clients only after JetStream has recovered the store.
            msg = await js.get_msg("LIFECYCLE", 1)
            assert msg.data == b"kept on disk"
        finally:
            await nc.close()
        second = server.pid
        assert second is not None
        assert alive(second)
        tg.cancel_scope.cancel()
    assert second is not None
    assert not alive(second), "the server must be stopped (and reaped) when Wharf stops"


async def emit(js: JetStreamContext, *names: EventName) -> None:
    events = EventEmitter(js)
    for name in names:
        await events.emit(
            name, doc_type="ship_notice", correlation_id="c-1", partner="acme",
            traceparent=None, time=dt.datetime.now(dt.UTC), data=EventData(step=name),
        )


async def project_until_caught_up(js: JetStreamContext, db_path: Path) -> list[str]:
    db = await Database.open(db_path)
    try:
        store = await TraceStore.open(db, Sealer({"test": bytes(range(32))}, "test"))
        async with anyio.create_task_group() as tg:
            await tg.start(TraceProjection(js, store, fetch_timeout=0.2).run)
            tg.cancel_scope.cancel()
        trace = await store.get("c-1")
        assert await store.position() == (await js.stream_info(EVT_STREAM)).state.last_seq
        return [e.event for e in trace.events] if trace else []
    finally:
        await db.aclose()


@pytest.mark.usefixtures("clean_jetstream")
async def test_projection_resumes_from_its_position_after_a_restart(
    nats_url: str, tmp_path: Path
) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamSettings())
        await emit(js, "received", "transformed")
        db_path = tmp_path / "wharf.db"
        assert await project_until_caught_up(js, db_path) == ["received", "transformed"]

        # Wharf is down while the actor goes on: the projection catches up, nothing twice.
        await emit(js, "validated", "posted")
        assert await project_until_caught_up(js, db_path) == [
            "received", "transformed", "validated", "posted"
        ]
    finally:
        await nc.close()


async def test_embedded_store_encrypted_at_rest(tmp_path: Path) -> None:
    store = tmp_path / "nats"
    settings = EmbeddedNatsSettings(port=0, store_dir=str(store), encryption_key="s3cret-key")
    secret = b"PO-4711-IN-THE-STREAM"
    async with anyio.create_task_group() as tg:
        url: str = await tg.start(EmbeddedNats(settings).run)
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            await js.add_stream(name="SEALED", subjects=["sealed.>"])
            await js.publish("sealed.one", secret)
            assert (await js.get_msg("SEALED", 1)).data == secret
        finally:
            await nc.close()
        tg.cancel_scope.cancel()
    assert (store / "nats-server.conf").stat().st_mode & 0o077 == 0
    stored = [p for p in (store / "jetstream").rglob("*") if p.is_file()]
    assert stored
    assert not any(secret in p.read_bytes() for p in stored)
