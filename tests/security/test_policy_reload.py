"""Hot reload fails closed: a good change applies within a poll, a bad one changes nothing."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING

import anyio
import pytest

from wharf.errors import PolicyError, WharfError
from wharf.policies import PolicySet, PolicyStore

if TYPE_CHECKING:
    from pathlib import Path

ACME = """\
name = "Acme"
scopes = ["ship-notices:write", "invoices:write"]
[[certificates]]
subject = "CN=acme,O=Wharf dev PKI"
[routes]
ship_notice = ["wms.receipts.expected"]
"""
GLOBEX = ACME.replace("CN=acme", "CN=globex").replace('"Acme"', '"Globex"')
POLL = 0.02


class Recorder:
    """Hooks that keep what they were told and signal each call with an event."""

    def __init__(self) -> None:
        self.changes: list[list[str]] = []
        self.rejections: list[WharfError] = []
        self.changed = anyio.Event()
        self.rejected = anyio.Event()

    def on_change(self, old: PolicySet, new: PolicySet, changes: list[str]) -> None:
        assert old is not new
        self.changes.append(changes)
        self.changed.set()

    async def on_reject(self, error: WharfError) -> None:  # coroutine hooks are awaited
        self.rejections.append(error)
        self.rejected.set()

    async def next_change(self) -> list[str]:
        with anyio.fail_after(5):
            await self.changed.wait()
        self.changed = anyio.Event()
        return self.changes[-1]

    async def next_rejection(self) -> WharfError:
        with anyio.fail_after(5):
            await self.rejected.wait()
        self.rejected = anyio.Event()
        return self.rejections[-1]


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    (tmp_path / "acme.toml").write_text(ACME)
    (tmp_path / "globex.toml").write_text(GLOBEX)
    return tmp_path


async def test_a_scope_removal_applies_within_a_poll(directory: Path) -> None:
    seen = Recorder()
    store = PolicyStore(directory, poll_interval=POLL, on_change=seen.on_change)
    assert "invoices:write" in store.current().partners["acme"].scopes
    async with anyio.create_task_group() as tg:
        await tg.start(store.run)
        (directory / "acme.toml").write_text(ACME.replace(', "invoices:write"', ""))
        changes = await seen.next_change()
        tg.cancel_scope.cancel()
    assert changes == ["acme: scopes removed: invoices:write"]
    assert store.current().partners["acme"].scopes == ["ship-notices:write"]
    status = store.status()
    assert (status.generation, status.rejected_count, status.last_error) == (2, 0, None)


async def test_a_broken_edit_keeps_the_last_good_set_until_fixed(directory: Path) -> None:
    seen = Recorder()
    store = PolicyStore(directory, poll_interval=POLL, on_change=seen.on_change,
                        on_reject=seen.on_reject)
    good = store.current()
    async with anyio.create_task_group() as tg:
        await tg.start(store.run)
        # Widening acme's grant and breaking globex in one change: neither applies.
        (directory / "acme.toml").write_text(ACME.replace('"invoices:write"', '"traces:read"'))
        (directory / "globex.toml").write_text(GLOBEX + "colour = 'red'\n")
        error = await seen.next_rejection()
        assert store.current() is good
        assert isinstance(error, PolicyError)
        assert str(error) == (
            f"{directory / 'globex.toml'}:7: routes.colour: 'colour' is not a known document "
            "type (one of: purchase_order, acknowledgment, ship_notice, invoice, "
            "inventory_advice, price_catalog, lead_time_change, rebate_claim, "
            "return_authorization)"
        )
        status = store.status()
        assert status.rejected_count == 1 and status.generation == 1 and not status.current
        assert status.last_error == str(error)

        (directory / "globex.toml").write_text(GLOBEX)
        changes = await seen.next_change()
        tg.cancel_scope.cancel()
    assert changes == [
        "acme: scopes added: traces:read", "acme: scopes removed: invoices:write",
    ]
    status = store.status()
    assert (status.generation, status.rejected_count, status.last_error) == (2, 1, None)
    assert seen.rejections == [error]  # reported once, not once per poll


async def test_polls_without_changes_do_nothing_and_a_bad_state_is_reported_once(
    directory: Path,
) -> None:
    seen = Recorder()
    store = PolicyStore(directory, poll_interval=POLL, on_change=seen.on_change,
                        on_reject=seen.on_reject)
    assert await store.poll() is False and store.status().generation == 1
    (directory / "acme.toml").write_text(ACME + "surprise = 1\n")
    for _ in range(3):
        assert await store.poll() is False
    assert len(seen.rejections) == 1 and store.status().rejected_count == 1
    # Same size, same second: the content still counts (mtime ticks are coarse).
    (directory / "acme.toml").write_text(ACME + "surprise = 2\n")
    assert await store.poll() is False
    assert store.status().rejected_count == 2
    assert seen.changes == []


async def test_a_same_size_edit_with_the_old_mtime_is_seen(directory: Path) -> None:
    store = PolicyStore(directory, poll_interval=POLL)
    path = directory / "acme.toml"
    before = path.stat()
    reordered = ACME.replace('"ship-notices:write", "invoices:write"',
                             '"invoices:write", "ship-notices:write"')
    assert len(reordered) == len(ACME)
    path.write_text(reordered)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert await store.poll() is True
    assert store.current().partners["acme"].scopes == ["invoices:write", "ship-notices:write"]


async def test_a_new_partner_file_and_a_removed_one_are_picked_up(directory: Path) -> None:
    seen = Recorder()
    store = PolicyStore(directory, poll_interval=POLL, on_change=seen.on_change)
    (directory / "initech.toml").write_text(ACME.replace("CN=acme", "CN=initech"))
    (directory / "globex.toml").unlink()
    assert await store.poll() is True
    assert sorted(store.current().partners) == ["acme", "initech"]
    assert "globex: partner removed (Globex); its certificates no longer identify it" in (
        seen.changes[-1]
    )


async def test_a_vanished_directory_is_rejected(directory: Path) -> None:
    store = PolicyStore(directory, poll_interval=POLL)
    good = store.current()
    shutil.rmtree(directory)
    assert await store.poll() is False
    assert store.current() is good
    assert "not a directory" in (store.status().last_error or "")


async def test_a_failing_hook_neither_stops_the_others_nor_undoes_the_reload(
    directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen = Recorder()

    def broken(old: PolicySet, new: PolicySet, changes: list[str]) -> None:
        raise RuntimeError("audit log is down")

    store = PolicyStore(directory, poll_interval=POLL, on_change=broken)
    store.subscribe(on_change=seen.on_change)
    (directory / "acme.toml").write_text("suspended = true\n" + ACME)
    assert await store.poll() is True
    assert seen.changes == [["acme: SUSPENDED: every request is refused"]]
    assert store.current().partners["acme"].suspended
    assert "audit log is down" in caplog.text


def test_a_bad_policy_at_start_is_raised(directory: Path) -> None:
    (directory / "acme.toml").write_text(ACME + "surprise = 1\n")
    with pytest.raises(PolicyError, match=r"acme\.toml:7: routes\.surprise"):
        PolicyStore(directory)
