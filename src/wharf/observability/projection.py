"""Projecting ``wharf.evt.>`` into the trace store, catching up from the stream after restarts.

The projection reads with a pull consumer that starts right after the store's recorded
position, so it needs no durable consumer state on the server: the SQLite file is the only
source of truth for "how far have we got". If the consumer disappears (server restart,
inactivity), it is simply created again from the current position.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import msgspec
import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from wharf.broker import subjects
from wharf.observability.events import Event, decode_event

if TYPE_CHECKING:
    from nats.js import JetStreamContext

    from wharf.observability.tracestore import TraceStore

__all__ = ("TraceProjection",)

log = logging.getLogger(__name__)

_BATCH = 256


class TraceProjection:
    """Keeps the trace store up to date with the event stream."""

    def __init__(
        self,
        js: JetStreamContext,
        store: TraceStore,
        *,
        fetch_timeout: float = 1.0,
        retry_delay: float = 1.0,
    ) -> None:
        self._js = js
        self._store = store
        self._fetch_timeout = fetch_timeout
        self._retry_delay = retry_delay
        self.caught_up = False
        self._started = False

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Project forever; ``started`` once the backlog present at start has been applied."""
        while True:
            try:
                await self._follow(task_status)
            except (NotFoundError, nats.errors.ConnectionClosedError) as exc:
                log.warning("trace projection consumer lost (%s); resuming", exc)
            except Exception:
                # The store or the server failed under us (disk full, NATS restarting): the
                # position in SQLite is still right, so start over from it after a pause.
                log.exception("trace projection failed; resuming in %.1f s", self._retry_delay)
                self.caught_up = False
                await anyio.sleep(self._retry_delay)

    async def _follow(self, task_status: anyio.abc.TaskStatus[None]) -> None:
        start = await self._store.position() + 1
        sub = await self._js.pull_subscribe(
            "wharf.evt.>",
            stream=subjects.EVT_STREAM,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=start,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=60.0,
                mem_storage=True,
            ),
        )
        try:
            while True:
                try:
                    msgs = await sub.fetch(_BATCH, timeout=self._fetch_timeout)
                except (nats.errors.TimeoutError, TimeoutError):  # nats-py raises either
                    msgs = []
                batch: list[tuple[int, Event]] = []
                pending = 0
                for msg in msgs:
                    meta = msg.metadata
                    pending = meta.num_pending
                    try:
                        event = decode_event(msg.subject, dict(msg.headers or {}), msg.data)
                    except (KeyError, ValueError, msgspec.ValidationError) as exc:
                        log.error("skipping malformed event seq=%s: %s", meta.sequence.stream, exc)
                        continue
                    batch.append((meta.sequence.stream, event))
                await self._store.apply(batch)
                if pending == 0 and not self.caught_up:
                    self.caught_up = True
                    if not self._started:
                        self._started = True
                        task_status.started()
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await sub.unsubscribe()
