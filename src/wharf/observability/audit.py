"""The audit log: security-relevant facts as JSON lines, and as events on ``wharf.audit.<kind>``.

The security team must be able to answer "who was refused, what policy was in force, which
tokens were issued, who was suspended" after the fact, so these facts are kept apart from the
chatty process log.

The file is the record of truth and is written first: one ``write`` of one whole line on an
``O_APPEND`` descriptor, so lines from concurrent writers (tasks, threads, other Wharf
processes sharing the file) never interleave. The file is reopened for every record, so a
log rotator may move it away at any time without signalling Wharf. ``fsync=True`` also
survives a power cut, at the price of one fsync per record; without it a record survives a
crash of Wharf (it is in the kernel) but not of the machine.

The NATS event is a copy for consumers (SIEM, alerting) on the ``WHARF_AUDIT`` stream; see
:func:`audit_stream_config`. Publishing never fails the caller: when NATS or the stream is
missing the record stays in the file and the failure is logged once per outage.

Records never carry secrets: ``detail`` values under keys that look like secrets (token,
secret, password, authorization, credential, cookie, signature, any ``key`` except
``key_id``/``kid``) are replaced with ``"***"``, and bearer tokens, JWTs and PEM private keys
found inside any string are blanked too. That is a safety net; do not pass secrets at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import anyio
import anyio.to_thread
import msgspec
import nats.errors
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

if TYPE_CHECKING:
    from collections.abc import Mapping

    from nats.js import JetStreamContext

__all__ = (
    "AUDIT_STREAM",
    "AuditKind",
    "AuditLog",
    "AuditRecord",
    "AuditSettings",
    "audit_stream_config",
    "redact",
)

log = logging.getLogger(__name__)

AUDIT_STREAM = "WHARF_AUDIT"
AUDIT_SUBJECTS = "wharf.audit.>"

AuditKind = Literal[
    "auth_failure", "policy_reload", "token_issued", "partner_suspended",
    "certificate_expiring",
    "dlq_replay",
]
"""What happened; also the last token of the event subject ``wharf.audit.<kind>``."""

REDACTED = "***"
_SECRET_NAME = re.compile(
    r"token|secret|passw|authorization|credential|cookie|signature|key", re.IGNORECASE
)
_SAFE_NAMES = frozenset({"key_id", "kid"})
_SECRET_TEXT = re.compile(
    r"(?i:bearer)\s+[A-Za-z0-9._~+/=-]+"
    r"|eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)


class AuditSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Where audit records go (``Settings.audit``)."""

    path: str = "var/audit.jsonl"
    """JSON-lines file, created with mode 0600 (parent directories as needed)."""
    fsync: bool = False
    """Fsync after every record (survives power loss; costs one fsync per record)."""
    publish: bool = True
    """Also publish each record on ``wharf.audit.<kind>``."""
    publish_timeout: Annotated[float, msgspec.Meta(gt=0)] = 2.0
    """Seconds a publish may hold up the caller before it is given up (the file has it)."""
    retention_days: Annotated[float, msgspec.Meta(gt=0)] = 365.0
    """How long the ``WHARF_AUDIT`` stream keeps events."""


class AuditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One audit line (and event). ``detail`` is already redacted."""

    time: dt.datetime
    id: str
    """Unique per record; the event's ``Nats-Msg-Id``."""
    kind: AuditKind
    outcome: str
    """E.g. ``refused``, ``accepted``, ``rejected``, ``issued``, ``suspended``, ``warning``."""
    partner: str | None = None
    actor: str | None = None
    """Who acted: certificate subject, OAuth client id, operator, policy file."""
    peer: str | None = None
    """Network peer (``host:port``) when there is one."""
    detail: dict[str, object] = msgspec.field(default_factory=dict)


_encode = msgspec.json.Encoder().encode


def _scrub(text: str) -> str:
    return _SECRET_TEXT.sub(REDACTED, text)


