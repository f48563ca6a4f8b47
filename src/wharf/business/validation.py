"""Validation before posting: a canonical document against master data, its PO and tolerances.

``validate(document, context)`` is pure and synchronous: everything it needs (the POs and
acknowledgments the document refers to, quantities received, the items it names, prices,
tolerances, today's date) is gathered first by :func:`build_context`, so a redelivered
document validates the same way and the function is trivial to test.

What each document type is checked for (severities as in :mod:`wharf.business.issues`):

* every item reference resolves through the supplier's part numbers, GTIN or SKU — an
  unknown one is ``unknown_item`` (an ``exception`` for acks, ASNs, invoices and returns;
  a ``warning`` for catalogs, inventory, lead times and rebates, and for the ERP's own POs);
* acknowledgment: PO and PO line known; per PO line the acknowledged quantity (the sum of
  its non-rejected answers, converted to the PO's unit), price and promised date against
  the PO (price list when the PO has no price) with the partner's tolerances; promised
  dates not before the PO date nor more than ``max_past_days`` in the past; substitutions
  always go to a buyer;
* ship notice: PO and line known, item is the PO line's; shipped quantity per PO line
  (all packs of this ASN summed, converted; earlier ASNs are not subtracted) against the
  acknowledged or ordered quantity — over
  tolerance is an ``exception``, short is a ``warning`` (partial shipments are normal);
  shipped not before the PO date; delivery not before shipment; shipping later than the
  promised date by more than ``date_days`` is a ``warning`` (the goods come anyway: the
  receipt must still be expected);
* invoice: the arithmetic (``error``), dates, then the three-way match of
  :mod:`wharf.business.matching` against its one PO;
* purchase order (from the ERP): requested dates not before the issue date (``error``),
  items, units and prices against master data (``warning``: the ERP is authoritative).

An invoice naming several POs is checked for arithmetic, items and PO numbers, but the
three-way match runs only for an invoice of one PO.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from wharf.business.issues import (
    Severity,
    Tolerances,
    ValidationIssue,
    percent_off,
    within_percent,
)
from wharf.business.matching import invoice_arithmetic, match_invoice, same_item
from wharf.business.records import ConversionError, ItemCatalog, convert
from wharf.model import (
    Document,
    Invoice,
    Item,
    ItemRef,
    POAcknowledgment,
    PurchaseOrder,
    Quantity,
    ShipNotice,
    po_numbers,
)
from wharf.model.documents import AcknowledgmentLine, PurchaseOrderLine, ReturnAuthorization

if TYPE_CHECKING:
    from collections.abc import Iterator

    from wharf.business.lifecycle import PurchaseOrderLedger
    from wharf.business.masterdata import MasterData

__all__ = ("ValidationContext", "build_context", "item_refs", "validate")


class ValidationContext(msgspec.Struct, frozen=True, kw_only=True):
    """Everything :func:`validate` may look at; build it with :func:`build_context`.

    ``received`` maps a PO number to its quantities per PO line (received if any receipt
    was recorded for the line, else shipped), for the invoice's three-way match.
    """

    supplier: str
    today: date
    tolerances: Tolerances = msgspec.field(default_factory=Tolerances)
    catalog: ItemCatalog = msgspec.field(default_factory=ItemCatalog)
    purchase_orders: Mapping[str, PurchaseOrder] = msgspec.field(default_factory=dict)
    acknowledgments: Mapping[str, POAcknowledgment] = msgspec.field(default_factory=dict)
    received: Mapping[str, Mapping[str, Sequence[Quantity]]] = msgspec.field(
        default_factory=dict)
    max_past_days: int = 0


def item_refs(document: Document) -> Iterator[ItemRef]:
    """Every item reference in a document (lines, shipped items, substitutes)."""
    if isinstance(document, ShipNotice):
        for order in document.orders:
            for pack in order.packs:
                yield from (shipped.item for shipped in pack.items)
            yield from (shipped.item for shipped in order.items)
        return
    for line in getattr(document, "lines", ()):
        for name in ("item", "substitute"):
            ref = getattr(line, name, None)
            if isinstance(ref, ItemRef):
                yield ref


async def build_context(
    document: Document,
    *,
    supplier: str,
    master: MasterData,
    ledger: PurchaseOrderLedger,
    tolerances: Tolerances,
    today: date,
    max_past_days: int = 0,
) -> ValidationContext:
    """Gather the POs, acks, quantities, items and prices ``document`` needs from the stores."""
    orders: dict[str, PurchaseOrder] = {}
    acks: dict[str, POAcknowledgment] = {}
    received: dict[str, Mapping[str, Sequence[Quantity]]] = {}
    numbers = po_numbers(document)
    for number in numbers:
        po = await ledger.order(number, supplier)
        if po is not None:
            orders[number] = po
        ack = await ledger.acknowledgment(number, supplier)
        if ack is not None:
            acks[number] = ack
        received[number] = await ledger.quantities(number, supplier)
    refs = [*item_refs(document), *(ref for po in orders.values() for ref in item_refs(po))]
    return ValidationContext(
        supplier=supplier, today=today, tolerances=tolerances,
        catalog=await master.catalog_for(refs, supplier), purchase_orders=orders,
        acknowledgments=acks, received=received, max_past_days=max_past_days,
    )


def validate(document: Document, context: ValidationContext) -> list[ValidationIssue]:
    """Check ``document``; an empty list means it may be posted as it is."""
    v = _Validator(context)
    match document:
        case POAcknowledgment():
            v.acknowledgment(document)
        case ShipNotice():
            v.ship_notice(document)
        case Invoice():
            v.invoice(document)
        case PurchaseOrder():
            v.purchase_order(document)
        case ReturnAuthorization():
            v.items(document, "exception")
        case _:
            v.items(document, "warning")
    return v.issues


class _Validator:
    def __init__(self, context: ValidationContext) -> None:
        self.ctx = context
        self.issues: list[ValidationIssue] = []

    def add(self, issue: ValidationIssue) -> None:
        self.issues.append(issue)

    # -- items and units ---------------------------------------------------------------------

    def resolve(self, ref: ItemRef, where: str, severity: Severity,
                po: str | None = None) -> Item | None:
        match = self.ctx.catalog.resolve(ref, self.ctx.supplier)
        if match.item is not None:
            return match.item
        named = ", ".join(f"{k} {v!r}" for k, v in msgspec.structs.asdict(ref).items()
                          if v is not None and k != "description")
        if match.conflict:
            self.add(ValidationIssue(
                kind="item_conflict", severity=severity, pointer=where, po_number=po,
                message=f"item reference ({named}) names different items: "
                        f"{', '.join(match.conflict)}"))
        else:
            self.add(ValidationIssue(
                kind="unknown_item", severity=severity, pointer=where, po_number=po,
                message=f"no item of supplier {self.ctx.supplier!r} for {named}"))
        return None

    def total_in(self, parts: Sequence[tuple[str, Quantity]], expected: Quantity,
                 item: Item | None, po: str, line: str, *, report: bool = True
                 ) -> tuple[Decimal, Decimal, str] | None:
        """The parts summed and ``expected``, in ``expected``'s unit (base unit if inexact).

        Returns None when a unit has no conversion on file, after reporting ``unknown_uom``
        (pointing at the first part that cannot be converted) if ``report``.
        """
        if all(q.uom == expected.uom for _, q in parts):
            return sum((q.value for _, q in parts), Decimal(0)), expected.value, expected.uom
        total = Decimal(0)
        for where, q in parts:
            factor = None if item is None else item.factor(q.uom)
            if item is None or factor is None or item.factor(expected.uom) is None:
                if not report:
                    return None
                known = "no item on file" if item is None else \
                    f"item {item.sku} has no conversion between {q.uom} and {expected.uom}"
                self.add(ValidationIssue(
                    kind="unknown_uom", severity="exception", pointer=where, po_number=po,
                    po_line=line, expected=expected.uom, actual=q.uom,
                    message=f"cannot compare {q.uom} with the PO line's {expected.uom}: "
                            f"{known}"))
                return None
            total += q.value * factor
        assert item is not None  # parts is not empty (else every unit would have matched)
        try:
            return convert(total, item.base_uom, expected.uom, item), expected.value, \
                expected.uom
        except ConversionError:
            return total, convert(expected.value, expected.uom, item.base_uom, item), \
                item.base_uom

    # -- comparisons ------------------------------------------------------------------------

    def quantity(self, actual: Decimal, expected: Decimal, unit: str, where: str, *,
                 po: str, line: str, short: Severity | None) -> None:
        """``short``: severity when under tolerance (None = same as over)."""
        limit = self.ctx.tolerances.quantity_percent
        if within_percent(expected, actual, limit):
            return
        under = actual < expected
        severity: Severity = short if (under and short is not None) else "exception"
        self.add(ValidationIssue(
            kind="partial_quantity" if under and short == "warning"
            else "quantity_outside_tolerance",
            severity=severity, pointer=where, po_number=po, po_line=line,
            message=f"quantity {actual} {unit} for PO {po} line {line}, expected {expected} "
                    f"{unit}: {percent_off(expected, actual)}% (tolerance {limit}%)",
            expected=str(expected), actual=str(actual), difference=actual - expected,
            percent=percent_off(expected, actual)))

    def price(self, actual: Decimal, expected: Decimal, where: str, *, po: str, line: str,
              severity: Severity = "exception", basis: str = "PO") -> None:
        limit = self.ctx.tolerances.price_percent
        if within_percent(expected, actual, limit):
            return
        self.add(ValidationIssue(
            kind="price_outside_tolerance", severity=severity, pointer=where, po_number=po,
            po_line=line,
            message=f"price {actual} for PO {po} line {line}, {basis} price {expected}: "
                    f"{percent_off(expected, actual)}% (tolerance {limit}%)",
            expected=str(expected), actual=str(actual), difference=actual - expected,
            percent=percent_off(expected, actual)))

    def date_vs(self, actual: date, expected: date, where: str, *, po: str, line: str | None,
                what: str, severity: Severity = "exception") -> None:
        days = (actual - expected).days
        if abs(days) <= self.ctx.tolerances.date_days:
            return
        self.add(ValidationIssue(
            kind="date_outside_tolerance", severity=severity, pointer=where, po_number=po,
            po_line=line,
            message=f"{what} {actual} is {abs(days)} day(s) {'after' if days > 0 else 'before'} "
                    f"{expected} (tolerance {self.ctx.tolerances.date_days} days)",
            expected=expected.isoformat(), actual=actual.isoformat(), difference=Decimal(days)))

    def not_before_po(self, day: date, po: PurchaseOrder, where: str, what: str) -> None:
        if po.issue_date is not None and day < po.issue_date:
            self.add(ValidationIssue(
                kind="date_before_po", severity="error", pointer=where,
                po_number=po.document_id,
                message=f"{what} {day} is before PO {po.document_id} was issued "
                        f"({po.issue_date})",
                expected=po.issue_date.isoformat(), actual=day.isoformat(),
                difference=Decimal((day - po.issue_date).days)))

    def not_in_past(self, day: date, where: str, po: str, what: str) -> None:
        oldest = self.ctx.today.toordinal() - self.ctx.max_past_days
        if day.toordinal() < oldest:
            self.add(ValidationIssue(
                kind="date_in_past", severity="exception", pointer=where, po_number=po,
                message=f"{what} {day} is in the past (today {self.ctx.today}, "
                        f"{self.ctx.max_past_days} day(s) allowed)",
                expected=self.ctx.today.isoformat(), actual=day.isoformat(),
                difference=Decimal((day - self.ctx.today).days)))

    def range(self, start: date, end: date, where: str, what: str) -> None:
        if end < start:
            self.add(ValidationIssue(
                kind="impossible_date_range", severity="error", pointer=where,
                message=f"{what}: {end} is before {start}", expected=start.isoformat(),
                actual=end.isoformat(), difference=Decimal((end - start).days)))

    def po(self, number: str, where: str) -> PurchaseOrder | None:
        po = self.ctx.purchase_orders.get(number)
        if po is None:
            self.add(ValidationIssue(
                kind="unknown_po", severity="exception", pointer=where, po_number=number,
                message=f"no purchase order {number} for supplier {self.ctx.supplier!r}",
                actual=number))
        return po

    def po_line(self, po: PurchaseOrder, number: str, where: str) -> PurchaseOrderLine | None:
        for line in po.lines:
            if line.line_number == number:
                return line
        self.add(ValidationIssue(
            kind="unknown_po_line", severity="exception", pointer=where,
            po_number=po.document_id, actual=number,
            message=f"PO {po.document_id} has no line {number}"))
        return None

    def items(self, document: Document, severity: Severity) -> None:
        for index, line in enumerate(getattr(document, "lines", ())):
            item = getattr(line, "item", None)
            if isinstance(item, ItemRef):
                self.resolve(item, f"/lines/{index}/item", severity)

    # -- documents --------------------------------------------------------------------------

    def purchase_order(self, po: PurchaseOrder) -> None:
        for index, line in enumerate(po.lines):
            item = self.resolve(line.item, f"/lines/{index}/item", "warning")
            if item is not None and item.factor(line.quantity.uom) is None:
                self.add(ValidationIssue(
                    kind="unknown_uom", severity="warning",
                    pointer=f"/lines/{index}/quantity/uom", actual=line.quantity.uom,
                    message=f"item {item.sku} has no conversion for {line.quantity.uom}"))
            if po.issue_date is not None and line.requested_date is not None:
                self.range(po.issue_date, line.requested_date,
                           f"/lines/{index}/requested_date", "requested date before issue date")
            if item is not None and line.unit_price is not None and po.issue_date is not None:
                listed = self.ctx.catalog.price(self.ctx.supplier, item.sku, po.issue_date)
                if listed is not None and listed.price_uom == line.quantity.uom \
                        and listed.currency == line.unit_price.currency:
                    self.price(line.unit_price.amount, listed.unit_price,
                               f"/lines/{index}/unit_price/amount", po=po.document_id,
                               line=line.line_number, severity="warning", basis="price list")
        if po.issue_date is not None and po.requested_date is not None:
            self.range(po.issue_date, po.requested_date, "/requested_date",
                       "requested date before issue date")

    def acknowledgment(self, ack: POAcknowledgment) -> None:
        po = self.po(ack.po_number, "/po_number")
        if po is None:
            for index, line in enumerate(ack.lines):
                if line.item is not None:
                    self.resolve(line.item, f"/lines/{index}/item", "exception",
                                 ack.po_number)
            return
        if ack.currency and po.currency and ack.currency != po.currency:
            self.add(ValidationIssue(
                kind="currency_mismatch", severity="error", pointer="/currency",
                po_number=po.document_id, expected=po.currency, actual=ack.currency,
                message=f"acknowledgment in {ack.currency}, PO {po.document_id} in {po.currency}"))
        answered: dict[str, list[tuple[int, AcknowledgmentLine]]] = {}
        for index, line in enumerate(ack.lines):
            po_line = self.po_line(po, line.line_number, f"/lines/{index}/line_number")
            if po_line is not None:
                answered.setdefault(line.line_number, []).append((index, line))
        for number, lines in answered.items():
            self.ack_line(po, next(pl for pl in po.lines if pl.line_number == number), lines,
                          ack.currency)

    def ack_line(self, po: PurchaseOrder, po_line: PurchaseOrderLine,
                 lines: list[tuple[int, AcknowledgmentLine]], ack_currency: str | None) -> None:
        """Check the answers to one PO line (a split line has several)."""
        item = self.ctx.catalog.resolve(po_line.item, self.ctx.supplier).item
        number = po_line.line_number
        quantities: list[tuple[str, Quantity]] = []
        for index, line in lines:
            here = f"/lines/{index}"
            if line.item is not None:
                acked = self.resolve(line.item, f"{here}/item", "exception", po.document_id)
                if acked is not None and line.status != "substituted" and same_item(
                        line.item, po_line.item, self.ctx.catalog, self.ctx.supplier) is False:
                    self.add(ValidationIssue(
                        kind="item_mismatch", severity="exception", pointer=f"{here}/item",
                        po_number=po.document_id, po_line=number,
                        message=f"line {number} acknowledges item {acked.sku}, the PO line "
                                "orders another item"))
            if line.substitute is not None:
                self.resolve(line.substitute, f"{here}/substitute", "exception",
                             po.document_id)
                self.add(ValidationIssue(
                    kind="substituted_item", severity="exception",
                    pointer=f"{here}/substitute", po_number=po.document_id, po_line=number,
                    message=f"the supplier substitutes another item on PO line {number}"))
            if line.status == "rejected":
                continue  # an answer, not a disagreement: it goes to the ERP as it is
            if line.quantity is not None:
                quantities.append((f"{here}/quantity/value", line.quantity))
            if line.unit_price is not None:
                self.ack_price(po, po_line, line, index, item, ack_currency)
            if line.promised_date is not None:
                self.promised(po, po_line, line.promised_date, f"{here}/promised_date")
        if quantities:
            compared = self.total_in(quantities, po_line.quantity, item, po.document_id, number)
            if compared is not None:
                actual, expected, unit = compared
                self.quantity(actual, expected, unit, quantities[0][0], po=po.document_id,
                              line=number, short=None)

    def promised(self, po: PurchaseOrder, po_line: PurchaseOrderLine, day: date,
                 where: str) -> None:
        self.not_before_po(day, po, where, "promised date")
        self.not_in_past(day, where, po.document_id, "promised date")
        requested = po_line.requested_date or po.requested_date
        if requested is not None:
            self.date_vs(day, requested, where, po=po.document_id, line=po_line.line_number,
                         what="promised date")

    def ack_price(self, po: PurchaseOrder, po_line: PurchaseOrderLine,
                  line: AcknowledgmentLine, index: int, item: Item | None,
                  ack_currency: str | None) -> None:
        assert line.unit_price is not None
        where = f"/lines/{index}/unit_price/amount"
        currency = po.currency or (po_line.unit_price.currency if po_line.unit_price else None)
        if currency is not None and line.unit_price.currency != currency:
            if ack_currency is not None:
                return  # the acknowledgment's currency was reported (its lines share it)
            self.add(ValidationIssue(
                kind="currency_mismatch", severity="error",
                pointer=f"/lines/{index}/unit_price/currency", po_number=po.document_id,
                po_line=po_line.line_number, expected=currency,
                actual=line.unit_price.currency,
                message=f"price in {line.unit_price.currency}, PO in {currency}"))
            return
        expected, basis = (po_line.unit_price.amount, "PO") if po_line.unit_price else \
            (None, "price list")
        if expected is None and item is not None:
            listed = self.ctx.catalog.price(self.ctx.supplier, item.sku,
                                            po.issue_date or self.ctx.today)
            if listed is not None and listed.price_uom == po_line.quantity.uom \
                    and listed.currency == line.unit_price.currency:
                expected = listed.unit_price
        if expected is not None:
            self.price(line.unit_price.amount, expected, where, po=po.document_id,
                       line=po_line.line_number, basis=basis)

    def ship_notice(self, asn: ShipNotice) -> None:
        shipped_on = asn.shipped_at.date() if asn.shipped_at is not None else None
        if shipped_on is not None and asn.estimated_delivery is not None:
            self.range(shipped_on, asn.estimated_delivery, "/estimated_delivery",
                       "estimated delivery before the shipment")
        for o, order in enumerate(asn.orders):
            here = f"/orders/{o}"
            po = self.po(order.po_number, f"{here}/po_number")
            shipped = [(f"{here}/packs/{p}/items/{i}", s) for p, pack in enumerate(order.packs)
                       for i, s in enumerate(pack.items)]
            shipped += [(f"{here}/items/{i}", s) for i, s in enumerate(order.items)]
            if po is None:
                for where, item in shipped:
                    self.resolve(item.item, f"{where}/item", "exception", order.po_number)
                continue
            if shipped_on is not None:
                self.not_before_po(shipped_on, po, "/shipped_at", "ship date")
            per_line: dict[str, list[tuple[str, Quantity]]] = {}
            items: dict[str, Item | None] = {}
            for where, s in shipped:
                resolved = self.resolve(s.item, f"{where}/item", "exception", po.document_id)
                po_line = self.shipped_line(po, s.line_number, s.item, where)
                if po_line is None:
                    continue
                if resolved is not None and same_item(s.item, po_line.item, self.ctx.catalog,
                                                      self.ctx.supplier) is False:
                    self.add(ValidationIssue(
                        kind="item_mismatch", severity="exception", pointer=f"{where}/item",
                        po_number=po.document_id, po_line=po_line.line_number,
                        message=f"shipped item {resolved.sku} is not the item of PO line "
                                f"{po_line.line_number}"))
                per_line.setdefault(po_line.line_number, []).append(
                    (f"{where}/quantity/value", s.quantity))
                items[po_line.line_number] = resolved or self.ctx.catalog.resolve(
                    po_line.item, self.ctx.supplier).item
            for number, parts in per_line.items():
                po_line = next(pl for pl in po.lines if pl.line_number == number)
                self.shipped_quantity(po, po_line, parts, items[number])
                if shipped_on is not None:
                    promised = self.promised_date(po, po_line)
                    if promised is not None and shipped_on > promised:
                        self.date_vs(shipped_on, promised, "/shipped_at", po=po.document_id,
                                     line=number, what="ship date", severity="warning")

    def shipped_line(self, po: PurchaseOrder, number: str | None, ref: ItemRef,
                     where: str) -> PurchaseOrderLine | None:
        if number is not None:
            return self.po_line(po, number, f"{where}/line_number")
        candidates = [pl for pl in po.lines
                      if same_item(ref, pl.item, self.ctx.catalog, self.ctx.supplier)]
        if len(candidates) == 1:
            return candidates[0]
        self.add(ValidationIssue(
            kind="unknown_po_line", severity="exception", pointer=f"{where}/item",
            po_number=po.document_id,
            message=f"the shipped item names no line number and matches "
                    f"{len(candidates)} lines of PO {po.document_id}"))
        return None

    def expected_quantity(self, po: PurchaseOrder, po_line: PurchaseOrderLine
                          ) -> list[tuple[str, Quantity]] | None:
        """What the supplier committed to: its acknowledged quantities, else None."""
        ack = self.ctx.acknowledgments.get(po.document_id)
        if ack is None:
            return None
        answers = [line for line in ack.lines if line.line_number == po_line.line_number
                   and line.status != "rejected" and line.quantity is not None]
        return [(f"/lines/{index}", line.quantity) for index, line in enumerate(answers)
                if line.quantity is not None] or None

    def shipped_quantity(self, po: PurchaseOrder, po_line: PurchaseOrderLine,
                         parts: list[tuple[str, Quantity]], item: Item | None) -> None:
        expected = po_line.quantity
        acked = self.expected_quantity(po, po_line)
        if acked is not None:
            # The ack was checked when it came; here it only sets what is expected.
            committed = self.total_in(acked, po_line.quantity, item, po.document_id,
                                      po_line.line_number, report=False)
            if committed is not None and committed[2] == po_line.quantity.uom:
                expected = Quantity(value=committed[0], uom=po_line.quantity.uom)
        compared = self.total_in(parts, expected, item, po.document_id, po_line.line_number)
        if compared is not None:
            actual, wanted, unit = compared
            self.quantity(actual, wanted, unit, parts[0][0], po=po.document_id,
                          line=po_line.line_number, short="warning")

    def promised_date(self, po: PurchaseOrder, po_line: PurchaseOrderLine) -> date | None:
        ack = self.ctx.acknowledgments.get(po.document_id)
        if ack is not None:
            dates = [line.promised_date for line in ack.lines
                     if line.line_number == po_line.line_number and line.promised_date]
            if dates:
                return max(d for d in dates if d is not None)
        return po_line.requested_date or po.requested_date

    def invoice(self, invoice: Invoice) -> None:
        terms = invoice.terms
        if terms is not None and terms.discount_days is not None and terms.net_days is not None \
                and terms.discount_days > terms.net_days:
            self.add(ValidationIssue(
                kind="impossible_date_range", severity="error", pointer="/terms/discount_days",
                expected=str(terms.net_days), actual=str(terms.discount_days),
                message=f"discount period ({terms.discount_days} days) ends after the net "
                        f"period ({terms.net_days} days)"))
        for index, line in enumerate(invoice.lines):
            self.resolve(line.item, f"/lines/{index}/item", "exception")
        if not invoice.po_numbers:
            self.add(ValidationIssue(
                kind="unknown_po", severity="exception", pointer="/po_numbers",
                message="the invoice names no purchase order"))
        known = [po for k, number in enumerate(invoice.po_numbers)
                 if (po := self.po(number, f"/po_numbers/{k}")) is not None]
        for po in known:
            self.not_before_po(invoice.invoice_date, po, "/invoice_date", "invoice date")
        if len(invoice.po_numbers) == 1 and known:
            result = match_invoice(
                invoice, known[0], self.ctx.received.get(known[0].document_id, {}),
                self.ctx.tolerances, catalog=self.ctx.catalog, supplier=self.ctx.supplier)
            self.issues.extend(result.issues)
        else:
            self.issues.extend(invoice_arithmetic(invoice))
