"""The buyer exception queue: documents parked outside tolerance until a person decides.

When validation finds ``exception``-severity issues the pipeline parks the document here
instead of posting it: :meth:`ExceptionQueue.open_exception` stores everything needed to
carry on later *without re-running earlier steps* — the canonical document as validated,
the step to resume from, the partner, document type, correlation id, the document's
reference in the posted-effects ledger (``document_ref``, e.g. ``<correlation>#1`` for the
second document of an interchange), the traceparent and the source format (for a rejection
in the partner's own format). Opening is idempotent per (partner, document_ref,
resume_step): a redelivered document finds its exception instead of opening a second one.

A buyer resolves it (:meth:`ExceptionQueue.resolve`):

=========== =============================================================================
action      what the pipeline must do next (:class:`Resolution.next`)
=========== =============================================================================
approve     ``resume`` at ``resume_step`` with the document as it was
correct     ``resume`` at ``resume_step`` with the buyer's corrected document (decoded and
            type-checked here; it replaces the original)
reject      ``reject_to_supplier`` with the issues and the buyer's note (``none`` for a
            document that came from the ERP, which has no supplier to answer)
=========== =============================================================================

Resolving is idempotent: the same decision again returns the same answer marked
``repeated=True`` (never a second resume); a different decision on a resolved exception is
a :class:`ResolutionConflict`. The decision and the hand-off are separate so a crash cannot
lose a resume: the pipeline acts on the answer, then calls
:meth:`~ExceptionQueue.mark_dispatched`; at start it re-dispatches
:meth:`~ExceptionQueue.undispatched` (publishing with ``exc:<id>`` as the idempotency key,
so the repeat is harmless). Every step is in the exception's audit trail.

At rest (:mod:`wharf.business.vault`) the PO number, the issues, the documents and every note
are sealed, bound to their row; ``po_key`` holds the PO number's pseudonym.

Exception tree (all under :class:`wharf.errors.WharfError`)::

    ExceptionQueueError
    ├── UnknownException     no exception with that id (HTTP 404)
    ├── ResolutionConflict   already resolved differently (HTTP 409)
    └── InvalidCorrection    the corrected document does not decode (HTTP 422, pointer)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, get_args

import msgspec

from wharf.business.issues import ValidationIssue
from wharf.business.vault import Vault
from wharf.errors import WharfError
from wharf.model import DocType, decode_document, encode_document
from wharf.model.common import Canonical
from wharf.pointers import locate

if TYPE_CHECKING:
    import builtins
    from collections.abc import Sequence

    import aiosqlite

    from wharf.security.sealing import Sealer
    from wharf.storage import Database

__all__ = (
    "AuditEntry",
    "ExceptionQueue",
    "ExceptionQueueError",
    "ExceptionRecord",
    "ExceptionStatus",
    "InvalidCorrection",
    "NextStep",
    "Resolution",
    "ResolutionConflict",
    "ResolveAction",
    "UnknownException",
)

ExceptionStatus = Literal["open", "approved", "rejected", "corrected"]
ResolveAction = Literal["approve", "reject", "correct"]
NextStep = Literal["resume", "reject_to_supplier", "none"]

_STATUS_OF: dict[str, ExceptionStatus] = {"approve": "approved", "reject": "rejected",
                                          "correct": "corrected"}
_ACTIONS: dict[str, ResolveAction] = {action: action for action in get_args(ResolveAction)}


class ExceptionQueueError(WharfError):
    """Raised when an exception cannot be found or resolved as asked."""


class UnknownException(ExceptionQueueError):
    """Raised for an exception id that does not exist."""

    def __init__(self, exception_id: int) -> None:
        super().__init__(f"no exception {exception_id}")
        self.exception_id = exception_id


class ResolutionConflict(ExceptionQueueError):
    """Raised when an exception already resolved one way is resolved another way."""

    def __init__(self, exception_id: int, status: str, action: str) -> None:
        super().__init__(f"exception {exception_id} is already {status}; cannot {action} it")
        self.exception_id, self.status, self.action = exception_id, status, action


class InvalidCorrection(ExceptionQueueError):
    """Raised when a corrected document is missing, unexpected, or does not decode."""

    def __init__(self, message: str, *, pointer: str | None = None) -> None:
        super().__init__(message)
        self.detail, self.pointer = message, pointer


class _Struct(Canonical):
    """Frozen, keyword-only, compact: the canonical model's base, for our records too."""


