"""Sealing: AES-256-GCM for payloads Wharf keeps at rest (trace store, idempotency store).

A sealed record describes itself, so keys can rotate without a migration::

    version (1 byte = 1) | key id length n (1 byte) | key id (n ASCII bytes)
    | nonce (12 random bytes) | ciphertext + tag (16 bytes)

The header (version and key id) and the caller's ``context`` are the GCM associated data:
a record only opens under the context it was sealed for (say ``b"receipts:<row id>"``), so
ciphertexts cannot be swapped between rows or tables, and editing the key id or version is
detected like any other tampering. Nonces are random: with 96-bit nonces a key stays safe
for well over 2^32 records (NIST SP 800-38D); rotate long before that.

Rotation: configure a new key and make it ``active``. New records are sealed with it; old
keys stay in ``keys`` so existing records still open; :meth:`Sealer.rotate_needed` tells a
re-sealing job which records are still under an old key. Remove an old key only when no
record needs it.

With no keys configured, a development key is generated once into ``var/keys/storage``
(mode 0600, directory 0700) and reused on every start; Wharf refuses a key file that other
users can read. Once real keys are configured that file, when present, stays usable for
opening (never for sealing), so data written in development is not stranded.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wharf.errors import ConfigError, WharfError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("KeyId", "Sealer", "SealingError", "SealingSettings")

VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32
_TAG_BYTES = 16
_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}\Z")

KeyId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
"""A key id: 1–64 letters, digits, ``.``, ``_`` or ``-`` (stored in every record)."""


class SealingError(WharfError):
    """Raised when a record cannot be opened; ``key_id`` names its key when known."""

    def __init__(self, message: str, *, key_id: str | None = None) -> None:
        super().__init__(message)
        self.key_id = key_id


class SealingSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Storage keys (``Settings.sealing``); ``repr`` never shows key material.

    ``keys`` maps key id to a base64-encoded 32-byte key; set them from the environment
    (``WHARF_SEALING__KEYS='{"2025-06": "..."}'``) or a file only the service user reads.
    """

    keys: dict[KeyId, str] = msgspec.field(default_factory=dict)
    """Key id -> base64 of 32 random bytes (``openssl rand -base64 32``)."""
    active: KeyId | None = None
    """The key id that seals new records; may be omitted when there is exactly one key."""
    key_file: str = "var/keys/storage"
    """Development key, created when ``keys`` is empty; "" disables it entirely."""

    def __repr__(self) -> str:
        ids = ", ".join(sorted(self.keys)) or "none"
        return (
            f"SealingSettings(keys=<{ids}>, active={self.active!r}, key_file={self.key_file!r})"
        )

    def __rich_repr__(self) -> list[tuple[str, object]]:
        return [("keys", sorted(self.keys)), ("active", self.active), ("key_file", self.key_file)]


class _KeyFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: KeyId
    key: str


