"""Dead letters: reading ``WHARF_DLQ`` and replaying parked documents into their mailbox.

A dead letter is the mailbox message exactly as the supplier actor parked it (see
:meth:`~wharf.actors.supplier.SupplierActor._dead_letter`): the canonical JSON body and every
mailbox header, plus ``Wharf-Dlq-Reason``, ``-Step``, ``-Deliveries`` and ``-Stream-Seq``.

:class:`DeadLetters` lists them without scanning the whole stream: an ephemeral, headers-only
consumer filtered on ``wharf.dlq.<partner>`` that starts at ``since`` and stops at ``until``,
at ``limit`` matches or after ``scan_limit`` messages, whichever comes first.

:class:`Replayer` sends a selection back through the pipeline. A dry run re-transforms each
body through the *current* decode path and reports, per dead letter, a JSON diff against what
was parked, posting nothing. A real replay republishes the re-transformed body to
``wharf.in.<partner>.<doctype>`` under the original correlation id, so the posted-effects
ledger skips every target reached before, with ``Nats-Msg-Id`` = ``replay:<cid>:<dlq seq>``:
asking twice within the duplicate window publishes once, and the ``dlq_replays`` table makes
that hold after the window too. Real replays are paced by a token bucket; every batch (dry
run or not, completed or interrupted) is audited.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

import anyio
import msgspec
import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from wharf.broker import subjects
from wharf.broker.subjects import Header
from wharf.errors import DocumentError, WharfError
from wharf.model import DocType, encode_document
from wharf.policies.model import Format

if TYPE_CHECKING:
    import builtins

    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

    from wharf.codecs.registry import CodecRegistry, PartnerCodecs
    from wharf.observability.tracestore import Payload, Trace
    from wharf.policies import Partner
    from wharf.storage import Database

__all__ = (
    "ERROR_CLASS_HEADER",
    "REPLAY_OF_HEADER",
    "Change",
    "CurrentDecoder",
    "DeadLetter",
    "DeadLetters",
    "ErrorClass",
    "Parked",
    "ReplayAudit",
    "ReplayItem",
    "ReplayLog",
    "ReplayReport",
    "Replayer",
    "Selection",
    "TokenBucket",
    "Transform",
    "error_class_from_traces",
    "json_diff",
)

log = logging.getLogger(__name__)

ErrorClass = Literal["transient", "permanent"]
ERROR_CLASS_HEADER = "Wharf-Dlq-Error-Class"
"""Read when present (the actor may add it); otherwise the class comes from the trace."""
REPLAY_OF_HEADER = "Wharf-Replay-Of"
"""On a republished document: the ``WHARF_DLQ`` sequence it was replayed from."""

_DLQ_HEADERS = frozenset({
    Header.MSG_ID, Header.DLQ_REASON, Header.DLQ_STEP, Header.DLQ_DELIVERIES,
    Header.DLQ_STREAM_SEQ, ERROR_CLASS_HEADER,
})
_ERROR_CLASSES: frozenset[str] = frozenset({"transient", "permanent"})
_MICROSECOND = dt.timedelta(microseconds=1)
_PARTNER_TOKEN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One parked document, as operators see it (the body is fetched only to replay it)."""

    seq: int
    """Sequence in ``WHARF_DLQ``."""
    partner: str
    doc_type: str | None
    correlation_id: str | None
    reason: str
    step: str | None
    deliveries: int | None
    time: dt.datetime
    """When it was parked (the stream's timestamp)."""
    error_class: ErrorClass | None
    mailbox_seq: int | None = None
    """Sequence of the original in ``WHARF_IN``."""
    source_format: str | None = None
    source: str | None = None
    idempotency_key: str | None = None
    replayed_at: dt.datetime | None = None


class Parked(msgspec.Struct, frozen=True, kw_only=True):
    """A dead letter with its headers and body, as stored."""

    letter: DeadLetter
    headers: dict[str, str]
    body: bytes