class ExceptionRecord(_Struct, frozen=True):
    """A parked document, why it was parked, and (once resolved) the decision."""

    id: int
    partner: str
    doc_type: DocType
    correlation_id: str
    document_ref: str
    po_number: str | None = None
    status: ExceptionStatus
    kinds: tuple[str, ...]
    issues: tuple[ValidationIssue, ...]
    resume_step: str
    document_json: str
    traceparent: str | None = None
    source_format: str | None = None
    opened_at: datetime
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    note: str | None = None
    corrected_json: str | None = None
    dispatched_at: datetime | None = None


class Resolution(_Struct, frozen=True):
    """What the pipeline must do after a buyer's decision (see the module docstring)."""

    exception_id: int
    action: ResolveAction
    next: NextStep
    partner: str
    doc_type: DocType
    correlation_id: str
    document_ref: str
    by: str
    resume_step: str | None = None
    document_json: str | None = None
    """For ``resume``: the document to carry on with (the corrected one after ``correct``)."""
    issues: tuple[ValidationIssue, ...] = ()
    """For ``reject_to_supplier``: why, to put in the partner's rejection."""
    note: str | None = None
    traceparent: str | None = None
    source_format: str | None = None
    repeated: bool = False
    """True when this decision had already been made: do not act on it again."""


class AuditEntry(_Struct, frozen=True):
    id: int
    exception_id: int
    at: datetime
    actor: str
    action: str
    note: str | None = None


SCHEMA = """
CREATE TABLE IF NOT EXISTS exc_exceptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    partner TEXT NOT NULL, doc_type TEXT NOT NULL, correlation_id TEXT NOT NULL,
    document_ref TEXT NOT NULL, po_key TEXT, po_number BLOB, status TEXT NOT NULL,
    kinds TEXT NOT NULL, issues BLOB NOT NULL, resume_step TEXT NOT NULL,
    document_json BLOB NOT NULL, traceparent TEXT, source_format TEXT, opened_at TEXT NOT NULL,
    resolved_at TEXT, resolved_by TEXT, note BLOB, action TEXT, corrected_json BLOB,
    dispatched_at TEXT,
    UNIQUE (partner, document_ref, resume_step)
);
CREATE INDEX IF NOT EXISTS exc_exceptions_status ON exc_exceptions (status, partner, doc_type);
CREATE INDEX IF NOT EXISTS exc_exceptions_po ON exc_exceptions (po_key);
CREATE TABLE IF NOT EXISTS exc_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    exception_id INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, note BLOB
);
CREATE INDEX IF NOT EXISTS exc_audit_exception ON exc_audit (exception_id);
"""

_COLUMNS = ("id", "partner", "doc_type", "correlation_id", "document_ref", "po_number",
            "status", "kinds", "issues", "resume_step", "document_json", "traceparent",
            "source_format", "opened_at", "resolved_at", "resolved_by", "note",
            "corrected_json", "dispatched_at", "action")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM exc_exceptions"
_SEALED = ("po_number", "issues", "document_json", "note", "corrected_json")
"""Columns sealed with the context ``_at(partner, document_ref, resume_step, column)``."""
_ISSUES = msgspec.json.Decoder(tuple[ValidationIssue, ...])
_ENCODER = msgspec.json.Encoder(decimal_format="string")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _at(partner: object, document_ref: object, resume_step: object, column: str
        ) -> tuple[str, ...]:
    """Where a sealed value belongs: the exception's unique key and the column."""
    return ("exc_exceptions", str(partner), str(document_ref), str(resume_step), column)


def _record(vault: Vault, row: Sequence[object]) -> tuple[ExceptionRecord, ResolveAction | None]:
    raw = dict(zip(_COLUMNS, row, strict=True))
    action = raw.pop("action")
    for column in _SEALED:
        raw[column] = vault.text_optional(
            raw[column], *_at(raw["partner"], raw["document_ref"], raw["resume_step"], column))
    raw["kinds"] = tuple(str(raw["kinds"]).split(",")) if raw["kinds"] else ()
    raw["issues"] = _ISSUES.decode(str(raw["issues"]))
    record = msgspec.convert({k: v for k, v in raw.items() if v is not None}, ExceptionRecord)
    return record, None if action is None else _ACTIONS[str(action)]


def _text(document: bytes | str) -> str:
    return document.decode() if isinstance(document, bytes) else document


