"""Sealing: AES-GCM records bound to their row, key rotation, the development key file."""

from __future__ import annotations

import base64
import os
import stat
from typing import TYPE_CHECKING

import msgspec
import pytest

from wharf.errors import ConfigError
from wharf.security.sealing import Sealer, SealingError, SealingSettings
from wharf.storage import Database

if TYPE_CHECKING:
    from pathlib import Path

PO_NUMBER = b"PO-4711-ACME-0042"
PAYLOAD = b'{"purchase_order": "PO-4711-ACME-0042", "lines": [{"qty": "12"}]}'


def b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def sealer(tmp_path: Path, keys: dict[str, str], active: str | None = None) -> Sealer:
    return Sealer.from_settings(
        SealingSettings(keys=keys, active=active, key_file=str(tmp_path / "keys" / "storage"))
    )


def test_sealed_bytes_hold_no_plaintext_and_open_back(tmp_path: Path) -> None:
    ring = sealer(tmp_path, {"k1": b64key()})
    record = ring.seal(PAYLOAD, context=b"receipts:1")
    assert PO_NUMBER not in record
    assert record[0] == 1 and record[2:4] == b"k1"
    assert ring.open(record, context=b"receipts:1") == PAYLOAD
    assert ring.seal(PAYLOAD, context=b"receipts:1") != record  # a fresh nonce each time


def test_a_record_does_not_open_under_another_rows_context(tmp_path: Path) -> None:
    ring = sealer(tmp_path, {"k1": b64key()})
    record = ring.seal(PAYLOAD, context=b"receipts:1")
    with pytest.raises(SealingError, match="failed authentication") as caught:
        ring.open(record, context=b"receipts:2")
    assert caught.value.key_id == "k1"


@pytest.mark.parametrize("position", [0, 1, 3, 5, 20, -1])
def test_any_changed_byte_is_refused(tmp_path: Path, position: int) -> None:
    ring = sealer(tmp_path, {"k1": b64key(), "k2": b64key()}, active="k1")
    record = bytearray(ring.seal(PAYLOAD, context=b"traces:7"))
    record[position] ^= 0x01  # version, key id length, key id ("k1" -> "k0"), nonce, body, tag
    with pytest.raises(SealingError):
        ring.open(bytes(record), context=b"traces:7")


def test_truncated_records_are_refused(tmp_path: Path) -> None:
    ring = sealer(tmp_path, {"k1": b64key()})
    record = ring.seal(b"", context=b"x")
    for cut in (0, 1, 4, len(record) - 1):
        with pytest.raises(SealingError, match="truncated"):
            ring.open(record[:cut], context=b"x")


def test_rotation_new_key_seals_old_keys_still_open(tmp_path: Path) -> None:
    old, new = b64key(), b64key()
    before = sealer(tmp_path, {"2025-01": old})
    legacy = before.seal(PAYLOAD, context=b"receipts:9")
    after = sealer(tmp_path, {"2025-01": old, "2025-06": new}, active="2025-06")
    fresh = after.seal(PAYLOAD, context=b"receipts:9")
    assert after.open(legacy, context=b"receipts:9") == PAYLOAD
    assert after.rotate_needed(legacy)
    assert not after.rotate_needed(fresh)
    with pytest.raises(SealingError, match="unknown key id '2025-06'") as caught:
        before.open(fresh, context=b"receipts:9")
    assert caught.value.key_id == "2025-06"
    retired = sealer(tmp_path, {"2025-06": new})
    with pytest.raises(SealingError, match="'2025-01'"):
        retired.open(legacy, context=b"receipts:9")


def test_development_key_is_created_private_and_reused(tmp_path: Path) -> None:
    first = sealer(tmp_path, {})
    key_file = tmp_path / "keys" / "storage"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert first.active.startswith("dev-")
    record = first.seal(PAYLOAD, context=b"c")
    assert sealer(tmp_path, {}).open(record, context=b"c") == PAYLOAD
    # Real keys configured later: the dev key still opens old records, the new one seals.
    configured = sealer(tmp_path, {"prod-1": b64key()})
    assert configured.active == "prod-1"
    assert configured.open(record, context=b"c") == PAYLOAD
    assert configured.rotate_needed(record)


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    sealer(tmp_path, {})
    key_file = tmp_path / "keys" / "storage"
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        sealer(tmp_path, {})


@pytest.mark.parametrize(
    ("keys", "active", "message"),
    [
        ({"k1": "not base64!"}, None, "'k1' is not valid base64"),
        ({"k1": base64.b64encode(b"short").decode()}, None, "5 bytes, not 32"),
        ({"k1": b64key(), "k2": b64key()}, None, "must name one of the keys: k1, k2"),
        ({"k1": b64key()}, "k9", "'k9' is not among the keys"),
    ],
)
def test_bad_key_settings_name_the_key(
    tmp_path: Path, keys: dict[str, str], active: str | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        sealer(tmp_path, keys, active)


def test_settings_repr_hides_key_material() -> None:
    secret = b64key()
    settings = msgspec.convert({"keys": {"k1": secret}, "active": "k1"}, SealingSettings)
    assert secret not in repr(settings)
    assert "k1" in repr(settings)
    assert secret not in str(dict(settings.__rich_repr__()))
    with pytest.raises(msgspec.ValidationError, match="activ"):
        msgspec.convert({"activ": "k1"}, SealingSettings)


def database_files(directory: Path) -> bytes:
    """The database, its WAL and shared memory: everything SQLite put on disk."""
    return b"".join(path.read_bytes() for path in directory.glob("wharf.db*"))


async def test_plaintext_po_number_is_absent_from_the_sqlite_file(tmp_path: Path) -> None:
    ring = sealer(tmp_path, {"k1": b64key()})
    path = tmp_path / "wharf.db"
    db = await Database.open(path)
    try:
        await db.migrate("CREATE TABLE payloads (id INTEGER PRIMARY KEY, body BLOB NOT NULL);")
        for row in range(1, 51):
            await db.execute("INSERT INTO payloads (id, body) VALUES (?, ?)",
                             (row, ring.seal(PAYLOAD, context=f"payloads:{row}".encode())))
        stored = await db.fetchone("SELECT body FROM payloads WHERE id = 7")
        assert ring.open(stored[0], context=b"payloads:7") == PAYLOAD
    finally:
        await db.aclose()
    on_disk = database_files(tmp_path)
    assert len(on_disk) > 50 * len(PAYLOAD)
    assert PO_NUMBER not in on_disk
