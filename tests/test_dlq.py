"""Dead letters: listing WHARF_DLQ, dry-run diffs, replay exactly once, pacing, API and CLI.

Dead letters are published the way :meth:`SupplierActor._dead_letter` makes them: the
mailbox message (published to WHARF_IN first, with the headers the intake writes) copied to
``wharf.dlq.<partner>`` with the ``Wharf-Dlq-*`` headers added.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import httpx
import msgspec
import nats
import pytest
from starlette.applications import Starlette

from tests.documents import invoice
from tests.test_end_to_end import JSON, wait_for_trace
from wharf.actors.dlq import (
    Change,
    CurrentDecoder,
    DeadLetter,
    DeadLetters,
    ErrorClass,
    Parked,
    Replayer,
    ReplayLog,
    Selection,
    TokenBucket,
    error_class_from_traces,
    json_diff,
)
from wharf.broker import ensure_streams, subjects
from wharf.broker.subjects import Header
from wharf.codecs import default_registry
from wharf.codecs.mapping import MappedJsonCodec
from wharf.codecs.mapping.loader import load_mapping
from wharf.codecs.registry import PartnerCodecs
from wharf.dlq_cli import dlq_list, dlq_replay
from wharf.errors import DocumentError
from wharf.gateway import serve
from wharf.gateway.dlq_api import internal_routes, parse_when
from wharf.model import encode_document
from wharf.observability.tracestore import Payload
from wharf.policies import Partner
from wharf.policies.model import CertificateRule
from wharf.settings import ListenerSettings, StreamSettings
from wharf.storage import Database

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    from nats.js import JetStreamContext

    from tests.conftest import ClientFactory
    from wharf.runtime import Runtime

EXAMPLES = Path(__file__).parents[1] / "examples" / "mappings"


# --- fixtures and helpers -----------------------------------------------------------------


@pytest.fixture
async def js(clean_jetstream: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(clean_jetstream)
    jetstream = nc.jetstream(timeout=5)
    await ensure_streams(jetstream, StreamSettings())
    yield jetstream
    await nc.close()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "wharf.db")
    yield database
    await database.aclose()


@pytest.fixture
async def replays(db: Database) -> ReplayLog:
    return await ReplayLog.open(db)


async def park(
    js: JetStreamContext,
    partner: str,
    doc_type: str | None,
    body: bytes,
    *,
    key: str,
    reason: str = "no JetStream stream captures subject nowhere.ap.invoice",
    step: str = "post",
    deliveries: int = 3,
    source_format: str = "json",
) -> tuple[int, str]:
    """Publish a mailbox message and its dead letter as the intake and the actor do;
    return the dead letter's sequence and the correlation id."""
    correlation_id = f"cid-{partner}-{key}"
    headers = {
        Header.MSG_ID: f"{partner}:{key}",
        Header.CORRELATION_ID: correlation_id,
        Header.PARTNER: partner,
        Header.FORMAT: "json",
        Header.SOURCE_FORMAT: source_format,
        Header.CONTENT_TYPE: "application/json",
        Header.IDEMPOTENCY_KEY: key,
        Header.RECEIVED_AT: dt.datetime.now(dt.UTC).isoformat(),
        Header.TRACEPARENT: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    }
    if doc_type is not None:
        headers[Header.DOC_TYPE] = doc_type
    mailbox = await js.publish(
        subjects.inbound(partner, doc_type or "unknown"), body, stream=subjects.IN_STREAM,
        headers=headers,
    )
    headers.update({
        Header.MSG_ID: f"dlq:{correlation_id}",
        Header.DLQ_REASON: reason[:1000],
        Header.DLQ_STEP: step,
        Header.DLQ_DELIVERIES: str(deliveries),
        Header.DLQ_STREAM_SEQ: str(mailbox.seq),
    })
    ack = await js.publish(subjects.dlq(partner), body, stream=subjects.DLQ_STREAM,
                           headers=headers)
    return ack.seq, correlation_id