class Selection(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Which dead letters: every given filter must match; ``seqs`` picks by sequence."""

    partner: str | None = None
    doc_type: DocType | None = None
    error_class: ErrorClass | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    seqs: tuple[int, ...] | None = None
    limit: int = 100


class Change(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One difference between two JSON values, at an RFC 6901 pointer."""

    op: Literal["changed", "added", "removed"]
    pointer: str
    old: Any = msgspec.UNSET
    new: Any = msgspec.UNSET


ReplayStatus = Literal[
    "would_replay", "would_fail", "replayed", "duplicate", "already_replayed", "failed",
    "skipped",
]


class ReplayItem(msgspec.Struct, frozen=True, kw_only=True):
    """What happened (or, in a dry run, would happen) to one dead letter.

    ``would_replay`` / ``replayed``: (re)published; ``duplicate``: JetStream had this replay
    already; ``already_replayed``: the replay log has it, not published again;
    ``would_fail`` / ``failed``: the current decode path rejects it (``error``, ``pointer``),
    not published; ``skipped``: it lacks the headers to route it.
    """

    seq: int
    partner: str
    doc_type: str | None
    correlation_id: str | None
    status: ReplayStatus
    diff: list[Change] = msgspec.field(default_factory=list)
    diff_truncated: bool = False
    error: str | None = None
    pointer: str | None = None
    msg_id: str | None = None
    inbound_seq: int | None = None
    replayed_at: dt.datetime | None = None


class ReplayReport(msgspec.Struct, frozen=True, kw_only=True):
    dry_run: bool
    selected: int
    counts: dict[str, int]
    items: list[ReplayItem]
    missing: list[int] = msgspec.field(default_factory=list)
    """Requested sequences that are not (or no longer) in the stream."""


Transform = Callable[[DeadLetter, bytes], Awaitable["bytes | DocumentError"]]
"""Given a dead letter and its stored body: the canonical JSON to replay, or why not."""

ErrorClassLookup = Callable[[str], Awaitable["ErrorClass | None"]]
"""Correlation id → the class of the document's last failure, if known."""


class ReplayAudit(Protocol):
    """Records a replay batch; :meth:`AuditLog.record` fits once ``dlq_replay`` is a kind."""

    async def __call__(
        self, kind: Literal["dlq_replay"], /, *, outcome: str, partner: str | None = ...,
        actor: str | None = ..., detail: Mapping[str, object] | None = ...,
    ) -> object: ...


# --- JSON diff ----------------------------------------------------------------------------


def _token(key: object) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _same(a: object, b: object) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, numbers) and isinstance(b, numbers):
        return a == b
    return type(a) is type(b) and a == b


def json_diff(old: object, new: object, *, limit: int = 200) -> tuple[list[Change], bool]:
    """The changes from ``old`` to ``new`` (at most ``limit``) and whether there were more."""
    changes: list[Change] = []
    truncated = False

    def add(change: Change) -> None:
        nonlocal truncated
        if len(changes) < limit:
            changes.append(change)
        else:
            truncated = True

    def walk(a: object, b: object, pointer: str) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            for key, value in a.items():
                here = f"{pointer}/{_token(key)}"
                if key in b:
                    walk(value, b[key], here)
                else:
                    add(Change(op="removed", pointer=here, old=value))
            for key, value in b.items():
                if key not in a:
                    add(Change(op="added", pointer=f"{pointer}/{_token(key)}", new=value))
        elif isinstance(a, list) and isinstance(b, list):
            common = min(len(a), len(b))
            for index in range(common):
                walk(a[index], b[index], f"{pointer}/{index}")
            for index in range(common, len(a)):
                add(Change(op="removed", pointer=f"{pointer}/{index}", old=a[index]))
            for index in range(common, len(b)):
                add(Change(op="added", pointer=f"{pointer}/{index}", new=b[index]))
        elif not _same(a, b):
            add(Change(op="changed", pointer=pointer, old=a, new=b))

    walk(old, new, "")
    return changes, truncated


def _json_or_text(body: bytes) -> object:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body.decode("utf-8", "replace")


