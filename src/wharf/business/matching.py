"""Three-way match: PO price × received (or shipped) quantity against each invoice line.

Each invoice line is paired with a PO line — by ``po_line_number``, else by its own line
number when the item agrees, else by the one PO line carrying the same item — and then
compared in exact Decimal:

* unit price: the invoice price against the PO line's price (or, without one, the
  supplier's price list), both brought to the same unit. Decided by cross-multiplying
  (``invoice price × PO factor`` vs ``PO price × invoice factor``), so no division, no
  rounding. Over the price tolerance is an ``exception``; under it, a ``warning``.
* quantity: the invoiced quantity against what was received (or, before receipt,
  shipped) on that PO line, in base units. Billing more than the tolerance allows is an
  ``exception``; billing less is a ``warning`` (a partial invoice).
* line amount: the expected amount is PO price × received quantity; the line reports the
  difference, so a mismatch exception says which line and by how much.

:func:`invoice_arithmetic` checks the invoice against itself (quantity × price = amount,
lines = subtotal, tax lines = tax total, lines + charges − allowances + tax = total, each
within 0.01); its findings are ``error`` severity: an invoice that does not add up is
rejected rather than argued over.

Displayed converted values (a case price shown per each) may be rounded to 28 significant
digits; decisions never are.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import msgspec

from wharf.business.issues import (
    AMOUNT_TOLERANCE,
    Tolerances,
    ValidationIssue,
    percent_off,
    pointer,
    within_percent,
)
from wharf.model import Quantity

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from wharf.business.records import ItemCatalog
    from wharf.model import Invoice, InvoiceLine, Item, ItemRef, PurchaseOrder
    from wharf.model.documents import PurchaseOrderLine

__all__ = ("LineMatch", "MatchResult", "invoice_arithmetic", "match_invoice", "same_item")

LineStatus = Literal["matched", "mismatch", "unmatched"]


class LineMatch(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How one invoice line compares; quantities and prices are in the invoice line's unit."""

    line_number: str
    index: int
    status: LineStatus
    po_line: str | None = None
    uom: str
    invoiced_quantity: Decimal
    reference_quantity: Decimal | None = None
    invoiced_unit_price: Decimal
    po_unit_price: Decimal | None = None
    invoiced_amount: Decimal
    expected_amount: Decimal | None = None
    difference: Decimal | None = None


