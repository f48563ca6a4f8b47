"""Validation against master data, the PO and tolerances: typed, pointed issues at the edges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from wharf.business import (
    MasterData,
    PurchaseOrderLedger,
    Tolerances,
    ValidationIssue,
    build_context,
    validate,
)
from wharf.storage import Database

from .fixtures.documents import (
    MASTERDATA,
    acknowledgment,
    invoice,
    invoice_line,
    purchase_order,
    ship_notice,
)
from .fixtures.keys import SEALER

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from wharf.model import Document

TODAY = date(2026, 11, 10)
TOLERANCES = Tolerances(quantity_percent=Decimal(5), price_percent=Decimal(2), date_days=3)


@dataclass
class Stores:
    master: MasterData
    ledger: PurchaseOrderLedger

    async def check(self, document: Document, tolerances: Tolerances = TOLERANCES,
                    max_past_days: int = 0) -> list[ValidationIssue]:
        context = await build_context(document, supplier="acme", master=self.master,
                                      ledger=self.ledger, tolerances=tolerances, today=TODAY,
                                      max_past_days=max_past_days)
        return validate(document, context)


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    db = await Database.open(tmp_path / "wharf.db")
    try:
        master = await MasterData.open(db, SEALER)
        await master.load_folder(MASTERDATA)
        ledger = await PurchaseOrderLedger.open(db, SEALER)
        await ledger.record_document("acme", purchase_order(), datetime(2026, 11, 2, tzinfo=UTC),
                                     "corr-po")
        yield Stores(master, ledger)
    finally:
        await db.aclose()


def kinds(issues: list[ValidationIssue]) -> list[tuple[str, str, str]]:
    return [(i.kind, i.severity, i.pointer) for i in issues]


def price_change(price: str) -> list[dict[str, Any]]:
    return [{"line_number": "1", "status": "changed_price",
             "unit_price": {"amount": price, "currency": "USD"}}]


async def test_price_exactly_at_the_limit_is_within(stores: Stores) -> None:
    # PO: 5.00 per CS; 2 % tolerance. 5.10 is 2.00 % off.
    assert await stores.check(acknowledgment(price_change("5.10"))) == []
    assert await stores.check(acknowledgment(price_change("4.90"))) == []


async def test_price_just_over_the_limit_is_a_buyer_exception(stores: Stores) -> None:
    issues = await stores.check(acknowledgment(price_change("5.1005")))
    assert len(issues) == 1
    issue = issues[0]
    assert (issue.kind, issue.severity, issue.pointer) == (
        "price_outside_tolerance", "exception", "/lines/0/unit_price/amount")
    assert (issue.expected, issue.actual) == ("5.00", "5.1005")
    assert issue.difference == Decimal("0.1005")
    assert issue.percent == Decimal("2.0100")
    assert (issue.po_number, issue.po_line) == ("PO-1", "1")


async def test_quantity_edges_after_converting_eaches_to_cases(stores: Stores) -> None:
    # PO line 1: 10 CS = 120 EA; 5 % tolerance → up to 126 EA (10.5 CS) is within.
    def acked(qty: str, uom: str) -> Document:
        return acknowledgment([{"line_number": "1", "status": "changed_quantity",
                                "quantity": {"value": qty, "uom": uom}}])

    assert await stores.check(acked("126", "EA")) == []
    assert await stores.check(acked("10.5", "CS")) == []
    over = await stores.check(acked("10.51", "CS"))
    assert kinds(over) == [("quantity_outside_tolerance", "exception", "/lines/0/quantity/value")]
    assert over[0].percent == Decimal("5.1000")
    # 127 EA is not a whole number of cases: compared in eaches, exactly.
    odd = await stores.check(acked("127", "EA"))
    assert kinds(odd) == [("quantity_outside_tolerance", "exception", "/lines/0/quantity/value")]
    assert (odd[0].expected, odd[0].actual, odd[0].difference) == ("120", "127", Decimal(7))


async def test_split_line_answers_are_summed(stores: Stores) -> None:
    split = acknowledgment([
        {"line_number": "1", "status": "accepted", "quantity": {"value": "6", "uom": "CS"}},
        {"line_number": "1", "status": "backordered", "quantity": {"value": "48", "uom": "EA"}},
        {"line_number": "2", "status": "rejected", "quantity": {"value": "4", "uom": "EA"}},
    ])
    assert await stores.check(split) == []


async def test_promised_date_edges(stores: Stores) -> None:
    def promised(day: str) -> Document:
        return acknowledgment([{"line_number": "2", "status": "changed_date",
                                "promised_date": day}])

    assert await stores.check(promised("2026-11-23")) == []          # wanted 11-20, 3 days
    late = await stores.check(promised("2026-11-24"))
    assert kinds(late) == [("date_outside_tolerance", "exception", "/lines/0/promised_date")]
    assert late[0].difference == Decimal(4)
    # In the past (today is 11-10) and before the PO was issued (11-02).
    past = await stores.check(promised("2026-11-01"), tolerances=Tolerances(date_days=30))
    assert kinds(past) == [("date_before_po", "error", "/lines/0/promised_date"),
                           ("date_in_past", "exception", "/lines/0/promised_date")]
    allowed = await stores.check(promised("2026-11-07"), tolerances=Tolerances(date_days=30),
                                 max_past_days=3)
    assert allowed == []


async def test_unknown_supplier_part_is_never_guessed(stores: Stores) -> None:
    asn = ship_notice([{"line_number": "1", "item": {"supplier_part": "HX-1OO"},
                        "quantity": {"value": "10", "uom": "CS"}}])
    issues = await stores.check(asn)
    assert kinds(issues) == [("unknown_item", "exception", "/orders/0/packs/0/items/0/item")]
    assert "supplier_part 'HX-1OO'" in issues[0].message


async def test_ship_notice_in_eaches_against_cases(stores: Stores) -> None:
    def shipped(qty: str) -> Document:
        return ship_notice([{"line_number": "1", "item": {"supplier_part": "HX-100"},
                             "quantity": {"value": qty, "uom": "EA"}}])

    assert await stores.check(shipped("120")) == []
    over = await stores.check(shipped("132"))          # 11 CS: 10 % over
    assert kinds(over) == [("quantity_outside_tolerance", "exception",
                            "/orders/0/packs/0/items/0/quantity/value")]
    assert (over[0].expected, over[0].actual) == ("10", "11")
    short = await stores.check(shipped("60"))          # a partial shipment is normal
    assert kinds(short) == [("partial_quantity", "warning",
                             "/orders/0/packs/0/items/0/quantity/value")]


async def test_ship_notice_dates(stores: Stores) -> None:
    early = ship_notice([{"line_number": "2", "item": {"supplier_part": "CD-18"},
                          "quantity": {"value": "4", "uom": "EA"}}],
                        shipped_at="2026-11-01T09:00:00Z", estimated_delivery="2026-10-30")
    assert kinds(await stores.check(early)) == [
        ("impossible_date_range", "error", "/estimated_delivery"),
        ("date_before_po", "error", "/shipped_at"),
    ]


async def test_unknown_po_and_foreign_currency(stores: Stores) -> None:
    lost = acknowledgment([], status="accepted", po="PO-404")
    assert kinds(await stores.check(lost)) == [("unknown_po", "exception", "/po_number")]
    euro = acknowledgment([{"line_number": "1", "status": "changed_price",
                            "unit_price": {"amount": "5.00", "currency": "EUR"}}],
                          currency="EUR")
    assert kinds(await stores.check(euro)) == [("currency_mismatch", "error", "/currency")]


async def test_substitution_goes_to_a_buyer(stores: Stores) -> None:
    ack = acknowledgment([{"line_number": "2", "status": "substituted",
                           "substitute": {"supplier_part": "WB-100"}}])
    assert kinds(await stores.check(ack)) == [
        ("substituted_item", "exception", "/lines/0/substitute")]


async def test_invoice_tax_and_totals_must_add_up(stores: Stores) -> None:
    await stores.ledger.record_document(
        "acme", ship_notice([{"line_number": "1", "item": {"supplier_part": "HX-100"},
                              "quantity": {"value": "10", "uom": "CS"}}]),
        datetime(2026, 11, 18, tzinfo=UTC), "corr-asn")
    lines = [invoice_line("1", "HX-100", "10", "CS", "5.00")]
    taxes = [{"kind": "state", "rate": "6", "amount": {"amount": "3.00", "currency": "USD"}},
             {"kind": "county", "rate": "1", "amount": {"amount": "0.50", "currency": "USD"}}]
    assert await stores.check(invoice(lines, taxes=taxes)) == []
    wrong_tax = await stores.check(invoice(lines, taxes=taxes, tax_total="3.40",
                                           total="53.50"))
    assert kinds(wrong_tax) == [("tax_total_mismatch", "error", "/totals/tax_total/amount")]
    assert (wrong_tax[0].expected, wrong_tax[0].actual) == ("3.50", "3.40")
    wrong_total = await stores.check(invoice(lines, taxes=taxes, total="53.52"))
    assert kinds(wrong_total) == [("total_mismatch", "error", "/totals/total/amount")]
    assert wrong_total[0].difference == Decimal("0.02")
    # Within 0.01 is rounding, not an error.
    assert await stores.check(invoice(lines, taxes=taxes, total="53.51")) == []
    dated = await stores.check(invoice(lines, invoice_date="2026-11-01"))
    assert kinds(dated) == [("date_before_po", "error", "/invoice_date")]
