"""Running a uvicorn server inside Wharf's task group, with readiness and clean shutdown.

uvicorn has no readiness signal and does not stop cleanly when cancelled, so
:func:`serve` reports the bound port through ``task_status`` once the socket listens, runs
uvicorn shielded from cancellation, and on cancellation asks it to exit (``should_exit``, then
``force_exit`` after the graceful timeout) and waits for it. Signals are
Wharf's to handle (the runtime owns SIGINT/SIGTERM), not uvicorn's.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import uvicorn

from wharf.errors import WharfError
from wharf.gateway.tls import TLSHttpToolsProtocol

if TYPE_CHECKING:
    import ssl
    from collections.abc import Iterator

    from starlette.types import ASGIApp

    from wharf.settings import ListenerSettings

__all__ = ("serve",)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = anyio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready.set()


async def serve(
    app: ASGIApp,
    listener: ListenerSettings,
    *,
    ssl_context: ssl.SSLContext | None = None,
    name: str = "http",
    task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``listener``; report the bound port; stop gracefully when cancelled."""
    config = uvicorn.Config(
        app,
        host=listener.host,
        port=listener.port,
        http=TLSHttpToolsProtocol,
        ssl_context_factory=(lambda _c, _d: ssl_context) if ssl_context is not None else None,
        lifespan="off",
        proxy_headers=False,  # the client address must be the socket's, never a header's
        server_header=False,
        access_log=False,
        log_config=None,
        timeout_keep_alive=15,
        timeout_graceful_shutdown=5,
        h11_max_incomplete_event_size=16 * 1024,
    )
    server = _Server(config)
    done = anyio.Event()

    async def _serve() -> None:
        # Shielded: a cancelled uvicorn skips its shutdown and leaks its sockets. Stopping is
        # asked for with should_exit below and bounded by timeout_graceful_shutdown.
        try:
            with anyio.CancelScope(shield=True):
                await server.serve()
        except SystemExit as exc:  # uvicorn exits the process when it cannot bind
            raise WharfError(
                f"{name} listener cannot start on {listener.host}:{listener.port}"
            ) from exc
        finally:
            done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(_serve)
        with anyio.fail_after(10):
            await _first(server.ready, done)
        if not server.ready.is_set():
            return  # serving ended before it began: _serve's error surfaces from the group
        port: int = server.servers[0].sockets[0].getsockname()[1]
        task_status.started(port)
        try:
            await done.wait()
        finally:
            server.should_exit = True
            with anyio.CancelScope(shield=True):
                with anyio.move_on_after(config.timeout_graceful_shutdown or 5):
                    await done.wait()
                server.force_exit = True
                await done.wait()


async def _first(a: anyio.Event, b: anyio.Event) -> None:
    async with anyio.create_task_group() as tg:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(wait, a)
        tg.start_soon(wait, b)
