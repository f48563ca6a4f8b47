"""Actor throughput: ship notices/s from the partners' mailboxes to a posted document.

Writes P partner policies (``p000``, ``p001``, ...: JSON only, ``validation = "document"``,
``ship_notice`` routed to ``wms.receipts.expected``) into a temp dir and starts a whole Wharf
there (embedded nats-server, keys, store, audit log): its supervisors start one inbound and one
outbound actor per partner, and the time from ``run`` to ready is reported. Then D ship notices
per partner are published straight into the mailboxes (``wharf.in.<partner>.ship_notice`` on
WHARF_IN) with the headers ``Intake.submit`` sets (no HTTP, no ``received`` event), round robin
over the partners, and the clock runs from the first publish until every document has been
posted to ``wms.receipts.expected`` (a core subscription counts the postings; WHARF_POST's
message count is checked afterwards). A dead letter stops the run.

The bare stack in the same run: the same bodies and headers published to a scratch stream,
then a raw nats-py pull consumer times ``fetch(100)`` + ``ack`` over all of them, and
``fetch(1)`` + ``ack_sync`` (the actors' own cadence: one at a time, acked synchronously);
three rounds of each with a fresh consumer, the median reported.
Everything runs in one Python process on one event loop, like a Wharf instance.

Usage: python bench/actors.py [DOCS_PER_PARTNER] [PARTNERS]   (defaults 20 × 250)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx
import msgspec
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from wharf.broker import subjects
from wharf.broker.subjects import Header
from wharf.gateway.intake import child_traceparent
from wharf.model import ShipNotice, decode_document, encode_document
from wharf.runtime import Runtime, run
from wharf.settings import load_settings

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "examples" / "ship-notice.json").read_bytes()
ROUTE = "wms.receipts.expected"
PUBLISHERS = 8
"""Concurrent publishers into the mailboxes (and into the scratch stream), like 8 clients."""
RAW_BATCH = 100
RAW_STREAM = "BENCH_RAW"
RAW_ROUNDS = 3
_NAMESPACE = uuid.UUID("6f0c2a8e-5b0e-4c59-9d0f-8a7e0c1d2b3a")  # as the gateway's intake

POLICY = """
name = "Bench partner {id}"
validation = "document"
formats = ["json"]
[[certificates]]
subject = "CN={id},O=Wharf dev PKI"
[routes]
ship_notice = ["{route}"]
"""


class BenchFailed(Exception):
    """A document was dead-lettered, or not posted in time, or an actor did not start."""


class Message(msgspec.Struct, frozen=True):
    """One mailbox entry as the gateway would publish it (``received_at`` set when sent)."""

    partner: str
    subject: str
    key: str
    body: bytes

    def headers(self) -> dict[str, str]:
        return {
            Header.MSG_ID: f"{self.partner}:{self.key}",
            Header.CORRELATION_ID: str(uuid.uuid5(_NAMESPACE, f"{self.partner}\x00{self.key}")),
            Header.PARTNER: self.partner,
            Header.DOC_TYPE: "ship_notice",
            Header.FORMAT: "json",
            Header.SOURCE_FORMAT: "json",
            Header.CONTENT_TYPE: "application/json",
            Header.IDEMPOTENCY_KEY: self.key,
            Header.RECEIVED_AT: dt.datetime.now(dt.UTC).isoformat(),
            Header.TRACEPARENT: child_traceparent(None),
        }


def messages(docs: int, partners: list[str]) -> list[Message]:
    """``docs`` ship notices per partner, each its own ASN number, round robin over partners."""
    example = decode_document(EXAMPLE)
    assert isinstance(example, ShipNotice)
    out = []
    for i in range(docs):
        for partner in partners:
            document = msgspec.structs.replace(
                example, document_id=f"ASN-{partner}-{i:05d}",
                supplier=msgspec.structs.replace(example.supplier, id=partner,
                                                 name=f"Bench partner {partner}"),
                orders=[msgspec.structs.replace(order, po_number=f"PO-{partner}-{i:05d}")
                        for order in example.orders],
            )
            out.append(Message(partner, subjects.inbound(partner, "ship_notice"),
                               f"bench-{i}", encode_document(document)))
    return out


async def publish_all(js: JetStreamContext, batch: list[Message], *, stream: str,
                      subject: str | None = None) -> None:
    """Publish ``batch`` with PubAck over PUBLISHERS concurrent tasks."""
    async def publisher(index: int) -> None:
        for m in batch[index::PUBLISHERS]:
            await js.publish(subject or m.subject, m.body, stream=stream, headers=m.headers())

    async with anyio.create_task_group() as tg:
        for index in range(PUBLISHERS):
            tg.start_soon(publisher, index)


def nats_server_cpu() -> float:
    """CPU seconds used so far by this process's nats-server child (0 if not found)."""
    ticks = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:]
        fields = rest.split()
        if name == "nats-server" and int(fields[1]) == os.getpid():
            return (int(fields[11]) + int(fields[12])) / ticks
    return 0.0