class ExceptionQueue:
    """Parked documents awaiting a buyer (tables ``exc_*``)."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self._db = db
        self._vault = vault

    @classmethod
    async def open(cls, db: Database, sealer: Sealer) -> ExceptionQueue:
        """Create the tables if needed; ``sealer`` keeps documents, issues and notes sealed."""
        await Vault.require_column(db, "exc_exceptions", "po_key")
        vault = await Vault.load(db, sealer)
        await db.migrate(SCHEMA)
        return cls(db, vault)

    async def open_exception(
        self,
        partner: str,
        doc_type: DocType,
        correlation_id: str,
        po_number: str | None,
        issues: Sequence[ValidationIssue],
        resume_step: str,
        document_json: bytes | str,
        *,
        document_ref: str | None = None,
        traceparent: str | None = None,
        source_format: str | None = None,
    ) -> ExceptionRecord:
        """Park a document; returns its exception (the existing one for a redelivery).

        ``document_json`` is the canonical document as validated; ``document_ref`` is its
        key in the posted-effects ledger (default: the correlation id).
        """
        ref = document_ref or correlation_id
        kinds = ",".join(dict.fromkeys(issue.kind for issue in issues))
        vault = self._vault
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO exc_exceptions (partner, doc_type, correlation_id, "
                "document_ref, po_key, po_number, status, kinds, issues, resume_step, "
                "document_json, traceparent, source_format, opened_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?)",
                (partner, doc_type, correlation_id, ref,
                 None if po_number is None else vault.po(po_number),
                 vault.seal_optional(po_number, *_at(partner, ref, resume_step, "po_number")),
                 kinds,
                 vault.seal(_ENCODER.encode(tuple(issues)),
                            *_at(partner, ref, resume_step, "issues")),
                 resume_step,
                 vault.seal(_text(document_json),
                            *_at(partner, ref, resume_step, "document_json")),
                 traceparent, source_format, _now()))
            if cursor.rowcount == 1:
                await self._audit(conn, cursor.lastrowid or 0, "wharf", "opened",
                                  f"{len(issues)} issue(s): {kinds}")
            row = await self._row(conn, "partner = ? AND document_ref = ? AND resume_step = ?",
                                  (partner, ref, resume_step))
        assert row is not None
        return _record(self._vault, row)[0]

    async def get(self, exception_id: int) -> ExceptionRecord:
        """The exception with ``exception_id``; raises :class:`UnknownException`."""
        row = await self._db.fetchone(f"{_SELECT} WHERE id = ?", (exception_id,))
        if row is None:
            raise UnknownException(exception_id)
        return _record(self._vault, row)[0]

    async def resolve(
        self,
        exception_id: int,
        action: ResolveAction,
        by: str,
        note: str | None = None,
        corrected_document: bytes | str | None = None,
    ) -> Resolution:
        """Record a buyer's decision and say what the pipeline must do next."""
        if action not in _ACTIONS:
            raise ExceptionQueueError(f"unknown action {action!r} (approve, reject or correct)")
        corrected = None if corrected_document is None else _text(corrected_document)
        async with self._db.transaction() as conn:
            row = await self._row(conn, "id = ?", (exception_id,))
            if row is None:
                raise UnknownException(exception_id)
            record, done = _record(self._vault, row)
            if record.status != "open":
                if done != action or (action == "correct" and corrected is not None
                                      and corrected != record.corrected_json):
                    raise ResolutionConflict(exception_id, record.status, action)
                await self._audit(conn, exception_id, by, "resolve_repeated", note)
                return _resolution(record, action, repeated=True)
            corrected = self._checked_correction(record, action, corrected)
            when = _now()
            where = (record.partner, record.document_ref, record.resume_step)
            await conn.execute(
                "UPDATE exc_exceptions SET status = ?, action = ?, resolved_at = ?, "
                "resolved_by = ?, note = ?, corrected_json = ? WHERE id = ?",
                (_STATUS_OF[action], action, when, by,
                 self._vault.seal_optional(note, *_at(*where, "note")),
                 self._vault.seal_optional(corrected, *_at(*where, "corrected_json")),
                 exception_id))
            await self._audit(conn, exception_id, by, _STATUS_OF[action], note)
            resolved = msgspec.structs.replace(
                record, status=_STATUS_OF[action], resolved_by=by, note=note,
                corrected_json=corrected,
                resolved_at=datetime.strptime(when, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC))
        return _resolution(resolved, action, repeated=False)

    @staticmethod
    def _checked_correction(record: ExceptionRecord, action: ResolveAction,
                            corrected: str | None) -> str | None:
        if action != "correct":
            if corrected is not None:
                raise InvalidCorrection(f"a corrected document only goes with 'correct', "
                                        f"not {action!r}")
            return None
        if corrected is None:
            raise InvalidCorrection("'correct' needs the corrected document")
        try:
            document = decode_document(corrected.encode(), doc_type=record.doc_type)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            located = locate(exc)
            raise InvalidCorrection(f"corrected {record.doc_type} is invalid: "
                                    f"{located.message}", pointer=located.pointer) from None
        # Stored in canonical form, so the resumed step reads what any other step would.
        return encode_document(document).decode()

    async def mark_dispatched(self, exception_id: int) -> bool:
        """Note that the pipeline acted on the resolution; True the first time only."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE exc_exceptions SET dispatched_at = ? WHERE id = ? AND status != 'open' "
                "AND dispatched_at IS NULL", (_now(), exception_id))
            if cursor.rowcount != 1:
                return False
            await self._audit(conn, exception_id, "wharf", "dispatched", None)
            return True

    async def undispatched(self) -> builtins.list[Resolution]:
        """Resolutions the pipeline has not acted on yet (redo them at start)."""
        rows = await self._db.fetchall(
            f"{_SELECT} WHERE status != 'open' AND dispatched_at IS NULL ORDER BY id")
        answers = []
        for row in rows:
            record, action = _record(self._vault, row)
            assert action is not None
            answers.append(_resolution(record, action, repeated=False))
        return answers

    async def history(self, exception_id: int) -> builtins.list[AuditEntry]:
        """The exception's audit trail, oldest first."""
        rows = await self._db.fetchall(
            "SELECT id, exception_id, at, actor, action, note FROM exc_audit "
            "WHERE exception_id = ? ORDER BY id", (exception_id,))
        names = ("id", "exception_id", "at", "actor", "action", "note")
        entries = []
        for row in rows:
            fields = dict(zip(names, row, strict=True))
            fields["note"] = self._vault.text_optional(fields["note"], *_audit_at(fields["id"]))
            entries.append(msgspec.convert({k: v for k, v in fields.items() if v is not None},
                                           AuditEntry))
        return entries

    async def _audit(self, conn: aiosqlite.Connection, exception_id: int, actor: str,
                     action: str, note: str | None) -> None:
        # A buyer's note may name the PO: sealed, bound to the audit row (known after insert).
        cursor = await conn.execute(
            "INSERT INTO exc_audit (exception_id, at, actor, action) VALUES (?, ?, ?, ?)",
            (exception_id, _now(), actor, action))
        if note is not None:
            row_id = cursor.lastrowid or 0
            await conn.execute("UPDATE exc_audit SET note = ? WHERE id = ?",
                               (self._vault.seal(note, *_audit_at(row_id)), row_id))

    @staticmethod
    async def _row(conn: aiosqlite.Connection, where: str,
                   params: Sequence[object]) -> Sequence[object] | None:
        async with conn.execute(f"{_SELECT} WHERE {where}", params) as cursor:
            row = await cursor.fetchone()
        return None if row is None else tuple(row)

    async def list(
        self,
        partner: str | None = None,
        type: DocType | None = None,
        status: ExceptionStatus | None = "open",
        kind: str | None = None,
    ) -> builtins.list[ExceptionRecord]:
        """Exceptions by partner, document type, status (None: any) and issue kind."""
        clauses: builtins.list[str] = []
        params: builtins.list[object] = []
        for column, value in (("partner", partner), ("doc_type", type), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if kind is not None:
            clauses.append("(',' || kinds || ',') LIKE ?")
            params.append(f"%,{kind},%")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._db.fetchall(f"{_SELECT}{where} ORDER BY id", params)
        return [_record(self._vault, row)[0] for row in rows]


def _audit_at(row_id: object) -> tuple[str, ...]:
    return ("exc_audit", str(row_id), "note")


def _resolution(record: ExceptionRecord, action: ResolveAction, *, repeated: bool
                ) -> Resolution:
    base = Resolution(
        exception_id=record.id, action=action, next="none", partner=record.partner,
        doc_type=record.doc_type, correlation_id=record.correlation_id,
        document_ref=record.document_ref, by=record.resolved_by or "", note=record.note,
        traceparent=record.traceparent, source_format=record.source_format, repeated=repeated)
    if action in ("approve", "correct"):
        return msgspec.structs.replace(
            base, next="resume", resume_step=record.resume_step,
            document_json=record.corrected_json if action == "correct" else record.document_json)
    if record.doc_type == "purchase_order":
        return base  # the ERP's own document: there is no supplier to answer
    return msgspec.structs.replace(base, next="reject_to_supplier", issues=record.issues)