class MatchResult(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The match of one invoice against one PO; ``matched`` when nothing needs a person."""

    po_number: str
    matched: bool
    lines: tuple[LineMatch, ...]
    issues: tuple[ValidationIssue, ...]
    invoiced_total: Decimal
    expected_total: Decimal | None = None
    difference: Decimal | None = None


# --- the invoice against itself -----------------------------------------------------------


def _amount_issue(kind: Literal["line_amount_mismatch", "subtotal_mismatch",
                                "tax_total_mismatch", "total_mismatch"],
                  where: str, what: str, expected: Decimal, actual: Decimal) -> ValidationIssue:
    return ValidationIssue(
        kind=kind, severity="error", pointer=where,
        message=f"{what} is {actual}, expected {expected} (off by {actual - expected})",
        expected=str(expected), actual=str(actual), difference=actual - expected,
        percent=percent_off(expected, actual),
    )


def invoice_arithmetic(invoice: Invoice) -> list[ValidationIssue]:
    """Does the invoice add up? Each stated amount within 0.01 of what it should equal."""
    issues: list[ValidationIssue] = []
    for index, line in enumerate(invoice.lines):
        extended = line.quantity.value * line.unit_price.amount
        if abs(line.amount.amount - extended) > AMOUNT_TOLERANCE:
            issues.append(_amount_issue(
                "line_amount_mismatch", pointer("lines", index, "amount", "amount"),
                f"line {line.line_number} amount", extended, line.amount.amount))
    lines = sum((line.amount.amount for line in invoice.lines), Decimal(0))
    charges = sum((ac.amount.amount for ac in invoice.allowances_charges
                   if ac.kind == "charge"), Decimal(0))
    allowances = sum((ac.amount.amount for ac in invoice.allowances_charges
                      if ac.kind == "allowance"), Decimal(0))
    tax = sum((t.amount.amount for t in invoice.taxes), Decimal(0))
    totals = invoice.totals
    if totals.subtotal is not None and abs(totals.subtotal.amount - lines) > AMOUNT_TOLERANCE:
        issues.append(_amount_issue("subtotal_mismatch", "/totals/subtotal/amount",
                                    "subtotal", lines, totals.subtotal.amount))
    if totals.tax_total is not None and abs(totals.tax_total.amount - tax) > AMOUNT_TOLERANCE:
        issues.append(_amount_issue("tax_total_mismatch", "/totals/tax_total/amount",
                                    "tax total (sum of the tax lines)", tax,
                                    totals.tax_total.amount))
    total = lines + charges - allowances + tax
    if abs(totals.total.amount - total) > AMOUNT_TOLERANCE:
        issues.append(_amount_issue(
            "total_mismatch", "/totals/total/amount",
            "total (lines + charges - allowances + tax)", total, totals.total.amount))
    return issues


# --- pairing lines ------------------------------------------------------------------------


def _identifiers(ref: ItemRef) -> set[tuple[str, str]]:
    return {(name, value) for name in ("sku", "gtin", "supplier_part", "buyer_part")
            if (value := getattr(ref, name)) is not None}


def same_item(a: ItemRef, b: ItemRef, catalog: ItemCatalog | None, supplier: str) -> bool | None:
    """True/False when the two references can be compared, None when neither way is known."""
    if catalog is not None:
        left, right = catalog.resolve(a, supplier).item, catalog.resolve(b, supplier).item
        if left is not None and right is not None:
            return left.sku == right.sku
    shared = _identifiers(a) & _identifiers(b)
    if shared:
        return True
    names = {n for n, _ in _identifiers(a)} & {n for n, _ in _identifiers(b)}
    return False if names else None


def _pair(line: InvoiceLine, po: PurchaseOrder, catalog: ItemCatalog | None,
          supplier: str) -> PurchaseOrderLine | None:
    by_number = {pl.line_number: pl for pl in po.lines}
    if line.po_line_number is not None:
        return by_number.get(line.po_line_number)
    same = by_number.get(line.line_number)
    if same is not None and same_item(line.item, same.item, catalog, supplier) is not False:
        return same
    candidates = [pl for pl in po.lines if same_item(line.item, pl.item, catalog, supplier)]
    return candidates[0] if len(candidates) == 1 else None


# --- comparing one line -------------------------------------------------------------------


def _factor(uom: str, item: Item | None) -> Decimal | None:
    return None if item is None else item.factor(uom)


def _total(quantities: Quantity | Sequence[Quantity] | None, item: Item | None
           ) -> tuple[Decimal, str] | None:
    """Sum of quantities in their common unit, else in the item's base unit (exact)."""
    if quantities is None:
        return None
    qs = [quantities] if isinstance(quantities, Quantity) else list(quantities)
    if not qs:
        return None
    units = {q.uom for q in qs}
    if len(units) == 1:
        return sum((q.value for q in qs), Decimal(0)), qs[0].uom
    if item is None:
        return None
    total = Decimal(0)
    for q in qs:
        factor = item.factor(q.uom)
        if factor is None:
            return None
        total += q.value * factor
    return total, item.base_uom


class _LineCheck:
    """Compares one invoice line with its PO line; collects issues."""

    def __init__(self, invoice: Invoice, index: int, po: PurchaseOrder,
                 tolerances: Tolerances, catalog: ItemCatalog | None, supplier: str) -> None:
        self.invoice, self.index, self.po = invoice, index, po
        self.line = invoice.lines[index]
        self.tolerances, self.catalog, self.supplier = tolerances, catalog, supplier
        self.issues: list[ValidationIssue] = []

    def issue(self, issue: ValidationIssue) -> None:
        self.issues.append(msgspec.structs.replace(issue, po_number=self.po.document_id))

    def item(self, po_line: PurchaseOrderLine) -> Item | None:
        if self.catalog is None:
            return None
        return (self.catalog.resolve(self.line.item, self.supplier).item
                or self.catalog.resolve(po_line.item, self.supplier).item)

    def unit_ratio(self, from_uom: str, to_uom: str, item: Item | None, where: str
                   ) -> tuple[Decimal, Decimal] | None:
        """(factor of from_uom, factor of to_uom), or None with an unknown_uom issue."""
        if from_uom == to_uom:
            return Decimal(1), Decimal(1)
        f_from, f_to = _factor(from_uom, item), _factor(to_uom, item)
        if f_from is None or f_to is None:
            self.issue(ValidationIssue(kind="unknown_uom", severity="exception", pointer=where,
                       message=f"no conversion between {from_uom} and {to_uom} on file for "
                               f"the item of invoice line {self.line.line_number}",
                       expected=to_uom, actual=from_uom))
            return None
        return f_from, f_to

    def run(self, po_line: PurchaseOrderLine, reference: Quantity | Sequence[Quantity] | None,
            price_list: Decimal | None, price_uom: str | None) -> LineMatch:
        line, index = self.line, self.index
        item = self.item(po_line)
        ours = f"/lines/{index}"
        if same_item(line.item, po_line.item, self.catalog, self.supplier) is False:
            self.issue(ValidationIssue(kind="item_mismatch", severity="exception", pointer=f"{ours}/item",
                       message=f"invoice line {line.line_number} bills another item than PO "
                               f"line {po_line.line_number}", po_line=po_line.line_number))
        uom = line.quantity.uom
        # Price per invoice unit.
        ref_price, ref_uom = (po_line.unit_price.amount, po_line.quantity.uom) \
            if po_line.unit_price is not None else (price_list, price_uom)
        po_price: Decimal | None = None
        if ref_price is None or ref_uom is None:
            self.issue(ValidationIssue(kind="no_reference_price", severity="warning",
                       pointer=f"{ours}/unit_price/amount", po_line=po_line.line_number,
                       message=f"PO line {po_line.line_number} has no price and no price "
                               "list entry: the invoice price is not checked"))
        elif (ratio := self.unit_ratio(uom, ref_uom, item, f"{ours}/quantity/uom")) is not None:
            f_inv, f_ref = ratio
            po_price = ref_price * f_inv / f_ref
            self.price(line.unit_price.amount * f_ref, ref_price * f_inv, po_price, po_line)
        # Quantity received (or shipped), in the invoice unit when exact.
        got = _total(reference, item)
        ref_qty: Decimal | None = None
        if got is None:
            self.issue(ValidationIssue(kind="not_received", severity="exception", pointer=f"{ours}/quantity",
                       po_line=po_line.line_number,
                       message=f"nothing received or shipped on PO line {po_line.line_number} "
                               f"for invoice line {line.line_number}"))
        elif (ratio := self.unit_ratio(got[1], uom, item, f"{ours}/quantity/uom")) is not None:
            f_got, f_inv = ratio
            ref_qty = got[0] * f_got / f_inv
            self.quantity(line.quantity.value * f_inv, got[0] * f_got, ref_qty, po_line)
        expected = po_price * ref_qty if po_price is not None and ref_qty is not None else None
        bad = any(i.severity != "warning" for i in self.issues)
        return LineMatch(
            line_number=line.line_number, index=index, po_line=po_line.line_number,
            status="mismatch" if bad else "matched", uom=uom,
            invoiced_quantity=line.quantity.value, reference_quantity=ref_qty,
            invoiced_unit_price=line.unit_price.amount, po_unit_price=po_price,
            invoiced_amount=line.amount.amount, expected_amount=expected,
            difference=None if expected is None else line.amount.amount - expected,
        )

    def price(self, invoiced_x: Decimal, po_x: Decimal, po_price: Decimal,
              po_line: PurchaseOrderLine) -> None:
        """``invoiced_x``/``po_x`` are the cross-multiplied prices the decision is made on."""
        if within_percent(po_x, invoiced_x, self.tolerances.price_percent):
            return
        over = invoiced_x > po_x
        actual = self.line.unit_price.amount
        self.issue(ValidationIssue(
            kind="price_outside_tolerance", severity="exception" if over else "warning",
            pointer=f"/lines/{self.index}/unit_price/amount", po_line=po_line.line_number,
            message=f"invoice line {self.line.line_number} price {actual} per "
                    f"{self.line.quantity.uom} vs PO {po_price}: "
                    f"{percent_off(po_x, invoiced_x)}% (tolerance "
                    f"{self.tolerances.price_percent}%)",
            expected=str(po_price), actual=str(actual), difference=actual - po_price,
            percent=percent_off(po_x, invoiced_x),
        ))

    def quantity(self, invoiced_base: Decimal, got_base: Decimal, got: Decimal,
                 po_line: PurchaseOrderLine) -> None:
        if within_percent(got_base, invoiced_base, self.tolerances.quantity_percent):
            return
        over = invoiced_base > got_base
        actual = self.line.quantity.value
        self.issue(ValidationIssue(
            kind="quantity_outside_tolerance" if over else "partial_quantity",
            severity="exception" if over else "warning",
            pointer=f"/lines/{self.index}/quantity/value", po_line=po_line.line_number,
            message=f"invoice line {self.line.line_number} bills {actual} "
                    f"{self.line.quantity.uom}, {got} received/shipped: "
                    f"{percent_off(got_base, invoiced_base)}% (tolerance "
                    f"{self.tolerances.quantity_percent}%)",
            expected=str(got), actual=str(actual), difference=actual - got,
            percent=percent_off(got_base, invoiced_base),
        ))


# --- the match ----------------------------------------------------------------------------


def match_invoice(
    invoice: Invoice,
    po: PurchaseOrder,
    received_or_shipped_quantities: Mapping[str, Quantity | Sequence[Quantity]],
    tolerances: Tolerances,
    *,
    catalog: ItemCatalog | None = None,
    supplier: str | None = None,
) -> MatchResult:
    """Match ``invoice`` against ``po`` and the quantities received (or shipped) per PO line.

    ``received_or_shipped_quantities`` maps a PO line number to its quantity (or the list of
    quantities received, in any units the item converts). ``catalog`` resolves items, unit
    conversions and the price list (for PO lines without a price); ``supplier`` defaults to
    the invoice's supplier id.
    """
    supplier_id = supplier or invoice.supplier.id or ""
    issues = invoice_arithmetic(invoice)
    if invoice.currency != po.currency and po.currency is not None:
        issues.append(ValidationIssue(
            kind="currency_mismatch", severity="error", pointer="/currency",
            message=f"invoice is in {invoice.currency}, PO {po.document_id} in {po.currency}",
            expected=po.currency, actual=invoice.currency, po_number=po.document_id))
    lines: list[LineMatch] = []
    for index, line in enumerate(invoice.lines):
        po_line = _pair(line, po, catalog, supplier_id)
        if po_line is None:
            issues.append(ValidationIssue(
                kind="unknown_po_line", severity="exception",
                pointer=f"/lines/{index}" + ("/po_line_number" if line.po_line_number else ""),
                message=f"invoice line {line.line_number} matches no line of PO "
                        f"{po.document_id}", po_number=po.document_id,
                actual=line.po_line_number))
            lines.append(LineMatch(
                line_number=line.line_number, index=index, status="unmatched",
                uom=line.quantity.uom, invoiced_quantity=line.quantity.value,
                invoiced_unit_price=line.unit_price.amount, invoiced_amount=line.amount.amount))
            continue
        check = _LineCheck(invoice, index, po, tolerances, catalog, supplier_id)
        listed, listed_uom = None, None
        if po_line.unit_price is None and catalog is not None:
            resolved = catalog.resolve(po_line.item, supplier_id).item
            entry = None if resolved is None else catalog.price(
                supplier_id, resolved.sku, po.issue_date or invoice.invoice_date)
            if entry is not None and entry.currency == invoice.currency:
                listed, listed_uom = entry.unit_price, entry.price_uom
        lines.append(check.run(po_line, received_or_shipped_quantities.get(po_line.line_number),
                               listed, listed_uom))
        issues.extend(check.issues)
    return _result(invoice, po, lines, issues)


def _result(invoice: Invoice, po: PurchaseOrder, lines: list[LineMatch],
            issues: list[ValidationIssue]) -> MatchResult:
    invoiced_total = invoice.totals.total.amount
    expected_total: Decimal | None = None
    if all(m.expected_amount is not None for m in lines):
        adjust = sum((ac.amount.amount if ac.kind == "charge" else -ac.amount.amount
                      for ac in invoice.allowances_charges), Decimal(0))
        tax = sum((t.amount.amount for t in invoice.taxes), Decimal(0))
        expected_total = sum((m.expected_amount or Decimal(0) for m in lines), Decimal(0)) \
            + adjust + tax
    return MatchResult(
        po_number=po.document_id,
        matched=not any(i.severity != "warning" for i in issues),
        lines=tuple(lines), issues=tuple(issues), invoiced_total=invoiced_total,
        expected_total=expected_total,
        difference=None if expected_total is None else invoiced_total - expected_total,
    )