class Sealer:
    """Seals and opens records with a key ring of AES-256-GCM keys, one of them active."""

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        for key_id, key in keys.items():
            if not _KEY_ID.match(key_id):
                raise ConfigError(f"sealing key id {key_id!r} is not 1-64 of [A-Za-z0-9._-]",
                                  key="sealing.keys")
            if len(key) != KEY_BYTES:
                raise ConfigError(f"sealing key {key_id!r} is {len(key)} bytes, not {KEY_BYTES}",
                                  key=f"sealing.keys.{key_id}")
        if active not in keys:
            raise ConfigError(
                f"active sealing key {active!r} is not among the keys ({', '.join(sorted(keys))})",
                key="sealing.active",
            )
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self._active = active
        self._header = bytes([VERSION, len(active)]) + active.encode("ascii")

    @classmethod
    def from_settings(cls, settings: SealingSettings) -> Sealer:
        """Build the key ring from settings, creating the development key file if needed."""
        keys = {key_id: _decode_key(key_id, text) for key_id, text in settings.keys.items()}
        dev: tuple[str, bytes] | None = None
        if settings.key_file:
            path = Path(settings.key_file)
            dev = _load_or_create_key_file(path) if not keys else _load_key_file(path)
        if dev is not None:
            dev_id, dev_key = dev
            if keys.get(dev_id, dev_key) != dev_key:
                raise ConfigError(f"sealing key id {dev_id!r} is both configured and in "
                                  f"{settings.key_file} with different keys", key="sealing.keys")
            keys.setdefault(dev_id, dev_key)
        active = settings.active
        if active is None:
            configured = sorted(settings.keys)
            if len(configured) > 1:
                raise ConfigError("sealing.active must name one of the keys: "
                                  + ", ".join(configured), key="sealing.active")
            active = configured[0] if configured else dev[0] if dev else None
        if active is None:
            raise ConfigError("no sealing key: configure sealing.keys or a key_file",
                              key="sealing.keys")
        return cls(keys, active)

    @property
    def active(self) -> str:
        """The key id new records are sealed with."""
        return self._active

    def seal(self, plaintext: bytes, *, context: bytes) -> bytes:
        """Encrypt and authenticate ``plaintext`` for ``context`` (e.g. table and row id)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._active].encrypt(nonce, plaintext, self._header + context)
        return self._header + nonce + sealed

    def open(self, record: bytes, *, context: bytes) -> bytes:
        """Decrypt ``record`` sealed for ``context``; :class:`SealingError` if that fails."""
        key_id, header_end = _parse_header(record)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SealingError(
                f"record sealed with unknown key id {key_id!r} (known: "
                f"{', '.join(sorted(self._ciphers))}); add that key to sealing.keys",
                key_id=key_id,
            )
        nonce = record[header_end : header_end + NONCE_BYTES]
        try:
            return cipher.decrypt(
                nonce, record[header_end + NONCE_BYTES :], record[:header_end] + context
            )
        except InvalidTag:
            raise SealingError(
                f"record under key {key_id!r} failed authentication: "
                "tampered with, or sealed for another row",
                key_id=key_id,
            ) from None

    def rotate_needed(self, record: bytes) -> bool:
        """True when ``record`` is not sealed with the active key in the current format."""
        key_id, _ = _parse_header(record)  # older versions will be recognised here
        return key_id != self._active


def _parse_header(record: bytes) -> tuple[str, int]:
    """The record's key id and where its nonce starts."""
    if len(record) < 2:
        raise SealingError("sealed record is truncated (no header)")
    if record[0] != VERSION:
        raise SealingError(f"sealed record has unsupported version {record[0]}")
    end = 2 + record[1]
    if record[1] == 0 or len(record) < end + NONCE_BYTES + _TAG_BYTES:
        raise SealingError("sealed record is truncated")
    try:
        key_id = record[2:end].decode("ascii")
    except UnicodeDecodeError:
        raise SealingError("sealed record has a malformed key id") from None
    return key_id, end


def _decode_key(key_id: str, text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ConfigError(f"sealing key {key_id!r} is not valid base64",
                          key=f"sealing.keys.{key_id}") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(f"sealing key {key_id!r} decodes to {len(key)} bytes, not {KEY_BYTES}",
                          key=f"sealing.keys.{key_id}")
    return key


def _load_key_file(path: Path) -> tuple[str, bytes] | None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"sealing key file {path} is accessible to other users (mode "
            f"{stat.S_IMODE(mode):04o}); run: chmod 600 {path}",
            key="sealing.key_file",
        )
    try:
        parsed = msgspec.json.decode(path.read_bytes(), type=_KeyFile)
    except (OSError, msgspec.DecodeError) as exc:
        raise ConfigError(f"cannot read sealing key file {path}: {exc}",
                          key="sealing.key_file") from exc
    return parsed.id, _decode_key(parsed.id, parsed.key)


def _load_or_create_key_file(path: Path) -> tuple[str, bytes]:
    """Read the development key, creating it atomically (two processes may start at once)."""
    existing = _load_key_file(path)
    if existing is not None:
        return existing
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=8 * KEY_BYTES)
    key_id = "dev-" + hashlib.sha256(key).hexdigest()[:12]
    content = msgspec.json.encode(_KeyFile(id=key_id, key=base64.b64encode(key).decode()))
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()  # left over by a crash
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.link(temp, path)  # fails if another process won the race: then use its key
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    loaded = _load_key_file(path)
    assert loaded is not None
    return loaded