class Phase(msgspec.Struct, frozen=True):
    """Wall and CPU seconds (this process, its nats-server) of one measured phase."""

    wall: float
    python_cpu: float
    nats_cpu: float

    def report(self, n: int) -> dict[str, float]:
        return {
            "seconds": round(self.wall, 3), "per_s": round(n / self.wall),
            "python_cpu_ms_per_msg": round(self.python_cpu / n * 1e3, 3),
            "nats_server_cpu_ms_per_msg": round(self.nats_cpu / n * 1e3, 3),
        }


class Clock:
    """Started at construction; :meth:`stop` gives the :class:`Phase` so far."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self._cpu, self._nats = time.process_time(), nats_server_cpu()

    def stop(self) -> Phase:
        return Phase(time.perf_counter() - self.started, time.process_time() - self._cpu,
                     nats_server_cpu() - self._nats)


async def actors(runtime: Runtime, batch: list[Message]) -> tuple[Phase, float]:
    """Publish ``batch`` into the mailboxes; time until all are posted (and the publishing)."""
    total = len(batch)
    posted: set[str] = set()
    done = anyio.Event()
    dead: list[str] = []

    async def on_post(msg: Msg) -> None:
        posted.add((msg.headers or {})[Header.CORRELATION_ID])
        if len(posted) == total:
            done.set()

    async def on_dead(msg: Msg) -> None:
        dead.append((msg.headers or {}).get(Header.DLQ_REASON, "?"))
        done.set()

    nc = runtime.nc
    subs = [await nc.subscribe(ROUTE, cb=on_post), await nc.subscribe("wharf.dlq.>", cb=on_dead)]
    await nc.flush()
    clock = Clock()
    await publish_all(runtime.js, batch, stream=subjects.IN_STREAM)
    published = time.perf_counter() - clock.started
    deadline = max(120.0, total / 20)
    with anyio.move_on_after(deadline):
        await done.wait()
    elapsed = clock.stop()
    for sub in subs:
        await sub.unsubscribe()
    if dead or len(posted) < total:
        why = f"dead letter: {dead[0]}" if dead else f"not all posted within {deadline:.0f} s"
        raise BenchFailed(f"{len(posted)} of {total} posted; {why}")
    info = await runtime.js.stream_info(subjects.POST_STREAM)
    if info.state.messages != total:
        raise BenchFailed(f"WHARF_POST holds {info.state.messages} messages, expected {total}")
    return elapsed, published


async def fetch_ack(js: JetStreamContext, nc: Client, durable: str, total: int, *,
                    batch: int, sync: bool) -> Phase:
    """Time a fresh pull consumer taking all ``total`` messages of the scratch stream."""
    await js.add_consumer(RAW_STREAM, ConsumerConfig(
        durable_name=durable, ack_policy=AckPolicy.EXPLICIT, max_ack_pending=-1))
    sub = await js.pull_subscribe_bind(durable, RAW_STREAM)
    try:
        clock, seen = Clock(), 0
        while seen < total:
            for msg in await sub.fetch(batch, timeout=5.0):
                if sync:
                    await msg.ack_sync()
                else:
                    await msg.ack()
                seen += 1
        await nc.flush()  # the last acks are on the wire
        return clock.stop()
    finally:
        await sub.unsubscribe()


async def raw(nc: Client, js: JetStreamContext, batch: list[Message]) -> dict[str, dict[str, float]]:
    """The bare stack: fetch+ack of the same messages from a scratch stream, two ways, each
    RAW_ROUNDS times (a round is short, so one round is at the mercy of the scheduler)."""
    total = len(batch)
    await js.add_stream(StreamConfig(name=RAW_STREAM, subjects=["bench.raw.>"],
                                     storage=StorageType.FILE))
    try:
        await publish_all(js, batch, stream=RAW_STREAM, subject="bench.raw.ship_notice")
        results = {}
        for label, size, sync in (
            (f"fetch_{RAW_BATCH}_ack", RAW_BATCH, False),
            ("fetch_1_ack_sync", 1, True),
        ):
            phases = sorted(
                [await fetch_ack(js, nc, f"bench-{size}-{round_}", total, batch=size, sync=sync)
                 for round_ in range(RAW_ROUNDS)],
                key=lambda phase: phase.wall,
            )
            results[label] = {**phases[len(phases) // 2].report(total),  # the median round
                              "per_s_slowest": round(total / phases[-1].wall),
                              "per_s_fastest": round(total / phases[0].wall)}
        return results
    finally:
        await js.delete_stream(RAW_STREAM)


def machine() -> str:
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return (f"{platform.machine()} {os.cpu_count()} cores, {round(int(memory) / 2**20)} GiB, "
            f"Python {platform.python_version()}")


async def measure(tmp: Path, docs: int, count: int) -> dict[str, object]:
    partners = [f"p{i:03d}" for i in range(count)]
    (tmp / "policies").mkdir()
    for partner in partners:
        (tmp / "policies" / f"{partner}.toml").write_text(POLICY.format(id=partner, route=ROUTE))
    settings = load_settings(environ={
        "WHARF_NATS__EMBEDDED__PORT": "0", "WHARF_NATS__EMBEDDED__STORE_DIR": str(tmp / "nats"),
        "WHARF_GATEWAY__PARTNER__PORT": "0", "WHARF_GATEWAY__INTERNAL__PORT": "0",
        "WHARF_PKI__DIR": str(tmp / "pki"), "WHARF_STORAGE__DATABASE": str(tmp / "wharf.db"),
        "WHARF_POLICIES__DIR": str(tmp / "policies"),
        "WHARF_OAUTH__SIGNING__DIR": str(tmp / "keys" / "signing"),
        "WHARF_SEALING__KEY_FILE": str(tmp / "keys" / "storage"),
        "WHARF_AUDIT__PATH": str(tmp / "audit.jsonl"), "WHARF_LOG_LEVEL": "warning",
    })
    batch = messages(docs, partners)
    async with anyio.create_task_group() as tg:
        start = time.perf_counter()
        runtime: Runtime = await tg.start(run, settings)
        startup = time.perf_counter() - start
        if runtime.supervisor.running != set(partners):
            raise BenchFailed(f"{len(runtime.supervisor.running)} of {count} actors running")
        async with httpx.AsyncClient(base_url=runtime.internal_url) as client:
            ready = (await client.get("/readyz")).status_code
        version = runtime.nc.connected_server_version
        server = f"{version.major}.{version.minor}.{version.patch}"
        actor_clock, published = await actors(runtime, batch)
        bare = await raw(runtime.nc, runtime.js, batch)
        runtime.stop.set()
    total = len(batch)
    actor = actor_clock.report(total)
    fetch = bare[f"fetch_{RAW_BATCH}_ack"]
    return {
        "machine": f"{machine()}, nats-server {server} (embedded), loopback",
        "docs": total, "partners": count, "docs_per_partner": docs,
        "startup_to_ready_s": round(startup, 2), "readyz_status_after_start": ready,
        "actor_docs_per_s": actor["per_s"], "actor": actor,
        "actor_publish_into_mailboxes_s": round(published, 3),
        f"raw_fetch_{RAW_BATCH}_ack_msgs_per_s": fetch["per_s"],
        "raw_fetch_1_ack_sync_msgs_per_s": bare["fetch_1_ack_sync"]["per_s"],
        "raw": bare,
        "ratio_actor_to_raw_fetch_ack": round(actor["per_s"] / fetch["per_s"], 4),
        "ratio_actor_to_raw_fetch_1_ack_sync": round(
            actor["per_s"] / bare["fetch_1_ack_sync"]["per_s"], 3),
    }


async def main(docs: int, count: int) -> None:
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="wharf-bench-", ignore_cleanup_errors=True) as tmp:
        try:
            result = await measure(Path(tmp), docs, count)
        except* BenchFailed as failed:
            raise SystemExit(f"bench/actors.py: {failed.exceptions[0]}") from None
    result["load_average_1m"] = {"start": round(load_start, 2),
                                 "end": round(os.getloadavg()[0], 2)}
    print(json.dumps(result, indent=2))  # noqa: T201  (a benchmark reports on stdout)


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 20,
              int(sys.argv[2]) if len(sys.argv) > 2 else 250, backend="asyncio")
