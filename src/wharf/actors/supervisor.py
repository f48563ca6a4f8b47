"""Starting and keeping alive one :class:`SupplierActor` per partner in the policy."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

import anyio
import anyio.abc

from wharf.errors import BrokerError

if TYPE_CHECKING:
    from collections.abc import Callable


class Actor(Protocol):
    """What the supervisor runs: inbound (SupplierActor) and outbound (OutboundActor) alike."""

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None: ...

__all__ = ("Actor", "Supervisor")

log = logging.getLogger(__name__)

_RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)


class Supervisor:
    """Runs an actor per partner; restarts an actor that fails (with growing delays).

    :meth:`ensure` follows policy reloads: a new partner's actor starts, a removed partner's
    actor stops (releasing its pin, so its mailbox waits for it to come back).
    """

    def __init__(self, make_actor: Callable[[str], Actor]) -> None:
        self._make_actor = make_actor
        self.running: set[str] = set()
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    async def run(
        self,
        partners: list[str],
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Start every partner's actor, report readiness once all mailboxes are open."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            await self.ensure(partners)
            task_status.started()
            await anyio.sleep_forever()

    async def ensure(self, partners: list[str]) -> None:
        """Run exactly the actors of ``partners``."""
        assert self._tg is not None, "run() first"
        for gone in set(self._scopes) - set(partners):
            log.info("partner %s left the policy: stopping its actor", gone)
            self._scopes.pop(gone).cancel()
        for partner in partners:
            if partner not in self._scopes:
                self._scopes[partner] = anyio.CancelScope()
                await self._tg.start(self._supervise, partner)

    async def _supervise(self, partner: str, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        with self._scopes[partner]:
            await self._keep_alive(partner, task_status=task_status)

    async def _keep_alive(
        self, partner: str, *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        failures = 0
        started = False
        while True:
            actor = self._make_actor(partner)
            try:
                async with anyio.create_task_group() as tg:
                    await tg.start(actor.run)
                    self.running.add(partner)
                    if not started:
                        started = True
                        task_status.started()
                    failures = 0
            except (BrokerError, OSError, TimeoutError) as exc:
                log.error("actor %s failed: %s", partner, exc)
            except Exception:
                log.exception("actor %s crashed", partner)
            finally:
                self.running.discard(partner)
            if not started:
                # Report after the first attempt even when it failed: one partner whose mailbox
                # cannot be opened must not hold up startup or a policy reload (readiness shows
                # it through ``running``); the actor keeps retrying in the background.
                started = True
                task_status.started()
            delay = _RESTART_DELAYS[min(failures, len(_RESTART_DELAYS) - 1)]
            failures += 1
            await anyio.sleep(delay)