async def inbound_count(js: JetStreamContext, subject: str = "wharf.in.>") -> int:
    info = await js.stream_info(subjects.IN_STREAM, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


def classes(known: Mapping[str, ErrorClass]) -> Any:
    async def lookup(correlation_id: str) -> ErrorClass | None:
        return known.get(correlation_id)

    return lookup


class AuditRecorder:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    async def __call__(
        self, kind: str, /, *, outcome: str, partner: str | None = None,
        actor: str | None = None, detail: Mapping[str, object] | None = None,
    ) -> None:
        self.records.append({"kind": kind, "outcome": outcome, "partner": partner,
                             "actor": actor, "detail": dict(detail or {})})


class FakeClock:
    """Virtual time: ``sleep`` advances it at once and remembers how long it was asked."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    def wall(self) -> dt.datetime:
        return dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=self.t)


async def bump_quantity(letter: DeadLetter, body: bytes) -> bytes | DocumentError:
    """A 'fixed mapping': the quantity was read wrong and a note is added."""
    document = json.loads(body)
    if document.get("lines"):
        document["lines"][0]["quantity"]["value"] = "3"
        document["notes"] = "replayed"
    return json.dumps(document).encode()


async def reject(letter: DeadLetter, body: bytes) -> bytes | DocumentError:
    return DocumentError("unit price is not a number", pointer="/lines/0/unit_price/amount")


# --- pure pieces --------------------------------------------------------------------------


def test_json_diff_reports_pointers_with_old_and_new_values() -> None:
    old = {"a": 1, "b": {"c/d": [1, 2, 3]}, "gone": None, "flag": True}
    new = {"a": 1.0, "b": {"c/d": [1, 5]}, "flag": 1, "new~x": {"y": 1}}
    changes, truncated = json_diff(old, new)
    assert changes == [
        Change(op="changed", pointer="/b/c~1d/1", old=2, new=5),
        Change(op="removed", pointer="/b/c~1d/2", old=3),
        Change(op="removed", pointer="/gone", old=None),
        Change(op="changed", pointer="/flag", old=True, new=1),
        Change(op="added", pointer="/new~0x", new={"y": 1}),
    ]
    assert not truncated
    assert json_diff({"x": [1, 2, 3]}, {"x": []}, limit=2) == (
        [Change(op="removed", pointer="/x/0", old=1), Change(op="removed", pointer="/x/1", old=2)],
        True,
    )
    assert json_diff([1], "text") == ([Change(op="changed", pointer="", old=[1], new="text")],
                                      False)


async def test_token_bucket_paces_to_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4.0, burst=2, clock=clock.now, sleep=clock.sleep)
    for _ in range(6):
        await bucket.acquire()
    # two at once (the burst), then one every 0.25 s
    assert clock.t == pytest.approx(1.0)
    assert clock.sleeps == pytest.approx([0.25] * 4)


def test_parse_when_takes_ages_and_iso_times() -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_when("90m", now) == dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.UTC)
    assert parse_when("2d", now) == dt.datetime(2026, 2, 27, 12, 0, tzinfo=dt.UTC)
    assert parse_when("2026-02-01", now) == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    assert parse_when("2026-02-01T10:00:00+02:00", now).utcoffset() == dt.timedelta(hours=2)
    with pytest.raises(ValueError, match="age like"):
        parse_when("yesterday", now)


# --- listing ------------------------------------------------------------------------------


async def test_list_filters_by_partner_type_error_class_and_time(
    js: JetStreamContext, replays: ReplayLog
) -> None:
    a, cid_a = await park(js, "acme", "invoice", invoice("INV-A"), key="a")
    b, cid_b = await park(js, "acme", "ship_notice", b'{"doc_type":"ship_notice"}', key="b",
                          step="validate", deliveries=1, reason="names supplier 'globex'")
    c, cid_c = await park(js, "globex", "ship_notice", b'{"doc_type":"ship_notice"}', key="c")
    # unreadable (published by hand, no Wharf-Doc-Type): parked at "receive", permanent
    d, _ = await park(js, "acme", None, b"junk", key="d", step="receive", deliveries=1,
                      reason="unreadable message: 'Wharf-Doc-Type'")
    letters = DeadLetters(js, replays=replays, error_class_of=classes(
        {cid_a: "transient", cid_b: "permanent", cid_c: "transient"}))

    everything = await letters.list()
    assert [x.seq for x in everything] == [a, b, c, d]
    first = everything[0]
    assert (first.partner, first.doc_type, first.correlation_id) == ("acme", "invoice", cid_a)
    assert (first.step, first.deliveries, first.error_class) == ("post", 3, "transient")
    assert first.reason == "no JetStream stream captures subject nowhere.ap.invoice"
    assert first.mailbox_seq == 1 and first.idempotency_key == "a"
    assert first.time.tzinfo is not None and first.replayed_at is None
    assert everything[3].error_class == "permanent" and everything[3].doc_type is None

    async def seqs(**filters: Any) -> list[int]:
        return [x.seq for x in await letters.list(**filters)]

    assert await seqs(partner="acme") == [a, b, d]
    assert await seqs(partner="globex") == [c]
    assert await seqs(partner="initech") == []
    assert await seqs(doc_type="ship_notice") == [b, c]
    assert await seqs(partner="acme", doc_type="invoice") == [a]
    assert await seqs(error_class="transient") == [a, c]
    assert await seqs(error_class="permanent") == [b, d]
    assert await seqs(since=everything[2].time) == [c, d]
    assert await seqs(until=everything[1].time) == [a, b]
    assert await seqs(since=everything[1].time, until=everything[2].time) == [b, c]
    assert await seqs(limit=2) == [a, b]
    assert await seqs(partner="acme", limit=1, error_class="permanent") == [b]

    chosen, missing = await letters.select(Selection(seqs=(c, a, 999)))
    assert [x.seq for x in chosen] == [a, c] and missing == [999]
    chosen, _ = await letters.select(Selection(seqs=(a, b, c), partner="acme"))
    assert [x.seq for x in chosen] == [a, b]


async def test_list_without_a_lookup_leaves_the_error_class_unknown(js: JetStreamContext) -> None:
    await park(js, "acme", "invoice", invoice(), key="a")
    [letter] = await DeadLetters(js).list()
    assert letter.error_class is None
    assert await DeadLetters(js).list(error_class="transient") == []
    with pytest.raises(ValueError, match="not a partner id"):
        await DeadLetters(js).list(partner="acme.>")


async def test_listing_is_bounded_by_the_scan_limit(js: JetStreamContext) -> None:
    for n in range(5):
        await park(js, "acme", "invoice", invoice(f"INV-{n}"), key=f"k{n}")
    await park(js, "acme", "ship_notice", b"{}", key="late")
    letters = DeadLetters(js, scan_limit=3, batch=2)
    assert len(await letters.list(doc_type="invoice")) == 3
    assert await letters.list(doc_type="ship_notice") == []  # beyond the scan: not found
    assert len(await DeadLetters(js).list(doc_type="ship_notice")) == 1


# --- replaying ----------------------------------------------------------------------------


async def test_dry_run_shows_the_diff_and_publishes_nothing(
    js: JetStreamContext, replays: ReplayLog
) -> None:
    seq, cid = await park(js, "acme", "invoice", invoice("INV-7"), key="k7")
    before = await inbound_count(js)
    audit = AuditRecorder()
    letters = DeadLetters(js, replays=replays)
    replayer = Replayer(js, letters, replays, transform=bump_quantity, audit=audit)

    report = await replayer.replay(Selection(partner="acme"), dry_run=True, actor="ops")
    assert report.dry_run and report.selected == 1 and report.counts == {"would_replay": 1}
    [item] = report.items
    assert (item.seq, item.correlation_id, item.status) == (seq, cid, "would_replay")
    assert item.diff == [
        Change(op="changed", pointer="/lines/0/quantity/value", old="2", new="3"),
        Change(op="added", pointer="/notes", new="replayed"),
    ]
    assert item.msg_id == f"replay:{cid}:{seq}" and item.inbound_seq is None
    assert await inbound_count(js) == before
    assert (await letters.list())[0].replayed_at is None
    assert audit.records == [{
        "kind": "dlq_replay", "outcome": "dry_run", "partner": "acme", "actor": "ops",
        "detail": {"dry_run": True, "throttle_per_second": 20.0,
                   "counts": {"would_replay": 1}, "seqs": [seq],
                   "selection": {"partner": "acme"}},
    }]

    failing = Replayer(js, letters, replays, transform=reject)
    [item] = (await failing.replay(Selection(seqs=(seq,)), dry_run=True)).items
    assert (item.status, item.pointer) == ("would_fail", "/lines/0/unit_price/amount")
    assert item.error == "unit price is not a number"
    [item] = (await failing.replay(Selection(seqs=(seq,)), dry_run=False)).items
    assert item.status == "failed"
    assert await inbound_count(js) == before


async def test_replay_republishes_once_with_the_original_identity(
    js: JetStreamContext, replays: ReplayLog, tmp_path: Path
) -> None:
    seq, cid = await park(js, "acme", "invoice", invoice("INV-9"), key="k9")
    before = await inbound_count(js, "wharf.in.acme.invoice")
    audit = AuditRecorder()
    letters = DeadLetters(js, replays=replays)
    replayer = Replayer(js, letters, replays, transform=bump_quantity, audit=audit)

    first = await replayer.replay(Selection(partner="acme", doc_type="invoice"), dry_run=False)
    [item] = first.items
    assert item.status == "replayed" and item.inbound_seq is not None
    assert item.replayed_at is not None
    republished = await js.get_msg(subjects.IN_STREAM, seq=item.inbound_seq)
    assert republished.subject == "wharf.in.acme.invoice"
    headers = republished.headers or {}
    assert headers[Header.MSG_ID] == f"replay:{cid}:{seq}"
    assert headers[Header.CORRELATION_ID] == cid
    assert headers[Header.TRACEPARENT].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert headers[Header.IDEMPOTENCY_KEY] == "k9" and headers["Wharf-Replay-Of"] == str(seq)
    assert not any(name.startswith("Wharf-Dlq-") for name in headers)
    assert json.loads(republished.data or b"")["lines"][0]["quantity"]["value"] == "3"
    assert await inbound_count(js, "wharf.in.acme.invoice") == before + 1

    second = await replayer.replay(Selection(seqs=(seq,)), dry_run=False)
    assert [i.status for i in second.items] == ["already_replayed"]
    assert await inbound_count(js, "wharf.in.acme.invoice") == before + 1
    [listed] = await letters.list()
    assert listed.replayed_at == item.replayed_at
    assert [r["outcome"] for r in audit.records] == ["completed", "completed"]
    assert audit.records[0]["detail"]["counts"] == {"replayed": 1}

    # Another process without this replay log: JetStream's Msg-Id still publishes once.
    other_db = await Database.open(tmp_path / "other.db")
    try:
        other_log = await ReplayLog.open(other_db)
        other = Replayer(js, DeadLetters(js, replays=other_log), other_log,
                         transform=bump_quantity)
        third = await other.replay(Selection(seqs=(seq,)), dry_run=False)
    finally:
        await other_db.aclose()
    assert [i.status for i in third.items] == ["duplicate"]
    assert await inbound_count(js, "wharf.in.acme.invoice") == before + 1


async def test_unroutable_dead_letters_are_skipped(js: JetStreamContext, replays: ReplayLog) -> None:
    seq, _ = await park(js, "acme", None, b"junk", key="d", step="receive", deliveries=1)
    before = await inbound_count(js)
    replayer = Replayer(js, DeadLetters(js, replays=replays), replays)
    report = await replayer.replay(Selection(seqs=(seq,)), dry_run=False)
    assert [i.status for i in report.items] == ["skipped"]
    assert "Wharf-Doc-Type" in (report.items[0].error or "")
    assert await inbound_count(js) == before


async def test_bulk_replay_is_throttled(js: JetStreamContext, replays: ReplayLog) -> None:
    for n in range(5):
        await park(js, "acme", "invoice", invoice(f"INV-{n}"), key=f"bulk{n}")
    clock = FakeClock()
    replayer = Replayer(js, DeadLetters(js, replays=replays), replays,
                        throttle_per_second=2.0, clock=clock.now, sleep=clock.sleep,
                        now=clock.wall)
    report = await replayer.replay(Selection(partner="acme"), dry_run=False)
    assert report.counts == {"replayed": 5}
    assert clock.sleeps == pytest.approx([0.5] * 4)
    published_at = [item.replayed_at for item in report.items if item.replayed_at is not None]
    assert len(published_at) == 5
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(published_at)]
    assert gaps == pytest.approx([0.5] * 4)
    # a dry run is not paced (it posts nothing)
    await replayer.replay(Selection(partner="acme"), dry_run=True)
    assert len(clock.sleeps) == 4


async def test_current_decoder_reads_the_original_through_todays_mapping(
    js: JetStreamContext, replays: ReplayLog, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    mapping = policies / "acme-ack.toml"
    shutil.copy(EXAMPLES / "acme-ack.toml", mapping)
    raw = (EXAMPLES / "acme-ack.json").read_bytes()
    parked_body = encode_document(MappedJsonCodec(load_mapping(mapping)).decode(raw).documents[0])
    seq, cid = await park(js, "acme", "acknowledgment", parked_body, key="ack")
    _, gone_cid = await park(js, "acme", "acknowledgment", parked_body, key="ack-gone")

    class Payloads:
        async def payload(self, correlation_id: str) -> Payload | None:
            if correlation_id != cid:
                return None  # e.g. pruned from the trace store: the parked JSON is used
            return Payload(media_type="application/json", raw=raw, canonical=parked_body)

    partner = Partner(id="acme", name="Acme", mapping="acme-ack.toml",
                      certificates=[CertificateRule(subject="CN=acme")])
    registry = default_registry()
    decoder = CurrentDecoder(payloads=Payloads(), partner_codecs=PartnerCodecs(registry, policies),
                             registry=registry, partners=lambda: {"acme": partner})
    replayer = Replayer(js, DeadLetters(js, replays=replays), replays, transform=decoder)

    unchanged = await replayer.replay(Selection(partner="acme"), dry_run=True)
    assert [(i.status, i.diff) for i in unchanged.items] == [("would_replay", [])] * 2

    # The integration team fixes the mapping: Acme's CASE is a box of 10, not a case.
    mapping.write_text(mapping.read_text().replace('CASE = "CS"', 'CASE = "BX"'))
    stat = mapping.stat()
    os.utime(mapping, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    fixed = await replayer.replay(Selection(partner="acme"), dry_run=True)
    by_cid = {i.correlation_id: i for i in fixed.items}
    assert by_cid[cid].diff == [
        Change(op="changed", pointer="/lines/1/quantity/uom", old="CS", new="BX")
    ]
    assert by_cid[gone_cid].diff == []

    mapping.write_text(mapping.read_text().replace('"ack.ackNumber"', '"ack.missing"'))
    os.utime(mapping, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    [broken] = (await replayer.replay(Selection(seqs=(seq,)), dry_run=True)).items
    assert broken.status == "would_fail" and broken.error


# --- HTTP routes and CLI ------------------------------------------------------------------


def dlq_app(letters: DeadLetters, replayer: Replayer) -> Starlette:
    return Starlette(routes=internal_routes(letters, replayer))


@pytest.fixture
async def parked_pair(js: JetStreamContext) -> tuple[int, int]:
    a, _ = await park(js, "acme", "invoice", invoice("INV-1"), key="one")
    b, _ = await park(js, "globex", "ship_notice", b'{"doc_type":"ship_notice"}', key="two")
    return a, b


async def test_routes_list_and_replay_with_dry_run_by_default(
    js: JetStreamContext, replays: ReplayLog, parked_pair: tuple[int, int]
) -> None:
    a, b = parked_pair
    letters = DeadLetters(js, replays=replays)
    audit = AuditRecorder()
    replayer = Replayer(js, letters, replays, transform=bump_quantity, audit=audit)
    transport = httpx.ASGITransport(app=dlq_app(letters, replayer))
    before = await inbound_count(js)
    async with httpx.AsyncClient(transport=transport, base_url="http://internal") as http:
        listed = await http.get("/internal/v1/dlq")
        assert listed.status_code == 200
        assert [x["seq"] for x in listed.json()] == [a, b]
        assert listed.json()[0]["doc_type"] == "invoice" and listed.json()[0]["deliveries"] == 3
        only = await http.get("/internal/v1/dlq", params={"partner": "globex", "since": "1h"})
        assert [x["seq"] for x in only.json()] == [b]
        future = await http.get("/internal/v1/dlq", params={"since": "2999-01-01"})
        assert future.json() == []
        typed = await http.get("/internal/v1/dlq", params={"type": "invoice", "limit": "5"})
        assert [x["seq"] for x in typed.json()] == [a]

        for params, word in [({"type": "memo"}, "type"), ({"limit": "0"}, "limit"),
                             ({"partner": "ACME."}, "partner"), ({"since": "soon"}, "since"),
                             ({"error_class": "business"}, "error_class"),
                             ({"doc_type": "invoice"}, "unknown query parameter")]:
            bad = await http.get("/internal/v1/dlq", params=params)
            assert bad.status_code == 400, params
            assert bad.headers["content-type"] == "application/problem+json"
            assert word in bad.json()["detail"]

        dry = await http.post("/internal/v1/dlq/replay", json={"partner": "acme"})
        assert dry.status_code == 200
        assert dry.json()["dry_run"] is True and dry.json()["counts"] == {"would_replay": 1}
        assert dry.json()["items"][0]["diff"][0]["pointer"] == "/lines/0/quantity/value"
        assert await inbound_count(js) == before

        everything = await http.post("/internal/v1/dlq/replay", json={"dry_run": False})
        assert everything.status_code == 400
        assert everything.json()["type"].endswith("/selection-required")
        bad_seq = await http.post("/internal/v1/dlq/replay", json={"seqs": [1, "x"]})
        assert bad_seq.status_code == 400 and bad_seq.json()["pointer"] == "/seqs/1"
        unknown = await http.post("/internal/v1/dlq/replay", json={"partnr": "acme"})
        assert unknown.status_code == 400 and unknown.json()["pointer"] == "/partnr"
        backwards = await http.post("/internal/v1/dlq/replay",
                                    json={"since": "1h", "until": "2h"})
        assert backwards.status_code == 400 and "after" in backwards.json()["detail"]
        bad_time = await http.post("/internal/v1/dlq/replay", json={"until": "later"})
        assert bad_time.status_code == 400 and bad_time.json()["pointer"] == "/until"
        not_json = await http.post("/internal/v1/dlq/replay", content=b"{")
        assert not_json.status_code == 400

        real = await http.post("/internal/v1/dlq/replay",
                               json={"seqs": [b], "dry_run": False, "operator": "jo"})
        assert real.status_code == 200
        assert [i["status"] for i in real.json()["items"]] == ["replayed"]
        assert await inbound_count(js) == before + 1
        replayed = (await http.get("/internal/v1/dlq", params={"partner": "globex"})).json()
        assert replayed[0]["replayed_at"] is not None
    assert [(r["outcome"], r["actor"]) for r in audit.records] == [
        ("dry_run", "127.0.0.1"), ("completed", "jo")
    ]


async def test_cli_prints_the_table_and_the_diff(
    js: JetStreamContext, replays: ReplayLog, parked_pair: tuple[int, int]
) -> None:
    a, _ = parked_pair
    letters = DeadLetters(js, replays=replays)
    replayer = Replayer(js, letters, replays, transform=bump_quantity)
    async with anyio.create_task_group() as tg:
        port = await tg.start(
            lambda *, task_status: serve(dlq_app(letters, replayer),
                                         ListenerSettings(host="127.0.0.1", port=0),
                                         name="dlq", task_status=task_status)
        )
        url = f"http://127.0.0.1:{port}"

        out = io.StringIO()
        assert await anyio.to_thread.run_sync(dlq_list, url, {"partner": "acme"}, out) == 0
        lines = out.getvalue().splitlines()
        assert lines[0].split()[:4] == ["SEQ", "PARKED", "(UTC)", "PARTNER"]
        assert lines[1].split()[0] == str(a) and "invoice" in lines[1]
        assert "cid-acme-one" in lines[1] and "nowhere.ap.invoice" in lines[1]
        assert lines[-1] == "1 dead letter"

        out = io.StringIO()
        assert await anyio.to_thread.run_sync(
            dlq_list, url, {"partner": "initech"}, out) == 0
        assert out.getvalue() == "no dead letters match\n"

        out = io.StringIO()
        assert await anyio.to_thread.run_sync(dlq_list, url, {"type": "memo"}, out) == 1
        assert "400" in out.getvalue() and "type" in out.getvalue()

        out = io.StringIO()
        code = await anyio.to_thread.run_sync(dlq_replay, url, {"partner": "acme"}, True, out)
        assert code == 0
        text = out.getvalue()
        assert text.startswith("dry run: nothing was published\n")
        assert '~ /lines/0/quantity/value: "2" → "3"' in text
        assert '+ /notes: "replayed"' in text
        assert text.endswith("1 selected: 1 would_replay\n")

        out = io.StringIO()
        code = await anyio.to_thread.run_sync(
            dlq_replay, url, {"seqs": [a]}, False, out)
        assert code == 0 and "replayed" in out.getvalue()
        tg.cancel_scope.cancel()

    out = io.StringIO()
    assert await anyio.to_thread.run_sync(dlq_list, url, {}, out) == 1
    assert "cannot reach" in out.getvalue()


# --- end to end with the real runtime -----------------------------------------------------


async def test_dead_letter_from_the_runtime_is_listed_dry_run_and_replayed_once(
    wharf: Runtime, partner_client: ClientFactory, tmp_path: Path
) -> None:
    terminated = await wharf.nc.subscribe(
        f"$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{subjects.IN_STREAM}.>"
    )
    bad = await partner_client("acme").post("/v1/invoices", content=invoice("INV-DLQ"),
                                             headers=JSON)
    assert bad.status_code == 202
    correlation_id = bad.json()["correlation_id"]
    await wait_for_trace(wharf, correlation_id, "dead_lettered", within=20)
    first_term = json.loads((await terminated.next_msg(timeout=10)).data)

    db = await Database.open(tmp_path / "dlq.db")
    try:
        replays = await ReplayLog.open(db)
        letters = DeadLetters(wharf.js, replays=replays,
                              error_class_of=error_class_from_traces(wharf.traces))
        registry = default_registry()
        decoder = CurrentDecoder(
            payloads=wharf.traces,
            partner_codecs=PartnerCodecs(registry, wharf.settings.policies.dir),
            registry=registry, partners=lambda: wharf.policies.current().partners,
        )
        audit = AuditRecorder()
        replayer = Replayer(wharf.js, letters, replays, transform=decoder, audit=audit)
        transport = httpx.ASGITransport(app=dlq_app(letters, replayer))
        async with httpx.AsyncClient(transport=transport, base_url="http://internal") as http:
            listed = (await http.get("/internal/v1/dlq", params={
                "partner": "acme", "type": "invoice", "error_class": "transient"})).json()
            assert len(listed) == 1
            [letter] = listed
            assert letter["correlation_id"] == correlation_id
            assert (letter["step"], letter["deliveries"]) == ("post", 3)
            assert letter["mailbox_seq"] == first_term["stream_seq"]
            assert "nowhere.ap.invoice" in letter["reason"]
            assert (await http.get("/internal/v1/dlq",
                                   params={"error_class": "permanent"})).json() == []

            dry = (await http.post("/internal/v1/dlq/replay",
                                   json={"seqs": [letter["seq"]]})).json()
            assert [(i["status"], i["diff"]) for i in dry["items"]] == [("would_replay", [])]
            assert await inbound_count(wharf.js, "wharf.in.acme.invoice") == 1

            async def replay() -> list[str]:
                body = {"partner": "acme", "type": "invoice", "dry_run": False}
                answer = await http.post("/internal/v1/dlq/replay", json=body)
                assert answer.status_code == 200, answer.text
                return [i["status"] for i in answer.json()["items"]]

            assert await replay() == ["replayed"]
            assert await replay() == ["already_replayed"]
        assert await inbound_count(wharf.js, "wharf.in.acme.invoice") == 2

        # The actor takes the republished document through the pipeline again: the target
        # still captures nothing, so it is retried and terminated (dead-lettered) once more.
        second_term = json.loads((await terminated.next_msg(timeout=20)).data)
        assert second_term["stream_seq"] > first_term["stream_seq"]
        assert second_term["deliveries"] == 3
        assert await inbound_count(wharf.js, "wharf.in.acme.invoice") == 2
        assert [r["outcome"] for r in audit.records] == ["dry_run", "completed", "completed"]
        await terminated.unsubscribe()
    finally:
        await db.aclose()


def test_parked_round_trips_as_json() -> None:
    letter = DeadLetter(seq=1, partner="acme", doc_type="invoice", correlation_id="c",
                        reason="r", step="post", deliveries=3, time=dt.datetime.now(dt.UTC),
                        error_class=None)
    parked = Parked(letter=letter, headers={"a": "b"}, body=b"{}")
    assert msgspec.json.decode(msgspec.json.encode(parked), type=Parked) == parked
