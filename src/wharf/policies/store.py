"""Keeping the last good policy in force while the security team edits the files.

:class:`ReloadingStore` is the shape shared by the policy and revocation stores: it loads
once when built (an error there is raised: Wharf must not start on a bad policy), then
:meth:`~ReloadingStore.run` polls the watched files (names, sizes, mtimes, inodes; contents
when recently touched, see :class:`FileWatch`) every ``poll_interval`` seconds and reloads
when they change. Reloading is atomic and fails closed:

- the new value is built completely (in a worker thread) before it replaces the old one, so
  :meth:`~ReloadingStore.current` always returns one whole, checked value;
- any error rejects the change as a whole; the last good value stays in force, the error is
  logged, counted in :meth:`~ReloadingStore.status` and handed to the ``on_reject`` hooks;
  the same broken state is not re-reported on every poll;
- a change made while a load was running (a ``git pull`` touching several files) discards
  that load; the next poll loads the settled files.

Why polling: no extra dependency (inotify bindings), works on network and container volumes,
and a policy directory has tens to hundreds of small files, so a stat per file per second is
nothing. Hooks may be plain functions or coroutines; a failing hook is logged and does not
undo the reload.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Generic, TypeVar

import anyio
import anyio.abc
import msgspec

from wharf.errors import PolicyError, WharfError
from wharf.policies.diff import diff_policies
from wharf.policies.loader import load_policies
from wharf.policies.locate import PolicyFileError
from wharf.policies.model import PolicySet

__all__ = (
    "ChangeHook",
    "FileWatch",
    "PolicyStore",
    "RejectHook",
    "ReloadingStore",
    "Snapshot",
    "StoreStatus",
)

log = logging.getLogger(__name__)

T = TypeVar("T")

Snapshot = tuple[tuple[str, int, int, int, str], ...]
"""(path, size, mtime_ns, inode, content digest) per watched file; a missing file has -1s."""

ChangeHook = Callable[[T, T, list[str]], Awaitable[None] | None]
RejectHook = Callable[[WharfError], Awaitable[None] | None]

_RACY_NS = 2_000_000_000
"""A file modified less than this long ago may change again within the same mtime tick."""


class FileWatch:
    """Snapshots of a set of files that change whenever a file's content, name or presence does.

    A stat per file and poll; the content is hashed only when the stat changed or when the
    file was modified so recently that a second write could share its mtime (file systems
    keep mtimes in coarse ticks). This is git's "racily clean" rule: an edit that keeps the
    size and lands in the same tick is still seen.
    """

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[tuple[int, int, int, int], str, bool]] = {}

    def snapshot(self, paths: Iterable[Path]) -> Snapshot:
        now = time.time_ns()
        state = []
        for path in sorted(set(paths)):
            try:
                st = os.stat(path)
                key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
                cached = self._cache.get(path)
                if cached is not None and cached[0] == key and not cached[2]:
                    digest = cached[1]
                else:
                    digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
                    self._cache[path] = (key, digest, now - st.st_mtime_ns < _RACY_NS)
            except OSError:
                state.append((str(path), -1, -1, -1, ""))
                continue
            state.append((str(path), st.st_size, st.st_mtime_ns, st.st_ino, digest))
        return tuple(state)


class StoreStatus(msgspec.Struct, frozen=True, kw_only=True):
    """For ``/readyz`` and metrics: what is in force and whether the last change was taken."""

    generation: int
    """1 for the value loaded at start, +1 for every accepted reload."""
    loaded_at: dt.datetime
    """When the value in force was loaded."""
    last_error: str | None = None
    """Why the latest change was rejected; ``None`` once the files load cleanly again."""
    rejected_count: int = 0
    """Changes rejected since start."""
    last_rejected_at: dt.datetime | None = None

    @property
    def current(self) -> bool:
        """True when the files on disk are what is in force (no pending rejection)."""
        return self.last_error is None


class ReloadingStore(Generic[T]):
    """Holds the last good ``T`` loaded by ``load`` and reloads it when ``files`` change."""

    def __init__(
        self,
        *,
        name: str,
        load: Callable[[], T],
        files: Callable[[], Iterable[Path]],
        describe: Callable[[T, T], list[str]],
        poll_interval: float = 1.0,
    ) -> None:
        if poll_interval <= 0:
            raise ValueError("poll_interval must be > 0")
        self._name = name
        self._load = load
        self._files = files
        self._describe = describe
        self._interval = poll_interval
        self._watch = FileWatch()
        self._change_hooks: list[ChangeHook[T]] = []
        self._reject_hooks: list[RejectHook] = []
        # The files are read after the snapshot: a change during this load shows next poll.
        self._seen = self._snapshot()
        self._current = load()
        self._status = StoreStatus(generation=1, loaded_at=_now())

    def subscribe(
        self, *, on_change: ChangeHook[T] | None = None, on_reject: RejectHook | None = None
    ) -> None:
        """Call ``on_change(old, new, changes)`` after each accepted reload and
        ``on_reject(error)`` after each rejected one."""
        if on_change is not None:
            self._change_hooks.append(on_change)
        if on_reject is not None:
            self._reject_hooks.append(on_reject)

    def current(self) -> T:
        """The value in force: the last one that loaded without error."""
        return self._current

    def status(self) -> StoreStatus:
        return self._status

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Poll for changes until cancelled."""
        task_status.started()
        while True:
            await self.poll()
            await anyio.sleep(self._interval)

    async def poll(self) -> bool:
        """Check the files once; reload if they changed. True when a new value was taken."""
        before = await anyio.to_thread.run_sync(self._snapshot)
        if before == self._seen:
            return False
        try:
            new = await anyio.to_thread.run_sync(self._load)
        except Exception as exc:  # noqa: BLE001 - every failure is a rejection, reported below
            if await anyio.to_thread.run_sync(self._snapshot) != before:
                return False  # the files moved while loading; judge them when they settle
            self._seen = before
            await self._reject(exc)
            return False
        if await anyio.to_thread.run_sync(self._snapshot) != before:
            return False
        self._seen = before
        await self._accept(new)
        return True

    def _snapshot(self) -> Snapshot:
        return self._watch.snapshot(self._files())

    async def _accept(self, new: T) -> None:
        old, self._current = self._current, new
        self._status = msgspec.structs.replace(
            self._status, generation=self._status.generation + 1, loaded_at=_now(),
            last_error=None,
        )
        try:
            changes = self._describe(old, new)
        except Exception as exc:  # the new value is in force: report and go on
            log.exception("%s: cannot describe the change", self._name)
            changes = [f"(the change could not be described: {exc!r})"]
        log.info("%s reloaded (generation %d): %d change(s)", self._name,
                 self._status.generation, len(changes))
        for line in changes:
            log.info("%s change: %s", self._name, line)
        for hook in self._change_hooks:
            await _call(hook, old, new, changes)

    async def _reject(self, exc: Exception) -> None:
        error = exc if isinstance(exc, WharfError) else self._wrap(exc)
        self._status = msgspec.structs.replace(
            self._status, last_error=str(error), rejected_count=self._status.rejected_count + 1,
            last_rejected_at=_now(),
        )
        log.error("%s change rejected; generation %d stays in force:\n%s", self._name,
                  self._status.generation, error, exc_info=not isinstance(exc, WharfError))
        for hook in self._reject_hooks:
            await _call(hook, error)

    def _wrap(self, exc: Exception) -> WharfError:
        return WharfError(f"{self._name}: unexpected error while loading: {exc!r}")


