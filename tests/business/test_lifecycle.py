"""The PO lifecycle ledger: states, out-of-order documents, duplicates, durable SLA timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec
import pytest

from wharf.business import EventDetail, LineQuantity, PurchaseOrderLedger, SlaSettings
from wharf.model import Quantity
from wharf.storage import Database

from .fixtures.documents import acknowledgment, purchase_order, ship_notice
from .fixtures.keys import SEALER

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SLA = SlaSettings(ack_due_hours=24, asn_grace_hours=0, invoice_due_days=30)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "wharf.db")
    try:
        yield database
    finally:
        await database.aclose()


async def open_ledger(db: Database) -> PurchaseOrderLedger:
    return await PurchaseOrderLedger.open(db, SEALER, sla_for=lambda partner: SLA)


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


async def test_a_po_through_its_whole_life(db: Database) -> None:
    ledger = await open_ledger(db)
    await ledger.record_document("acme", purchase_order(), hours(0), "c-po")
    await ledger.record("PO-1", "acme", "sent", hours(1), "c-sent")
    ack = acknowledgment([{"line_number": "1", "status": "changed_date",
                           "promised_date": "2026-11-19"}])
    acked = await ledger.record_document("acme", ack, hours(5), "c-ack")
    assert [(r.state_before, r.state) for r in acked] == [("sent", "acknowledged")]
    asn = ship_notice([{"line_number": "1", "item": {"supplier_part": "HX-100"},
                        "quantity": {"value": "60", "uom": "EA"}},
                       {"item": {"supplier_part": "CD-18"},
                        "quantity": {"value": "4", "uom": "EA"}}])
    await ledger.record_document("acme", asn, hours(200), "c-asn")
    await ledger.record("PO-1", "acme", "received", hours(230), "c-rcv", EventDetail(
        lines=(LineQuantity(line_number="1", quantity=Quantity(value=Decimal(5), uom="CS")),)))
    await ledger.record("PO-1", "acme", "invoiced", hours(240), "c-inv")
    done = await ledger.record("PO-1", "acme", "matched", hours(241), "c-match")
    assert done.state == "matched" and done.in_order and done.anomalies == ()
    record = await ledger.get("PO-1")
    assert record is not None
    assert (record.state, record.ack_status) == ("matched", "changed")
    assert [e.event for e in record.events] == [
        "issued", "sent", "acknowledged", "shipped", "received", "invoiced", "matched"]
    assert record.anomalies == ()
    # Received where a receipt was recorded, shipped otherwise (line 2 matched by item).
    assert await ledger.quantities("PO-1", "acme") == {
        "1": [Quantity(value=Decimal(5), uom="CS")], "2": [Quantity(value=Decimal(4), uom="EA")]}
    po = await ledger.order("PO-1", "acme")
    assert po == purchase_order()
    stored_ack = await ledger.acknowledgment("PO-1", "acme")
    assert stored_ack == ack
    # Every timer was satisfied by the event it waited for (the invoice timer armed at
    # shipment was moved by the receipt).
    assert {(t.kind, t.closed_reason) for t in record.timers} == {
        ("ack", "satisfied"), ("asn", "superseded"), ("asn", "satisfied"),
        ("invoice", "superseded"), ("invoice", "satisfied")}
    assert await ledger.list(state="open") == []
    assert [r.po_number for r in await ledger.list(partner="acme", state="matched")] == ["PO-1"]


async def test_an_asn_before_the_ack_is_kept_and_the_gap_closes_later(db: Database) -> None:
    ledger = await open_ledger(db)
    await ledger.record_document("acme", purchase_order(), hours(0), "c-po")
    await ledger.record("PO-1", "acme", "sent", hours(1), "c-sent")
    early = await ledger.record("PO-1", "acme", "shipped", hours(3), "c-asn")
    assert (early.state_before, early.state, early.in_order) == ("sent", "shipped", False)
    assert early.anomalies == ("out_of_order",)
    record = await ledger.get("PO-1", "acme")
    assert record is not None
    (gap,) = record.anomalies
    assert (gap.milestone, gap.message, gap.resolved_at) == (
        "acknowledged", "shipped before acknowledged", None)
    # The ack is still owed: its timer stays armed after the ASN.
    assert [(t.kind, t.closed_at) for t in record.timers if t.kind == "ack"] == [("ack", None)]
    late = await ledger.record("PO-1", "acme", "acknowledged", hours(4), "c-ack",
                               EventDetail(ack_status="accepted"))
    assert (late.state, late.in_order, late.anomalies) == ("shipped", False, ())
    record = await ledger.get("PO-1", "acme")
    assert record is not None
    assert (record.state, record.ack_status) == ("shipped", "accepted")
    assert record.anomalies[0].resolved_at == hours(4)
    assert [e.event for e in record.events] == ["issued", "sent", "shipped", "acknowledged"]
    assert await ledger.due(hours(100)) == []


async def test_duplicates_unknown_pos_and_events_after_cancel(db: Database) -> None:
    ledger = await open_ledger(db)
    stray = await ledger.record("PO-9", "globex", "acknowledged", hours(0), "c-1")
    assert stray.anomalies == ("unknown_po",) and stray.state == "acknowledged"
    again = await ledger.record("PO-9", "globex", "acknowledged", hours(0), "c-1")
    assert again.duplicate and again.state == "acknowledged"
    record = await ledger.get("PO-9")
    assert record is not None and len(record.events) == 1
    await ledger.record("PO-9", "globex", "cancelled", hours(1), "c-2")
    after = await ledger.record("PO-9", "globex", "shipped", hours(2), "c-3")
    assert (after.state, after.anomalies) == ("cancelled", ("after_cancel",))
    with pytest.raises(ValueError, match="has no time zone"):
        await ledger.record("PO-9", "globex", "shipped", datetime(2026, 1, 1), "c-4")
    rejected = await ledger.record("PO-8", "globex", "issued", hours(0), "c-5")
    assert rejected.in_order
    await ledger.record("PO-8", "globex", "acknowledged", hours(1), "c-6",
                        EventDetail(ack_status="rejected"))
    shipped = await ledger.record("PO-8", "globex", "shipped", hours(2), "c-7")
    assert shipped.anomalies == ("after_rejection",)


async def test_sla_timers_survive_a_restart_and_fire_once(tmp_path: Path) -> None:
    path = tmp_path / "wharf.db"
    db = await Database.open(path)
    ledger = await open_ledger(db)
    await ledger.record_document("acme", purchase_order(), hours(0), "c-po")
    await ledger.record("PO-1", "acme", "sent", hours(1), "c-sent")
    await ledger.record_document("acme", purchase_order("PO-2"), hours(0), "c-po2")
    await ledger.record("PO-2", "acme", "sent", hours(2), "c-sent2")
    await ledger.record("PO-2", "acme", "acknowledged", hours(3), "c-ack2",
                        EventDetail(ack_status="accepted"))
    assert await ledger.due(hours(24.9)) == []
    await db.aclose()                                   # the process stops; time passes

    db = await Database.open(path)
    try:
        ledger = await open_ledger(db)
        (overdue,) = await ledger.due(hours(25))        # PO-1's ack; PO-2 was acknowledged
        assert (overdue.po_number, overdue.kind, overdue.due_at) == ("PO-1", "ack", hours(25))
        assert await ledger.mark_fired(overdue.id, hours(25)) is True
        assert await ledger.mark_fired(overdue.id, hours(26)) is False
        assert await ledger.due(hours(30)) == []
        # The ASN is due when the requested date begins (grace 0); PO-2's from its ack.
        asn_due = datetime(2026, 11, 20, tzinfo=UTC)
        due = await ledger.due(asn_due)
        assert [(t.po_number, t.kind, t.due_at) for t in due] == [
            ("PO-1", "asn", asn_due), ("PO-2", "asn", asn_due)]
    finally:
        await db.aclose()

    db = await Database.open(path)
    try:
        ledger = await open_ledger(db)
        assert await ledger.mark_fired(overdue.id) is False   # fired before the restart
        record = await ledger.get("PO-1")
        assert record is not None
        (ack_timer,) = [t for t in record.timers if t.kind == "ack"]
        assert ack_timer.fired_at == hours(25)
        # A late ack does not "un-fire" the alert; it is recorded as any other event.
        late = await ledger.record("PO-1", "acme", "acknowledged", hours(30), "c-ack")
        assert late.state == "acknowledged"
    finally:
        await db.aclose()


async def test_a_changed_po_sent_again_awaits_a_new_ack(db: Database) -> None:
    ledger = await open_ledger(db)
    await ledger.record_document("acme", purchase_order(), hours(0), "c-po")
    await ledger.record("PO-1", "acme", "sent", hours(1), "c-sent")
    await ledger.record("PO-1", "acme", "acknowledged", hours(2), "c-ack")
    # A supplier's quick ack recorded before Wharf noted the send does not leave a timer.
    await ledger.record("PO-1", "acme", "sent", hours(1.5), "c-sent-again")
    assert await ledger.due(hours(100)) == []
    change = purchase_order()
    await ledger.record_document("acme", msgspec.structs.replace(change, purpose="change"),
                                 hours(3), "c-change")
    await ledger.record("PO-1", "acme", "sent", hours(4), "c-sent-change")
    (owed,) = [t for t in await ledger.due(hours(100)) if t.kind == "ack"]
    assert (owed.due_at, owed.armed_by) == (hours(28), "c-sent-change")


async def test_an_answer_held_for_a_buyer_closes_the_ack_timer(db: Database) -> None:
    ledger = await open_ledger(db)
    await ledger.record_document("acme", purchase_order(), hours(0), "c-po")
    await ledger.record("PO-1", "acme", "sent", hours(1), "c-sent")
    await ledger.answered("PO-1", "acme", hours(2))
    assert all(d.kind != "ack" for d in await ledger.due(hours(100)))
    record = await ledger.get("PO-1", "acme")
    assert record is not None
    assert record.state == "sent", "the PO does not move on until the buyer decides"
    (ack,) = [t for t in record.timers if t.kind == "ack"]
    assert ack.closed_reason == "answered, held for a buyer"
