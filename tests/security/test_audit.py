"""The audit log: whole JSON lines, redaction, and events on a real nats-server."""

from __future__ import annotations

import datetime as dt
import json
import logging
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import msgspec
import nats

from wharf.observability.audit import (
    AUDIT_STREAM,
    AuditLog,
    AuditRecord,
    audit_stream_config,
    redact,
)

if TYPE_CHECKING:
    import pytest

    from wharf.observability.audit import AuditKind

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhY21lIn0.c2lnbmF0dXJl"


def lines(path: Path) -> list[AuditRecord]:
    return [msgspec.json.decode(line, type=AuditRecord) for line in path.read_bytes().splitlines()]


async def test_records_are_appended_as_parseable_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "audit.jsonl"
    audit = AuditLog(path, None, fsync=True)
    await audit.record("auth_failure", outcome="refused", partner="acme",
                       actor="CN=acme,O=Wharf dev PKI", peer="127.0.0.1:50123",
                       detail={"reason": "certificate expired", "status": 401})
    await AuditLog(path).record("policy_reload", outcome="rejected", actor="policies/acme.toml",
                                detail={"error": "acme.toml:3: scopes: unknown scope"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first, second = lines(path)
    assert (first.kind, first.outcome, first.partner, first.peer) == (
        "auth_failure", "refused", "acme", "127.0.0.1:50123")
    assert first.detail == {"reason": "certificate expired", "status": 401}
    assert second.kind == "policy_reload" and second.partner is None
    assert first.time <= second.time and first.id != second.id
    assert set(json.loads(path.read_text().splitlines()[0])) == {
        "time", "id", "kind", "outcome", "partner", "actor", "peer", "detail"}


async def test_secrets_passed_by_mistake_are_redacted(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    await audit.record(
        "token_issued", outcome="issued", partner="acme", actor="Bearer " + JWT,
        detail={
            "access_token": JWT, "client_secret": "s3cr3t", "Password": "hunter2",
            "Authorization": "Basic YWNtZTpwdw==", "signing_key": "-----BEGIN...",
            "shared": {"cxml_shared_secret": "abc", "note": f"got Bearer {JWT} back"},
            "key_id": "2025-06", "scope": "invoices:write", "jti": "j-1",
            "pem": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----",
        },
    )
    text = (tmp_path / "audit.jsonl").read_text()
    for secret in (JWT, "s3cr3t", "hunter2", "YWNtZTpwdw", "BEGIN", "abc", "MIIB"):
        assert secret not in text
    (entry,) = lines(tmp_path / "audit.jsonl")
    assert entry.actor == "***"
    assert entry.detail["access_token"] == "***"
    assert entry.detail["shared"] == {"cxml_shared_secret": "***", "note": "got *** back"}
    assert entry.detail["key_id"] == "2025-06"  # key ids are not keys
    assert entry.detail["scope"] == "invoices:write"


def test_redact_makes_any_value_json_safe() -> None:
    clean = redact({"when": dt.date(2025, 6, 1), "ids": ("a", "b"), "path": Path("/x"),
                    "n": None})
    assert clean == {"when": "2025-06-01", "ids": ["a", "b"], "path": "/x", "n": None}


WRITER = """
import sys, anyio
from wharf.observability.audit import AuditLog

async def main() -> None:
    audit = AuditLog(sys.argv[1])
    for n in range(100):
        await audit.record("auth_failure", outcome="refused", partner="other",
                           detail={"n": n, "pad": "y" * 20000})

anyio.run(main)
"""


async def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    logs = [AuditLog(path), AuditLog(path)]

    async def write(audit: AuditLog, writer: int) -> None:
        for n in range(100):
            await audit.record("auth_failure", outcome="refused", partner=f"p{writer}",
                               detail={"n": n, "pad": "x" * 20000})

    with anyio.fail_after(30):
        process = await anyio.open_process([sys.executable, "-c", WRITER, str(path)],
                                           stdout=subprocess.DEVNULL)
        async with anyio.create_task_group() as tg:
            for writer in range(4):  # threads of this process and another process at once
                tg.start_soon(write, logs[writer % 2], writer)
        assert await process.wait() == 0
    records = lines(path)
    assert len(records) == 500
    by_writer: dict[str | None, list[object]] = {}
    for record in records:
        by_writer.setdefault(record.partner, []).append(record.detail["n"])
    expected: list[object] = list(range(100))
    assert by_writer == dict.fromkeys(("p0", "p1", "p2", "p3", "other"), expected)


async def test_records_are_published_as_events(clean_jetstream: str, tmp_path: Path) -> None:
    nc = await nats.connect(clean_jetstream)
    try:
        js = nc.jetstream()
        await js.add_stream(audit_stream_config())
        audit = AuditLog(tmp_path / "audit.jsonl", js)
        entry = await audit.record("partner_suspended", outcome="suspended", partner="globex",
                                   actor="policies/globex.toml", detail={"token": "t0k3n"})
        msg = await js.get_msg(AUDIT_STREAM, subject="wharf.audit.partner_suspended")
        assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == entry.id
        assert msg.data is not None
        event = msgspec.json.decode(msg.data, type=AuditRecord)
        assert event == entry == lines(tmp_path / "audit.jsonl")[0]
        assert event.detail == {"token": "***"}
    finally:
        await nc.close()


async def test_missing_stream_keeps_the_file_and_warns_once(
    clean_jetstream: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nc = await nats.connect(clean_jetstream)
    try:
        audit = AuditLog(tmp_path / "audit.jsonl", nc.jetstream(), publish_timeout=1.0)
        with caplog.at_level(logging.WARNING, logger="wharf.observability.audit"), \
                anyio.fail_after(5):
            kinds: tuple[AuditKind, ...] = ("certificate_expiring", "auth_failure", "token_issued")
            for kind in kinds:
                await audit.record(kind, outcome="warning", partner="acme")
    finally:
        await nc.close()
    assert [r.kind for r in lines(tmp_path / "audit.jsonl")] == [
        "certificate_expiring", "auth_failure", "token_issued"]
    warnings = [r for r in caplog.records if "cannot publish" in r.getMessage()]
    assert len(warnings) == 1


def test_the_stream_config_captures_every_audit_subject() -> None:
    config = audit_stream_config(replicas=3, retention_days=30)
    assert config.name == "WHARF_AUDIT"
    assert config.subjects == ["wharf.audit.>"]
    assert config.num_replicas == 3
    assert config.max_age == 30 * 86_400.0