async def _call(hook: Callable[..., Awaitable[None] | None], *args: object) -> None:
    try:
        result = hook(*args)
        if inspect.isawaitable(result):
            await result
    except Exception:  # a broken hook must not stop the reloader; reported here
        log.exception("reload hook %r failed", hook)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PolicyStore(ReloadingStore[PolicySet]):
    """The partner policies in force, hot-reloaded from ``directory``.

    Watches every file under the directory (partners, ``_defaults.toml``, templates, mapping
    files; hidden files and folders excepted): mapping paths are confined to the directory,
    so the watch list never depends on what the policies say.
    ``on_change(old, new, changes)`` gets :func:`~wharf.policies.diff.diff_policies` lines;
    ``on_reject(error)`` gets the :class:`~wharf.errors.PolicyError` (``str()`` lists every
    ``file:line: key.path: message``).
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        poll_interval: float = 1.0,
        on_change: ChangeHook[PolicySet] | None = None,
        on_reject: RejectHook | None = None,
    ) -> None:
        self.directory = Path(directory)
        super().__init__(
            name="policies",
            load=lambda: load_policies(self.directory),
            files=self._watched,
            describe=diff_policies,
            poll_interval=poll_interval,
        )
        self.subscribe(on_change=on_change, on_reject=on_reject)

    def _watched(self) -> list[Path]:
        root = self.directory
        if not root.is_dir():
            return []  # a vanished directory: the snapshot changes and the reload is refused
        return [
            path for path in root.rglob("*")
            if path.is_file() and not any(p.startswith(".") for p in path.relative_to(root).parts)
        ]

    def _wrap(self, exc: Exception) -> WharfError:
        if isinstance(exc, PolicyError):
            return exc
        return PolicyFileError(f"unexpected error while loading: {exc!r}", file=str(self.directory))