def _clean(value: object) -> object:
    match value:
        case None | bool() | int() | float():
            return value
        case str():
            return _scrub(value)
        case dict():
            return redact(value)
        case list() | tuple() | set() | frozenset():
            return [_clean(item) for item in value]
        case dt.datetime() | dt.date():
            return value.isoformat()
        case _:
            return _scrub(str(value))


def redact(detail: Mapping[str, object]) -> dict[str, object]:
    """A JSON-safe copy of ``detail`` with secret-looking keys and values blanked."""
    clean: dict[str, object] = {}
    for raw_name, value in detail.items():
        name = str(raw_name)
        secret = name.lower() not in _SAFE_NAMES and _SECRET_NAME.search(name)
        clean[name] = REDACTED if secret else _clean(value)
    return clean


def audit_stream_config(
    *, replicas: int = 1, retention_days: float = 365.0, duplicate_window: float = 120.0
) -> StreamConfig:
    """The ``WHARF_AUDIT`` stream capturing ``wharf.audit.>`` (for ``broker/streams.py``)."""
    return StreamConfig(
        name=AUDIT_STREAM,
        description="Audit events: auth failures, policy reloads, tokens, suspensions",
        subjects=[AUDIT_SUBJECTS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=retention_days * 86_400.0,
        duplicate_window=duplicate_window,
        discard=DiscardPolicy.OLD,
    )


class AuditLog:
    """Appends audit records to a JSON-lines file and publishes each on ``wharf.audit.<kind>``."""

    def __init__(
        self,
        path: str | Path,
        js: JetStreamContext | None = None,
        *,
        fsync: bool = False,
        publish_timeout: float = 2.0,
    ) -> None:
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._js = js
        self._fsync = fsync
        self._publish_timeout = publish_timeout
        self._publish_failing = False

    @classmethod
    def from_settings(cls, settings: AuditSettings, js: JetStreamContext | None) -> AuditLog:
        return cls(
            settings.path, js if settings.publish else None,
            fsync=settings.fsync, publish_timeout=settings.publish_timeout,
        )

    @property
    def path(self) -> Path:
        return self._path

    async def record(
        self,
        kind: AuditKind,
        *,
        outcome: str,
        partner: str | None = None,
        actor: str | None = None,
        peer: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> AuditRecord:
        """Append one record to the file, then publish it; never raises for I/O trouble."""
        entry = AuditRecord(
            time=dt.datetime.now(dt.UTC),
            id=uuid.uuid4().hex,
            kind=kind,
            outcome=_scrub(outcome),
            partner=partner,
            actor=None if actor is None else _scrub(actor),
            peer=peer,
            detail=redact(detail or {}),
        )
        line = _encode(entry)
        try:
            await anyio.to_thread.run_sync(self._append, line + b"\n")
        except OSError as exc:
            # Reported, with the record itself, so it is not lost; the caller goes on.
            log.error("audit: cannot append to %s (%s): %s", self._path, exc.strerror,
                      line.decode())
        await self._publish(entry, line)
        return entry

    def _append(self, line: bytes) -> None:
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(line)
            while view:  # a regular file takes it in one write; looping only guards the odd FS
                view = view[os.write(fd, view) :]
            if self._fsync:
                os.fsync(fd)
        finally:
            os.close(fd)

    async def _publish(self, entry: AuditRecord, payload: bytes) -> None:
        if self._js is None:
            return
        headers = {"Nats-Msg-Id": entry.id, "Content-Type": "application/json"}
        try:
            with anyio.fail_after(self._publish_timeout):
                await self._js.publish(f"wharf.audit.{entry.kind}", payload, headers=headers)
        except (OSError, nats.errors.Error) as exc:  # TimeoutError is an OSError
            if not self._publish_failing:
                self._publish_failing = True
                log.warning("audit: cannot publish to %s (%s: %s); records stay in %s",
                            AUDIT_SUBJECTS, type(exc).__name__, exc, self._path)
            return
        if self._publish_failing:
            self._publish_failing = False
            log.info("audit: publishing to %s again", AUDIT_SUBJECTS)
