"""The buyer exception queue: park, approve / reject / correct, idempotent, audited, durable."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from wharf.business import (
    ExceptionQueue,
    InvalidCorrection,
    ResolutionConflict,
    UnknownException,
    ValidationIssue,
)
from wharf.model import decode_document, encode_document
from wharf.storage import Database

from .fixtures.documents import acknowledgment
from .fixtures.keys import SEALER

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

PRICE = ValidationIssue(
    kind="price_outside_tolerance", severity="exception", pointer="/lines/0/unit_price/amount",
    message="price 5.1005 for PO PO-1 line 1, PO price 5.00: 2.0100% (tolerance 2%)",
    expected="5.00", actual="5.1005", difference=Decimal("0.1005"), percent=Decimal("2.0100"),
    po_number="PO-1", po_line="1")
ACK = acknowledgment([{"line_number": "1", "status": "changed_price",
                       "unit_price": {"amount": "5.1005", "currency": "USD"}}])


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "wharf.db")
    try:
        yield database
    finally:
        await database.aclose()


async def park(queue: ExceptionQueue, correlation: str = "corr-1") -> int:
    record = await queue.open_exception(
        "acme", "acknowledgment", correlation, "PO-1", [PRICE], "post", encode_document(ACK),
        document_ref=f"{correlation}#1", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        source_format="x12")
    return record.id


async def test_parking_is_idempotent_and_keeps_what_resuming_needs(db: Database) -> None:
    queue = await ExceptionQueue.open(db, SEALER)
    first = await park(queue)
    assert await park(queue) == first              # a redelivery finds the same exception
    record = await queue.get(first)
    assert (record.status, record.kinds, record.po_number) == ("open", ("price_outside_tolerance",),
                                                              "PO-1")
    assert record.issues == (PRICE,)
    assert (record.document_ref, record.resume_step, record.source_format) == (
        "corr-1#1", "post", "x12")
    assert decode_document(record.document_json.encode()) == ACK
    assert [e.action for e in await queue.history(first)] == ["opened"]


async def test_approve_resumes_once_with_the_original(db: Database) -> None:
    queue = await ExceptionQueue.open(db, SEALER)
    exc_id = await park(queue)
    answer = await queue.resolve(exc_id, "approve", by="buyer@example.com", note="ok this once")
    assert (answer.next, answer.resume_step, answer.repeated) == ("resume", "post", False)
    assert answer.document_json == encode_document(ACK).decode()
    assert (answer.document_ref, answer.correlation_id) == ("corr-1#1", "corr-1")
    again = await queue.resolve(exc_id, "approve", by="buyer@example.com")
    assert again.repeated and again.next == "resume"
    assert again.document_json == answer.document_json
    with pytest.raises(ResolutionConflict, match="already approved; cannot reject"):
        await queue.resolve(exc_id, "reject", by="someone@example.com")
    assert [e.action for e in await queue.history(exc_id)] == [
        "opened", "approved", "resolve_repeated"]


async def test_reject_answers_the_supplier_with_the_issues(db: Database) -> None:
    queue = await ExceptionQueue.open(db, SEALER)
    exc_id = await park(queue)
    answer = await queue.resolve(exc_id, "reject", by="buyer", note="price increase refused")
    assert answer.next == "reject_to_supplier"
    assert answer.issues == (PRICE,)
    assert (answer.note, answer.source_format, answer.document_json) == (
        "price increase refused", "x12", None)
    assert await queue.list() == []
    assert [r.id for r in await queue.list(status="rejected")] == [exc_id]


async def test_correct_resumes_with_the_checked_correction(db: Database) -> None:
    queue = await ExceptionQueue.open(db, SEALER)
    exc_id = await park(queue)
    fixed = json.loads(encode_document(ACK))
    fixed["lines"][0]["unit_price"]["amount"] = "5.10"
    with pytest.raises(InvalidCorrection, match="needs the corrected document"):
        await queue.resolve(exc_id, "correct", by="buyer")
    broken = json.loads(encode_document(ACK))
    broken["lines"][0]["status"] = "changed_everything"
    with pytest.raises(InvalidCorrection) as caught:
        await queue.resolve(exc_id, "correct", by="buyer", corrected_document=json.dumps(broken))
    assert caught.value.pointer == "/lines/0/status"
    assert (await queue.get(exc_id)).status == "open"   # a bad correction decides nothing
    answer = await queue.resolve(exc_id, "correct", by="buyer",
                                 corrected_document=json.dumps(fixed).encode())
    assert answer.next == "resume" and answer.document_json is not None
    resumed = decode_document(answer.document_json.encode())
    assert resumed.lines[0].unit_price.amount == Decimal("5.10")  # type: ignore[union-attr]
    again = await queue.resolve(exc_id, "correct", by="buyer")
    assert again.repeated and again.document_json == answer.document_json


async def test_list_filters(db: Database) -> None:
    queue = await ExceptionQueue.open(db, SEALER)
    first = await park(queue, "corr-1")
    second = await park(queue, "corr-2")
    other = await queue.open_exception("globex", "invoice", "corr-3", None, [PRICE], "post",
                                       encode_document(ACK))
    assert [r.id for r in await queue.list()] == [first, second, other.id]
    assert [r.id for r in await queue.list(partner="acme")] == [first, second]
    assert [r.id for r in await queue.list(type="invoice")] == [other.id]
    assert [r.id for r in await queue.list(kind="price_outside_tolerance")] == [
        first, second, other.id]
    assert await queue.list(kind="unknown_item") == []
    with pytest.raises(UnknownException, match="no exception 999"):
        await queue.resolve(999, "approve", by="buyer")


async def test_an_undispatched_resolution_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "wharf.db"
    db = await Database.open(path)
    queue = await ExceptionQueue.open(db, SEALER)
    exc_id = await park(queue)
    await queue.resolve(exc_id, "approve", by="buyer")
    await db.aclose()                                   # crash before the resume was handed on

    db = await Database.open(path)
    try:
        queue = await ExceptionQueue.open(db, SEALER)
        (pending,) = await queue.undispatched()
        assert (pending.exception_id, pending.next, pending.repeated) == (exc_id, "resume", False)
        assert await queue.mark_dispatched(exc_id) is True
        assert await queue.mark_dispatched(exc_id) is False
        assert await queue.undispatched() == []
        assert [e.action for e in await queue.history(exc_id)] == [
            "opened", "approved", "dispatched"]
    finally:
        await db.aclose()
