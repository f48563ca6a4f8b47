"""Three-way match: PO price × received quantity against each invoice line, in exact Decimal."""

from __future__ import annotations

from decimal import Decimal

from wharf.business import ItemCatalog, MatchResult, Tolerances, match_invoice
from wharf.model import Item, Quantity, SupplierPart, UomConversion

from .fixtures.documents import invoice, invoice_line, purchase_order

CATALOG = ItemCatalog([
    Item(sku="FST-1001", base_uom="EA",
         supplier_parts=(SupplierPart(supplier_id="acme", part_number="HX-100"),),
         uom_conversions=(UomConversion(uom="CS", factor=Decimal(12)),)),
    Item(sku="TL-2001", base_uom="EA",
         supplier_parts=(SupplierPart(supplier_id="acme", part_number="CD-18"),)),
])
TOLERANCES = Tolerances(quantity_percent=Decimal(0), price_percent=Decimal(2), date_days=0)
RECEIVED = {"1": [Quantity(value=Decimal(120), uom="EA")],
            "2": [Quantity(value=Decimal(3), uom="EA"), Quantity(value=Decimal(1), uom="EA")]}


def test_an_invoice_that_matches() -> None:
    bill = invoice([invoice_line("1", "HX-100", "10", "CS", "5.00"),
                    invoice_line("2", "CD-18", "4", "EA", "89.00")],
                   charges=[{"kind": "charge", "code": "D240",
                             "amount": {"amount": "10.00", "currency": "USD"}},
                            {"kind": "allowance", "code": "C310",
                             "amount": {"amount": "5.00", "currency": "USD"}}])
    result = match_invoice(bill, purchase_order(), RECEIVED, TOLERANCES, catalog=CATALOG)
    assert result.matched and result.issues == ()
    assert [m.status for m in result.lines] == ["matched", "matched"]
    assert [m.po_line for m in result.lines] == ["1", "2"]
    assert result.lines[0].reference_quantity == Decimal(10)      # 120 EA received = 10 CS
    assert result.expected_total == Decimal("411.00") == result.invoiced_total
    assert result.difference == 0


def test_mismatch_says_which_line_and_by_how_much() -> None:
    bill = invoice([invoice_line("1", "HX-100", "10", "CS", "5.00"),
                    invoice_line("2", "CD-18", "4", "EA", "91.00")])
    result = match_invoice(bill, purchase_order(), RECEIVED, TOLERANCES, catalog=CATALOG)
    assert not result.matched
    assert [m.status for m in result.lines] == ["matched", "mismatch"]
    (issue,) = result.issues
    assert (issue.kind, issue.severity, issue.pointer) == (
        "price_outside_tolerance", "exception", "/lines/1/unit_price/amount")
    assert (issue.expected, issue.actual, issue.difference) == ("89.00", "91.00", Decimal(2))
    assert issue.percent == Decimal("2.2472")
    assert (issue.po_number, issue.po_line) == ("PO-1", "2")
    line = result.lines[1]
    assert (line.expected_amount, line.invoiced_amount, line.difference) == (
        Decimal("356.00"), Decimal("364.00"), Decimal("8.00"))
    assert result.difference == Decimal("8.00")


def test_price_tolerance_edges_across_units() -> None:
    def billed(price: str) -> MatchResult:
        bill = invoice([invoice_line("1", "HX-100", "120", "EA", price, po_line="1")])
        return match_invoice(bill, purchase_order(), RECEIVED, TOLERANCES, catalog=CATALOG)

    # 5.00 per CS = 0.41666… per EA; +2 % = 0.425 per EA exactly: within.
    at_limit = billed("0.425")
    assert at_limit.matched, at_limit.issues
    over = billed("0.42501")
    assert not over.matched
    (issue,) = over.issues
    assert issue.kind == "price_outside_tolerance"
    assert issue.percent == Decimal("2.0024")
    # Cheaper than the PO is shown, not held.
    under = billed("0.40")
    assert under.matched
    assert [i.severity for i in under.issues] == ["warning"]


def test_billing_more_than_was_received() -> None:
    bill = invoice([invoice_line("1", "HX-100", "12", "CS", "5.00"),
                    invoice_line("2", "CD-18", "4", "EA", "89.00")])
    result = match_invoice(bill, purchase_order(), RECEIVED, TOLERANCES, catalog=CATALOG)
    (issue,) = result.issues
    assert (issue.kind, issue.pointer, issue.expected, issue.actual) == (
        "quantity_outside_tolerance", "/lines/0/quantity/value", "10", "12")
    assert issue.percent == Decimal("20.0000")
    assert result.lines[0].difference == Decimal("10.00")     # 60.00 billed, 50.00 expected


def test_unreceived_and_unknown_lines() -> None:
    bill = invoice([invoice_line("1", "HX-100", "10", "CS", "5.00"),
                    invoice_line("2", "CD-18", "4", "EA", "89.00", po_line="9")])
    result = match_invoice(bill, purchase_order(), {}, TOLERANCES, catalog=CATALOG)
    assert [(i.kind, i.pointer) for i in result.issues] == [
        ("not_received", "/lines/0/quantity"),
        ("unknown_po_line", "/lines/1/po_line_number"),
    ]
    assert [m.status for m in result.lines] == ["mismatch", "unmatched"]
    assert result.expected_total is None
