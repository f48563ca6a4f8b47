"""At rest: no PO number in the SQLite file or its WAL; sealed rows open only where they belong."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from wharf.business import (
    CustomerOrder,
    ExceptionQueue,
    MasterData,
    PurchaseOrderLedger,
    SlaSettings,
    UnsealedLayout,
    ValidationIssue,
)
from wharf.business.vault import Pseudonyms, Vault
from wharf.model import Quantity, encode_document
from wharf.security.sealing import Sealer, SealingError
from wharf.storage import Database

from .fixtures.documents import acknowledgment, purchase_order, ship_notice
from .fixtures.keys import SEALER

if TYPE_CHECKING:
    from pathlib import Path

MARKER = "PO-MARKER-93517"
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
SLA = SlaSettings(ack_due_hours=24, asn_grace_hours=0, invoice_due_days=30)
NEW_KEY = bytes(range(100, 132))


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def files(path: Path) -> dict[str, bytes]:
    """The database file and its WAL, as they are on disk right now."""
    found = {p.name: p.read_bytes() for p in (path, path.with_name(path.name + "-wal"))
             if p.exists()}
    assert path.name in found
    return found


async def write_everything(db: Database) -> int:
    """A PO up to its receipt, its SLA timers, a customer order and a corrected exception."""
    ledger = await PurchaseOrderLedger.open(db, SEALER, sla_for=lambda partner: SLA)
    await ledger.record_document("acme", purchase_order(MARKER), hours(0), "c-po")
    await ledger.record(MARKER, "acme", "sent", hours(1), "c-sent")
    ack = acknowledgment([{"line_number": "1", "status": "changed_date",
                           "promised_date": "2026-11-19"}], po=MARKER)
    await ledger.record_document("acme", ack, hours(5), "c-ack")
    asn = ship_notice([{"line_number": "1", "item": {"supplier_part": "HX-100"},
                        "quantity": {"value": "60", "uom": "EA"}}], po=MARKER)
    await ledger.record_document("acme", asn, hours(200), "c-asn")
    await ledger.record(MARKER, "acme", "received", hours(230), "c-rcv")  # arms the invoice

    master = await MasterData.open(db, SEALER)
    await master.upsert_customer_order(CustomerOrder(
        order_id="SO-1", customer="Hardware Hut", sku="FST-1001",
        quantity=Quantity(value=Decimal(3), uom="CS"), promised_date=date(2026, 11, 20),
        po_number=MARKER, po_line="1"), source="erp")

    queue = await ExceptionQueue.open(db, SEALER)
    issue = ValidationIssue(kind="price_outside_tolerance", severity="exception",
                            pointer="/lines/0/unit_price/amount",
                            message=f"price 5.10 for PO {MARKER} line 1", po_number=MARKER)
    parked = await queue.open_exception("acme", "acknowledgment", "c-ack", MARKER, [issue],
                                        "post", encode_document(ack))
    await queue.resolve(parked.id, "correct", by="buyer", note=f"called about {MARKER}",
                        corrected_document=encode_document(ack))
    return parked.id


async def test_no_po_number_in_the_file_or_the_wal_yet_every_read_returns_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "wharf.db"
    db = await Database.open(path)
    try:
        exception_id = await write_everything(db)
        on_disk = files(path)
        assert "wharf.db-wal" in on_disk, "the writes are (still) in the WAL"
        assert b"price_outside_tolerance" in b"".join(on_disk.values()), "plain columns are"
        for name, content in on_disk.items():
            assert MARKER.encode() not in content, f"{name} holds the PO number"

        # Callers still pass and get real PO numbers.
        ledger = await PurchaseOrderLedger.open(db, SEALER, sla_for=lambda partner: SLA)
        record = await ledger.get(MARKER)
        assert record is not None and record.po_number == MARKER
        assert record.state == "received"
        assert [e.detail.document_id for e in record.events if e.detail][:1] == [MARKER]
        assert {t.po_number for t in record.timers} == {MARKER}
        assert [r.po_number for r in await ledger.list(partner="acme")] == [MARKER]
        due = await ledger.due(hours(24 * 365))
        assert [(t.kind, t.po_number) for t in due] == [("invoice", MARKER)]
        order = await ledger.order(MARKER, "acme")
        assert order is not None and order.document_id == MARKER
        acked = await ledger.acknowledgment(MARKER)
        assert acked is not None and acked.po_number == MARKER
        assert list(await ledger.quantities(MARKER, "acme")) == ["1"]

        master = await MasterData.open(db, SEALER)
        assert [o.po_number for o in await master.customer_orders(MARKER, "1")] == [MARKER]
        assert await master.customer_orders("PO-OTHER") == []

        queue = await ExceptionQueue.open(db, SEALER)
        parked = await queue.get(exception_id)
        assert (parked.po_number, parked.note) == (MARKER, f"called about {MARKER}")
        assert MARKER in parked.issues[0].message and MARKER in parked.document_json
        assert parked.corrected_json is not None and MARKER in parked.corrected_json
        assert [r.po_number for r in await queue.list(status=None)] == [MARKER]
        assert [e.note for e in await queue.history(exception_id)][1] == f"called about {MARKER}"
    finally:
        await db.aclose()
    for name, content in files(path).items():       # checkpointed into the file on close
        assert MARKER.encode() not in content, f"{name} holds the PO number"


async def test_rotating_the_sealing_key_keeps_every_lookup(tmp_path: Path) -> None:
    path = tmp_path / "wharf.db"
    db = await Database.open(path)
    try:
        await write_everything(db)
    finally:
        await db.aclose()
    rotated = Sealer({"t": bytes(range(32)), "u": NEW_KEY}, "u")
    db = await Database.open(path)
    try:
        ledger = await PurchaseOrderLedger.open(db, rotated, sla_for=lambda partner: SLA)
        before = await ledger.get(MARKER)                 # old rows: pseudonyms unchanged
        assert before is not None and before.state == "received"
        await ledger.record_document("acme", purchase_order("PO-AFTER"), hours(300), "c-new")
        (stored,) = await db.fetchall("SELECT record FROM business_keys")
        assert not rotated.rotate_needed(stored[0]), "the lookup key was re-sealed under u"
    finally:
        await db.aclose()
    # The old key retired: the lookup key still opens, new rows are found by PO number.
    db = await Database.open(path)
    try:
        ledger = await PurchaseOrderLedger.open(db, Sealer({"u": NEW_KEY}, "u"))
        after = await ledger.get("PO-AFTER")
        assert after is not None and after.po_number == "PO-AFTER"
        with pytest.raises(SealingError) as caught:   # rows still under t need t (or a re-seal)
            await ledger.get(MARKER)
        assert caught.value.key_id == "t"
    finally:
        await db.aclose()


async def test_a_sealed_value_moved_to_another_row_does_not_open(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "wharf.db")
    try:
        ledger = await PurchaseOrderLedger.open(db, SEALER)
        for number in ("PO-A", "PO-B"):
            await ledger.record_document("acme", purchase_order(number), hours(0), f"c-{number}")
        vault = await Vault.load(db, SEALER)
        key_a, key_b = vault.po("PO-A"), vault.po("PO-B")
        rows = dict(await db.fetchall("SELECT po_key, po_json FROM po_orders"))
        assert set(rows) == {key_a, key_b}, "rows are keyed by pseudonyms, not numbers"
        await db.execute("UPDATE po_orders SET po_json = ? WHERE po_key = ?",
                         (rows[key_a], key_b))
        assert (await ledger.order("PO-A")) == purchase_order("PO-A")
        with pytest.raises(SealingError, match="sealed for another row"):
            await ledger.order("PO-B")
    finally:
        await db.aclose()


async def test_another_key_ring_cannot_open_the_stores(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "wharf.db")
    try:
        await ExceptionQueue.open(db, SEALER)
        with pytest.raises(SealingError, match="unknown key id 't'"):
            await MasterData.open(db, Sealer({"x": NEW_KEY}, "x"))
        with pytest.raises(SealingError, match="failed authentication"):
            await MasterData.open(db, Sealer({"t": NEW_KEY}, "t"))
    finally:
        await db.aclose()


async def test_tables_from_before_sealing_are_refused_not_reused(tmp_path: Path) -> None:
    path = tmp_path / "wharf.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE po_orders (supplier TEXT, po_number TEXT, state TEXT)")
        conn.execute("INSERT INTO po_orders VALUES ('acme', 'PO-OLD', 'sent')")
    conn.close()
    db = await Database.open(path)
    try:
        with pytest.raises(UnsealedLayout) as caught:
            await PurchaseOrderLedger.open(db, SEALER)
        assert (caught.value.table, caught.value.column) == ("po_orders", "po_key")
        assert "plain text" in str(caught.value)
    finally:
        await db.aclose()


def test_pseudonyms_are_keyed_and_namespaced() -> None:
    one, other = Pseudonyms(bytes(32)), Pseudonyms(bytes(range(32)))
    assert one.po("PO-1") == one.po("PO-1") != one.po("PO-2")
    assert one.po("PO-1") != other.po("PO-1")
    assert one.of("po", "X") != one.of("doc", "X")
    with pytest.raises(ValueError, match="16 bytes"):
        Pseudonyms(b"short")