# --- pacing -------------------------------------------------------------------------------


class TokenBucket:
    """At most ``rate`` acquisitions per second, ``burst`` of them back to back."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._last = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now

    async def acquire(self) -> None:
        self._refill()
        while self._tokens < 1:
            await self._sleep((1 - self._tokens) / self._rate)
            self._refill()
        self._tokens -= 1


# --- the replay log -----------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS dlq_replays (
    dlq_seq INTEGER NOT NULL,
    msg_id TEXT NOT NULL,
    correlation_id TEXT,
    partner TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    inbound_seq INTEGER,
    replayed_at TEXT NOT NULL,
    actor TEXT,
    PRIMARY KEY (dlq_seq, msg_id)
);
"""


def _replay_msg_id(letter: DeadLetter) -> str:
    return f"replay:{letter.correlation_id}:{letter.seq}"


class ReplayLog:
    """Which dead letters were republished, and when (table ``dlq_replays``).

    Keyed by the dead letter's sequence *and* its replay message id, so a recreated stream
    whose sequences start over does not inherit old records.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    async def open(cls, db: Database) -> ReplayLog:
        await db.migrate(SCHEMA)
        return cls(db)

    async def replayed(self, letters: Sequence[DeadLetter]) -> dict[int, dt.datetime]:
        """Dead letter sequence → when it was replayed, for those of ``letters`` that were."""
        found: dict[int, dt.datetime] = {}
        wanted = {(letter.seq, _replay_msg_id(letter)) for letter in letters}
        seqs = sorted({seq for seq, _ in wanted})
        for start in range(0, len(seqs), 500):
            chunk = seqs[start:start + 500]
            rows = await self._db.fetchall(
                "SELECT dlq_seq, msg_id, replayed_at FROM dlq_replays "
                f"WHERE dlq_seq IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for seq, msg_id, at in rows:
                if (seq, msg_id) in wanted:
                    found[int(seq)] = dt.datetime.fromisoformat(at)
        return found

    async def record(
        self, letter: DeadLetter, *, inbound_seq: int | None, at: dt.datetime, actor: str | None
    ) -> None:
        await self._db.execute(
            "INSERT OR IGNORE INTO dlq_replays VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (letter.seq, _replay_msg_id(letter), letter.correlation_id, letter.partner,
             letter.doc_type or "", inbound_seq, at.isoformat(), actor),
        )


# --- reading the stream -------------------------------------------------------------------


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _letter(subject: str, seq: int, when: dt.datetime, headers: Mapping[str, str]) -> DeadLetter:
    declared = headers.get(ERROR_CLASS_HEADER)
    step = headers.get(Header.DLQ_STEP) or None
    error_class: ErrorClass | None = None
    if declared in _ERROR_CLASSES:
        error_class = declared  # type: ignore[assignment]  # checked just above
    elif step == "receive":
        error_class = "permanent"  # unreadable mailbox message: it can never succeed
    return DeadLetter(
        seq=seq,
        partner=headers.get(Header.PARTNER) or subject.removeprefix("wharf.dlq."),
        doc_type=headers.get(Header.DOC_TYPE),
        correlation_id=headers.get(Header.CORRELATION_ID),
        reason=headers.get(Header.DLQ_REASON, ""),
        step=step,
        deliveries=_int(headers.get(Header.DLQ_DELIVERIES)),
        time=when if when.tzinfo else when.replace(tzinfo=dt.UTC),
        error_class=error_class,
        mailbox_seq=_int(headers.get(Header.DLQ_STREAM_SEQ)),
        source_format=headers.get(Header.SOURCE_FORMAT),
        source=headers.get(Header.SOURCE),
        idempotency_key=headers.get(Header.IDEMPOTENCY_KEY),
    )


class DeadLetters:
    """Reads ``WHARF_DLQ``. ``error_class_of`` completes the error class from the trace."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        replays: ReplayLog | None = None,
        error_class_of: ErrorClassLookup | None = None,
        scan_limit: int = 10_000,
        batch: int = 256,
        timeout: float = 5.0,
    ) -> None:
        self._js = js
        self._replays = replays
        self._error_class_of = error_class_of
        self._scan_limit = scan_limit
        self._batch = batch
        self._timeout = timeout

    async def list(
        self,
        partner: str | None = None,
        doc_type: DocType | None = None,
        error_class: ErrorClass | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[DeadLetter]:
        """Dead letters matching every given filter, oldest first, at most ``limit``."""
        selection = Selection(partner=partner, doc_type=doc_type, error_class=error_class,
                              since=since, until=until, limit=limit)
        return await self._scan(selection)

    async def select(self, selection: Selection) -> tuple[Sequence[DeadLetter], Sequence[int]]:
        """The dead letters a selection names, and the requested sequences not found."""
        if selection.seqs is None:
            return await self._scan(selection), []
        letters: list[DeadLetter] = []
        missing: list[int] = []
        for seq in sorted(set(selection.seqs)):
            parked = await self.fetch(seq)
            if parked is None:
                missing.append(seq)
            elif self._matches(parked.letter, selection):
                letters.append(parked.letter)
        return (await self._complete(letters, selection))[: selection.limit], missing

    async def fetch(self, seq: int) -> Parked | None:
        """The dead letter at ``seq`` with its headers and body (None if there is none)."""
        try:
            raw = await self._js.get_msg(subjects.DLQ_STREAM, seq=seq)
        except NotFoundError:
            return None
        if not raw.subject or not raw.subject.startswith("wharf.dlq."):
            return None
        headers = {str(k): str(v) for k, v in (raw.headers or {}).items()}
        when = raw.time or dt.datetime.now(dt.UTC)
        return Parked(letter=_letter(raw.subject, seq, when, headers), headers=headers,
                      body=raw.data or b"")

    @staticmethod
    def _matches(letter: DeadLetter, s: Selection) -> bool:
        return (
            (s.partner is None or letter.partner == s.partner)
            and (s.doc_type is None or letter.doc_type == s.doc_type)
            and (s.since is None or letter.time >= s.since)
            and (s.until is None or letter.time <= s.until)
            and (s.error_class is None or letter.error_class in (None, s.error_class))
        )

    async def _classified(self, letter: DeadLetter) -> DeadLetter:
        if letter.error_class is not None or self._error_class_of is None:
            return letter
        if letter.correlation_id is None:
            return letter
        found = await self._error_class_of(letter.correlation_id)
        return msgspec.structs.replace(letter, error_class=found) if found else letter

    async def _complete(
        self, letters: Sequence[DeadLetter], selection: Selection
    ) -> Sequence[DeadLetter]:
        """Add the error class (filtering on it) and when each was replayed."""
        done: list[DeadLetter] = []
        for letter in letters:
            letter = await self._classified(letter)
            if selection.error_class is None or letter.error_class == selection.error_class:
                done.append(letter)
        if self._replays is None or not done:
            return done
        replayed = await self._replays.replayed(done)
        return [
            msgspec.structs.replace(letter, replayed_at=replayed[letter.seq])
            if letter.seq in replayed else letter
            for letter in done
        ]

    async def _scan(self, selection: Selection) -> builtins.list[DeadLetter]:
        """Walk the (partner's) dead letters from ``since`` with a headers-only consumer."""
        if selection.partner is not None and not _PARTNER_TOKEN.match(selection.partner):
            raise ValueError(f"{selection.partner!r} is not a partner id")
        config = ConsumerConfig(
            name=f"dlq-scan-{secrets.token_hex(6)}",
            filter_subject=subjects.dlq(selection.partner or ">"),
            deliver_policy=(DeliverPolicy.BY_START_TIME if selection.since else DeliverPolicy.ALL),
            # Timestamps reach us rounded to the microsecond: start a microsecond early so a
            # letter rounded up to ``since`` is not skipped; the exact check is ``_matches``.
            opt_start_time=(selection.since - _MICROSECOND) if selection.since else None,
            ack_policy=AckPolicy.NONE,
            headers_only=True,
            inactive_threshold=30.0,
            mem_storage=True,
        )
        info = await self._js.add_consumer(subjects.DLQ_STREAM, config)
        found: list[DeadLetter] = []
        try:
            pending = info.num_pending or 0
            if pending == 0:
                return []
            sub = await self._js.pull_subscribe_bind(info.name, stream=subjects.DLQ_STREAM)
            try:
                scanned = 0
                while pending > 0 and scanned < self._scan_limit and len(found) < selection.limit:
                    want = min(self._batch, pending, self._scan_limit - scanned)
                    hits: list[DeadLetter] = []
                    try:
                        msgs = await sub.fetch(want, timeout=self._timeout)
                    except nats.errors.TimeoutError:
                        break  # the pending ones aged out meanwhile: nothing more to read
                    for msg in msgs:
                        scanned += 1
                        pending = msg.metadata.num_pending
                        letter = self._letter_of(msg)
                        if selection.until is not None and letter.time > selection.until:
                            pending = 0  # the stream is in time order: nothing later matches
                            break
                        if self._matches(letter, selection):
                            hits.append(letter)
                    found.extend(await self._complete(hits, selection))
            finally:
                with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                    await sub.unsubscribe()
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                try:
                    await self._js.delete_consumer(subjects.DLQ_STREAM, info.name)
                except Exception:  # the inactive threshold removes it anyway
                    log.debug("could not delete consumer %s", info.name, exc_info=True)
        return found[: selection.limit]

    @staticmethod
    def _letter_of(msg: Msg) -> DeadLetter:
        meta = msg.metadata
        headers = {str(k): str(v) for k, v in (msg.headers or {}).items()}
        return _letter(msg.subject, meta.sequence.stream, meta.timestamp, headers)


# --- replaying ----------------------------------------------------------------------------

_DOC_TYPES: frozenset[str] = frozenset(get_args(DocType))
_FORMATS: frozenset[str] = frozenset(get_args(Format))


class Replayer:
    """Replays selections of dead letters (see the module docstring for the guarantees)."""

    def __init__(
        self,
        js: JetStreamContext,
        letters: DeadLetters,
        replays: ReplayLog,
        *,
        transform: Transform | None = None,
        throttle_per_second: float = 20.0,
        audit: ReplayAudit | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        timeout: float = 10.0,
        max_changes: int = 200,
    ) -> None:
        self._js = js
        self._letters = letters
        self._replays = replays
        self._transform = transform
        self._audit = audit
        self._now = now
        self._timeout = timeout
        self._max_changes = max_changes
        self._rate = throttle_per_second
        # One bucket for the process: two bulk replays at once share the rate.
        self._bucket = TokenBucket(throttle_per_second, clock=clock, sleep=sleep)

    async def replay(
        self, selection: Selection, *, dry_run: bool, actor: str | None = None
    ) -> ReplayReport:
        """Dry-run or replay the selected dead letters, oldest first; audit the batch."""
        letters, missing = await self._letters.select(selection)
        gone: list[int] = []
        items: list[ReplayItem] = []
        outcome = "interrupted"
        try:
            for letter in letters:
                stored = await self._letters.fetch(letter.seq)  # one body in memory at a time
                if stored is None:
                    gone.append(letter.seq)  # aged out of the stream since it was listed
                    continue
                items.append(await self._one(letter, stored, dry_run=dry_run, actor=actor))
            outcome = "dry_run" if dry_run else "completed"
        finally:
            report = self._report(dry_run, len(letters), items, [*missing, *gone])
            if self._audit is not None:
                with anyio.CancelScope(shield=True):
                    await self._audit(
                        "dlq_replay", outcome=outcome, partner=selection.partner, actor=actor,
                        detail={
                            "dry_run": dry_run,
                            "selection": msgspec.to_builtins(selection),
                            "throttle_per_second": self._rate,
                            "counts": report.counts,
                            "seqs": [item.seq for item in items],
                        },
                    )
        return report

    @staticmethod
    def _report(
        dry_run: bool, selected: int, items: list[ReplayItem], missing: list[int]
    ) -> ReplayReport:
        counts: dict[str, int] = {}
        for item in items:
            counts[item.status] = counts.get(item.status, 0) + 1
        return ReplayReport(dry_run=dry_run, selected=selected, counts=counts, items=items,
                            missing=sorted(missing))

    async def _one(
        self, letter: DeadLetter, stored: Parked, *, dry_run: bool, actor: str | None
    ) -> ReplayItem:
        def item(status: ReplayStatus, **fields: Any) -> ReplayItem:
            return ReplayItem(seq=letter.seq, partner=letter.partner, doc_type=letter.doc_type,
                              correlation_id=letter.correlation_id, status=status,
                              replayed_at=letter.replayed_at, **fields)

        if (letter.doc_type not in _DOC_TYPES or not letter.correlation_id
                or not _PARTNER_TOKEN.match(letter.partner)):
            return item("skipped", error="not replayable: no usable Wharf-Partner, "
                                         "Wharf-Doc-Type or Wharf-Correlation-Id header")
        origin = stored.headers.get(_ORIGIN_HEADER, "")
        if origin.startswith("wharf.out."):
            # A PO on its way *to* the partner: it goes back to its outbound subject as it was
            # (not through the inbound codecs, and never into the partner's mailbox).
            return await self._outbound(letter, stored, origin, dry_run=dry_run, actor=actor,
                                        item=item)
        try:
            result = (await self._transform(letter, stored.body) if self._transform is not None
                      else stored.body)
        except WharfError as exc:
            result = DocumentError(str(exc))
        if isinstance(result, DocumentError):
            return item("would_fail" if dry_run else "failed", error=result.detail,
                        pointer=result.pointer)
        diff, truncated = json_diff(_json_or_text(stored.body), _json_or_text(result),
                                    limit=self._max_changes)
        msg_id = _replay_msg_id(letter)
        fields: dict[str, Any] = {"diff": diff, "diff_truncated": truncated, "msg_id": msg_id}
        if letter.replayed_at is not None:
            return item("already_replayed", **fields)
        if dry_run:
            return item("would_replay", **fields)
        await self._bucket.acquire()
        headers = {k: v for k, v in stored.headers.items()
                   if k not in _DLQ_HEADERS and not k.startswith("Nats-")}
        headers.update({
            Header.MSG_ID: msg_id,
            REPLAY_OF_HEADER: str(letter.seq),
            Header.FORMAT: "json",
            Header.CONTENT_TYPE: "application/json",
        })
        assert letter.doc_type is not None
        ack = await self._js.publish(
            subjects.inbound(letter.partner, letter.doc_type), result, timeout=self._timeout,
            stream=subjects.IN_STREAM, headers=headers,
        )
        at = self._now()
        await self._replays.record(letter, inbound_seq=ack.seq, at=at, actor=actor)
        log.info("replayed dead letter %s (%s) as %s seq %s%s", letter.seq, letter.correlation_id,
                 subjects.inbound(letter.partner, letter.doc_type), ack.seq,
                 " (duplicate)" if ack.duplicate else "")
        fields["inbound_seq"] = ack.seq
        return msgspec.structs.replace(
            item("duplicate" if ack.duplicate else "replayed", **fields), replayed_at=at
        )

    async def _outbound(
        self, letter: DeadLetter, stored: Parked, origin: str, *, dry_run: bool,
        actor: str | None, item: Callable[..., ReplayItem],
    ) -> ReplayItem:
        msg_id = _replay_msg_id(letter)
        fields: dict[str, Any] = {"diff": [], "diff_truncated": False, "msg_id": msg_id}
        if letter.replayed_at is not None:
            return item("already_replayed", **fields)
        if dry_run:
            return item("would_replay", **fields)
        await self._bucket.acquire()
        headers = {k: v for k, v in stored.headers.items()
                   if k not in _DLQ_HEADERS and k != _ORIGIN_HEADER and not k.startswith("Nats-")}
        headers.update({Header.MSG_ID: msg_id, REPLAY_OF_HEADER: str(letter.seq)})
        ack = await self._js.publish(origin, stored.body, timeout=self._timeout,
                                     stream=subjects.OUT_STREAM, headers=headers)
        at = self._now()
        await self._replays.record(letter, inbound_seq=ack.seq, at=at, actor=actor)
        log.info("replayed outbound dead letter %s to %s seq %s", letter.seq, origin, ack.seq)
        fields["inbound_seq"] = ack.seq
        return msgspec.structs.replace(
            item("duplicate" if ack.duplicate else "replayed", **fields), replayed_at=at
        )


# --- pieces the composition root wires ----------------------------------------------------

_ORIGIN_HEADER = "Wharf-Dlq-Origin"  # set by the outbound actor (outbound.DLQ_ORIGIN)


class PayloadSource(Protocol):
    """What the partner sent, by correlation id (:class:`TraceStore` is one)."""

    async def payload(self, correlation_id: str) -> Payload | None: ...


class TraceSource(Protocol):
    async def get(self, correlation_id: str) -> Trace | None: ...


def error_class_from_traces(traces: TraceSource) -> ErrorClassLookup:
    """An ``error_class_of`` for :class:`DeadLetters`: the class of the last ``failed`` event."""

    async def lookup(correlation_id: str) -> ErrorClass | None:
        trace = await traces.get(correlation_id)
        for entry in reversed(trace.events if trace else []):
            if entry.event == "failed" and entry.error_class == "transient":
                return "transient"
            if entry.event == "failed" and entry.error_class == "permanent":
                return "permanent"
        return None

    return lookup


def _index_of(letter: DeadLetter) -> int:
    """The document's position in its request, from the ``<key>#<n>`` idempotency key."""
    key = letter.idempotency_key or ""
    _, sep, suffix = key.rpartition("#")
    return int(suffix) if sep and suffix.isdigit() else 0


class CurrentDecoder:
    """A :data:`Transform`: decode the dead letter again the way the gateway would today.

    When the partner's original bytes are still in the trace store, they go through the
    partner's *current* codec (its mapping file or X12 overrides as they are now) and the
    part the dead letter came from is picked (by ``Wharf-Source``, else by the ``#n`` of its
    idempotency key). Otherwise the stored canonical JSON is decoded against the current
    canonical model.
    """

    def __init__(
        self,
        *,
        payloads: PayloadSource,
        partner_codecs: PartnerCodecs,
        registry: CodecRegistry,
        partners: Callable[[], Mapping[str, Partner]],
    ) -> None:
        self._payloads = payloads
        self._partner_codecs = partner_codecs
        self._registry = registry
        self._partners = partners

    async def __call__(self, letter: DeadLetter, body: bytes) -> bytes | DocumentError:
        doc_type: DocType | None = (
            letter.doc_type if letter.doc_type in _DOC_TYPES else None  # type: ignore[assignment]
        )
        payload = (await self._payloads.payload(letter.correlation_id)
                   if letter.correlation_id else None)
        partner = self._partners().get(letter.partner)
        fmt = letter.source_format
        try:
            if payload is None or partner is None or fmt not in _FORMATS:
                parts = self._registry.get("json").decode(body, doc_type=doc_type).parts
                part = parts[0] if parts else None
            else:
                codec = self._partner_codecs.get(partner, fmt)  # type: ignore[arg-type]
                parts = codec.decode(payload.raw, doc_type=doc_type).parts
                part = next((p for p in parts if letter.source and p.where == letter.source),
                            None)
                if part is None and _index_of(letter) < len(parts):
                    part = parts[_index_of(letter)]
        except DocumentError as exc:
            return exc
        except (WharfError, OSError) as exc:  # a mapping file gone or broken
            return DocumentError(f"cannot decode with the current codec: {exc}")
        if part is None:
            return DocumentError("the partner's body no longer yields this document")
        if part.error is not None:
            return part.error
        assert part.document is not None
        return encode_document(part.document)
