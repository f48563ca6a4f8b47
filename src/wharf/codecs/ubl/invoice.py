"""UBL ``Invoice`` and ``CreditNote`` ⇄ :class:`~wharf.model.Invoice`.

Amounts are kept as UBL states them. A ``CreditNote`` (or an Invoice with type code 381/396)
is recorded as such in ``notes``; its amounts are not negated. A negative invoiced quantity (a
returned item on an invoice) is kept as its absolute value with the line amount as stated, and
a note says so.

Mapping: ``AccountingSupplierParty`` → supplier, ``AccountingCustomerParty`` → buyer,
``PayeeParty`` → remit-to. PO numbers: ``OrderReference/ID``, then the lines'
``OrderLineReference/OrderReference/ID``, then ``AdditionalDocumentReference``s of type 105
(UNCL 1001 purchase order) — the writer puts a second and further PO there. Payment terms:
``PaymentTerms/Note`` → description, ``SettlementDiscountPercent`` and
``SettlementPeriod/DurationMeasure`` (days) → the early-payment discount, and the due date
(``cbc:DueDate``, else ``PaymentMeans/PaymentDueDate``) minus the issue date → net days.
Taxes: each ``TaxSubtotal`` of the ``TaxTotal`` in the document currency becomes a tax line
whose kind is ``<scheme>:<category>`` (``VAT:S``) and rate the category's percent; the
total's ``TaxAmount`` is the tax total. Totals: ``LegalMonetaryTotal/LineExtensionAmount`` →
subtotal, ``TaxInclusiveAmount`` (else ``PayableAmount``) → total. Line-level allowances and
charges are already in the line amounts and are not kept separately.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from wharf.codecs.ubl.common import (
    CAC,
    CBC,
    MoneyFields,
    Reading,
    decimal_text,
    first_text,
    item_fields,
    party_fields,
    sub,
    ubl_root,
    write_amount,
    write_item,
    write_party,
)
from wharf.codecs.ubl.order import unit_price
from wharf.codecs.xml import build, parse_decimal, text_of
from wharf.errors import DocumentError
from wharf.model import Invoice

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    from wharf.model import PaymentTerms

__all__ = ("read_invoice", "write_invoice")

_CREDIT_TYPES = frozenset({"381", "396", "532", "CreditNote"})
_PURCHASE_ORDER_TYPES = frozenset({"105", "PurchaseOrder", "Order"})
CREDIT_NOTE = "credit note (UBL {source}); amounts as stated"


def read_invoice(root: ET.Element, reading: Reading) -> Invoice:
    """Read an ``Invoice`` or ``CreditNote`` document."""
    where = reading.where
    credit = root.tag.endswith("}CreditNote")
    prefix = "CreditNote" if credit else "Invoice"
    invoice_id = text_of(root.find(f"{CBC}ID"))
    if not invoice_id:
        raise DocumentError("the invoice has no ID", pointer=f"{where}/cbc:ID")
    issue = reading.date(root.find(f"{CBC}IssueDate"), f"{where}/cbc:IssueDate", "IssueDate")
    if issue is None:
        raise DocumentError("the invoice has no IssueDate", pointer=f"{where}/cbc:IssueDate")
    data: dict[str, object] = {"document_id": invoice_id, "invoice_date": issue}
    type_code = text_of(root.find(f"{CBC}{prefix}TypeCode"))
    if credit:
        reading.notes.append(CREDIT_NOTE.format(source="CreditNote"))
    elif type_code in _CREDIT_TYPES:
        reading.notes.append(CREDIT_NOTE.format(source=f"InvoiceTypeCode {type_code}"))
    currency = text_of(root.find(f"{CBC}DocumentCurrencyCode"))
    if currency:
        reading.currency_code(currency, f"{where}/cbc:DocumentCurrencyCode")
    for key, path, pointer in (
        ("supplier", f"{CAC}AccountingSupplierParty/{CAC}Party", "cac:AccountingSupplierParty"),
        ("buyer", f"{CAC}AccountingCustomerParty/{CAC}Party", "cac:AccountingCustomerParty"),
        ("remit_to", f"{CAC}PayeeParty", "cac:PayeeParty"),
    ):
        party = party_fields(root.find(path))
        if party is not None:
            data[key] = party
            reading.origins[f"/{key}"] = f"{where}/{pointer}"
    if "supplier" not in data:
        raise DocumentError(
            "the invoice names no supplier", pointer=f"{where}/cac:AccountingSupplierParty"
        )
    terms = _read_terms(root, where, issue, reading)
    if terms is not None:
        data["terms"] = terms
    po_numbers: list[str] = []
    header_po = text_of(root.find(f"{CAC}OrderReference/{CBC}ID"))
    if header_po:
        po_numbers.append(header_po)
    lines = []
    line_tag, quantity_tag = (
        ("CreditNoteLine", "CreditedQuantity") if credit else ("InvoiceLine", "InvoicedQuantity")
    )
    for index, element in enumerate(root.iterfind(f"{CAC}{line_tag}")):
        pointer = f"{where}/cac:{line_tag}[{index + 1}]"
        reading.origins[f"/lines/{index}"] = pointer
        line, po = _read_line(element, pointer, quantity_tag, reading)
        lines.append(line)
        if po and po not in po_numbers:
            po_numbers.append(po)
    for reference in root.iterfind(f"{CAC}AdditionalDocumentReference"):
        kind = first_text(reference, f"{CBC}DocumentTypeCode", f"{CBC}DocumentType")
        number = text_of(reference.find(f"{CBC}ID"))
        if kind in _PURCHASE_ORDER_TYPES and number and number not in po_numbers:
            po_numbers.append(number)
    data["po_numbers"] = po_numbers
    data["lines"] = lines
    data["allowances_charges"] = _read_allowances(root, where, reading)
    _read_taxes(root, where, data, reading)
    _read_totals(root, where, data, reading)
    data["currency"] = reading.currency or "XXX"
    data["notes"] = [
        t for t in (text_of(e) for e in root.iterfind(f"{CBC}Note")) if t
    ] + reading.notes
    data["source"] = reading.source()
    return build(data, Invoice, reading.origins, where)


def _read_terms(
    root: ET.Element, where: str, issue: dt.date, reading: Reading
) -> dict[str, object] | None:
    element = root.find(f"{CAC}PaymentTerms")
    due_element = root.find(f"{CBC}DueDate")
    due_pointer = f"{where}/cbc:DueDate"
    if due_element is None:
        due_element = root.find(f"{CAC}PaymentMeans/{CBC}PaymentDueDate")
        due_pointer = f"{where}/cac:PaymentMeans/cbc:PaymentDueDate"
    due = reading.date(due_element, due_pointer, "due date")
    if element is None and due is None:
        return None
    terms: dict[str, object] = {}
    if due is not None:
        days = (due - issue).days
        if 0 <= days <= 3650:
            terms["net_days"] = days
        else:
            reading.notes.append(
                f"due date {due} is {days} days from the issue date; not read as net days"
            )
    if element is None:
        return terms
    here = f"{where}/cac:PaymentTerms"
    notes = [t for t in (text_of(e) for e in element.iterfind(f"{CBC}Note")) if t]
    if notes:
        terms["description"] = "\n".join(notes)
    percent = text_of(element.find(f"{CBC}SettlementDiscountPercent"))
    if percent is not None:
        terms["discount_percent"] = parse_decimal(percent, f"{here}/cbc:SettlementDiscountPercent")
    duration = element.find(f"{CAC}SettlementPeriod/{CBC}DurationMeasure")
    raw = text_of(duration)
    if (
        duration is not None
        and raw is not None
        and (duration.get("unitCode") or "DAY").upper() == "DAY"
    ):
        value = parse_decimal(raw, f"{here}/cac:SettlementPeriod/cbc:DurationMeasure")
        if value != value.to_integral_value():
            raise DocumentError(
                f"settlement period {raw} is not whole days",
                pointer=f"{here}/cac:SettlementPeriod/cbc:DurationMeasure",
            )
        terms["discount_days"] = int(value)
    return terms


def _read_line(
    element: ET.Element, pointer: str, quantity_tag: str, reading: Reading
) -> tuple[dict[str, object], str | None]:
    line_id = text_of(element.find(f"{CBC}ID"))
    if not line_id:
        raise DocumentError("the line has no ID", pointer=f"{pointer}/cbc:ID")
    reference = element.find(f"{CAC}OrderLineReference")
    po_line = text_of(reference.find(f"{CBC}LineID")) if reference is not None else None
    po = text_of(reference.find(f"{CAC}OrderReference/{CBC}ID")) if reference is not None else None
    quantity = reading.quantity(
        element.find(f"{CBC}{quantity_tag}"), f"{pointer}/cbc:{quantity_tag}", allow_negative=True
    )
    amount = reading.amount(
        element.find(f"{CBC}LineExtensionAmount"), f"{pointer}/cbc:LineExtensionAmount"
    )
    if amount is None:
        raise DocumentError(
            "the line amount is missing", pointer=f"{pointer}/cbc:LineExtensionAmount"
        )
    price = unit_price(element.find(f"{CAC}Price"), f"{pointer}/cac:Price", reading)
    if price is None:
        value = (
            abs(amount["amount"]) / quantity["value"]
            if quantity["value"]
            else abs(amount["amount"])
        )
        price = MoneyFields(amount=value, currency=amount["currency"])
        reading.notes.append(f"{pointer} has no price; line amount / quantity is used")
    line: dict[str, object] = {
        "line_number": line_id,
        "item": item_fields(element.find(f"{CAC}Item"), f"{pointer}/cac:Item", po_line, reading),
        "quantity": quantity,
        "unit_price": price,
        "amount": amount,
    }
    if po_line:
        line["po_line_number"] = po_line
    return line, po


def _read_allowances(root: ET.Element, where: str, reading: Reading) -> list[dict[str, object]]:
    adjustments: list[dict[str, object]] = []
    for index, element in enumerate(root.iterfind(f"{CAC}AllowanceCharge")):
        pointer = f"{where}/cac:AllowanceCharge[{index + 1}]"
        indicator = text_of(element.find(f"{CBC}ChargeIndicator"))
        if indicator not in ("true", "false", "1", "0"):
            raise DocumentError(
                f"ChargeIndicator {indicator!r} is not true or false",
                pointer=f"{pointer}/cbc:ChargeIndicator",
            )
        amount = reading.amount(element.find(f"{CBC}Amount"), f"{pointer}/cbc:Amount")
        if amount is None:
            raise DocumentError(
                "the allowance or charge has no amount", pointer=f"{pointer}/cbc:Amount"
            )
        adjustment: dict[str, object] = {
            "kind": "charge" if indicator in ("true", "1") else "allowance",
            "amount": amount,
        }
        code = text_of(element.find(f"{CBC}AllowanceChargeReasonCode"))
        if code:
            adjustment["code"] = code
        reason = text_of(element.find(f"{CBC}AllowanceChargeReason"))
        if reason:
            adjustment["description"] = reason
        reading.origins[f"/allowances_charges/{len(adjustments)}"] = pointer
        adjustments.append(adjustment)
    return adjustments


def _read_taxes(root: ET.Element, where: str, data: dict[str, object], reading: Reading) -> None:
    chosen: tuple[int, ET.Element] | None = None
    for index, total in enumerate(root.iterfind(f"{CAC}TaxTotal")):
        tax_amount = total.find(f"{CBC}TaxAmount")
        matches = tax_amount is not None and tax_amount.get("currencyID") == reading.currency
        if chosen is None or matches:
            chosen = (index, total)
        if matches:
            break
    if chosen is None:
        data["taxes"] = []
        return
    index, total = chosen
    pointer = f"{where}/cac:TaxTotal[{index + 1}]"
    tax_total = reading.amount(total.find(f"{CBC}TaxAmount"), f"{pointer}/cbc:TaxAmount")
    if tax_total is not None:
        data["tax_total"] = tax_total
    taxes: list[dict[str, object]] = []
    for position, subtotal in enumerate(total.iterfind(f"{CAC}TaxSubtotal")):
        here = f"{pointer}/cac:TaxSubtotal[{position + 1}]"
        amount = reading.amount(subtotal.find(f"{CBC}TaxAmount"), f"{here}/cbc:TaxAmount")
        if amount is None:
            raise DocumentError(
                "the tax subtotal has no TaxAmount", pointer=f"{here}/cbc:TaxAmount"
            )
        category = subtotal.find(f"{CAC}TaxCategory")
        scheme = code = None
        rate_text = text_of(subtotal.find(f"{CBC}Percent"))
        if category is not None:
            code = text_of(category.find(f"{CBC}ID"))
            scheme = text_of(category.find(f"{CAC}TaxScheme/{CBC}ID"))
            rate_text = text_of(category.find(f"{CBC}Percent")) or rate_text
        kind = f"{scheme}:{code}" if scheme and code else scheme or code or "tax"
        tax: dict[str, object] = {"kind": kind, "amount": amount}
        if rate_text is not None:
            tax["rate"] = parse_decimal(rate_text, f"{here}/cac:TaxCategory/cbc:Percent", "percent")
        reading.origins[f"/taxes/{len(taxes)}"] = here
        taxes.append(tax)
    data["taxes"] = taxes


def _read_totals(root: ET.Element, where: str, data: dict[str, object], reading: Reading) -> None:
    pointer = f"{where}/cac:LegalMonetaryTotal"
    element = root.find(f"{CAC}LegalMonetaryTotal")
    if element is None:
        raise DocumentError("the LegalMonetaryTotal is missing", pointer=pointer)
    totals: dict[str, object] = {}
    subtotal = reading.amount(
        element.find(f"{CBC}LineExtensionAmount"), f"{pointer}/cbc:LineExtensionAmount"
    )
    if subtotal is not None:
        totals["subtotal"] = subtotal
    tax_total = data.pop("tax_total", None)
    if tax_total is not None:
        totals["tax_total"] = tax_total
    total = reading.amount(
        element.find(f"{CBC}TaxInclusiveAmount"), f"{pointer}/cbc:TaxInclusiveAmount"
    )
    if total is None:
        total = reading.amount(element.find(f"{CBC}PayableAmount"), f"{pointer}/cbc:PayableAmount")
    if total is None:
        raise DocumentError("the invoice states no total", pointer=f"{pointer}/cbc:PayableAmount")
    totals["total"] = total
    reading.origins["/totals"] = pointer
    data["totals"] = totals


# --- writing --------------------------------------------------------------------------------


def write_invoice(
    invoice: Invoice, customization: str, profile: str, version: str | None
) -> ET.Element:
    """Write an Invoice as a UBL ``Invoice`` (type 380)."""
    root = ubl_root("Invoice", customization, profile, version)
    sub(root, "cbc:ID", invoice.document_id)
    sub(root, "cbc:IssueDate", invoice.invoice_date.isoformat())
    terms = invoice.terms
    if terms is not None and terms.net_days is not None:
        sub(
            root,
            "cbc:DueDate",
            (invoice.invoice_date + dt.timedelta(days=terms.net_days)).isoformat(),
        )
    sub(root, "cbc:InvoiceTypeCode", "380")
    for note in invoice.notes:
        sub(root, "cbc:Note", note)
    sub(root, "cbc:DocumentCurrencyCode", invoice.currency)
    if invoice.po_numbers:
        sub(sub(root, "cac:OrderReference"), "cbc:ID", invoice.po_numbers[0])
    for po_number in invoice.po_numbers[1:]:
        reference = sub(root, "cac:AdditionalDocumentReference")
        sub(reference, "cbc:ID", po_number)
        sub(reference, "cbc:DocumentTypeCode", "105")
    write_party(root, "cac:AccountingSupplierParty", invoice.supplier)
    if invoice.buyer is not None:
        write_party(root, "cac:AccountingCustomerParty", invoice.buyer)
    if invoice.remit_to is not None:
        write_party(root, None, invoice.remit_to, "cac:PayeeParty")
    if terms is not None and (
        terms.net_days is None
        or terms.description
        or terms.discount_percent is not None
        or terms.discount_days is not None
    ):
        _write_terms(root, terms)
    for adjustment in invoice.allowances_charges:
        element = sub(root, "cac:AllowanceCharge")
        sub(element, "cbc:ChargeIndicator", "true" if adjustment.kind == "charge" else "false")
        if adjustment.code:
            sub(element, "cbc:AllowanceChargeReasonCode", adjustment.code)
        if adjustment.description:
            sub(element, "cbc:AllowanceChargeReason", adjustment.description)
        write_amount(element, "cbc:Amount", adjustment.amount)
    totals = invoice.totals
    if totals.tax_total is not None or invoice.taxes:
        tax_total = sub(root, "cac:TaxTotal")
        if totals.tax_total is not None:
            write_amount(tax_total, "cbc:TaxAmount", totals.tax_total)
        else:
            sub(tax_total, "cbc:TaxAmount", None, {"currencyID": invoice.currency})
        for tax in invoice.taxes:
            subtotal = sub(tax_total, "cac:TaxSubtotal")
            write_amount(subtotal, "cbc:TaxAmount", tax.amount)
            scheme, _, code = tax.kind.partition(":")
            category = sub(subtotal, "cac:TaxCategory")
            if code:
                sub(category, "cbc:ID", code)
            if tax.rate is not None:
                sub(category, "cbc:Percent", decimal_text(tax.rate))
            sub(sub(category, "cac:TaxScheme"), "cbc:ID", scheme)
    monetary = sub(root, "cac:LegalMonetaryTotal")
    if totals.subtotal is not None:
        write_amount(monetary, "cbc:LineExtensionAmount", totals.subtotal)
    write_amount(monetary, "cbc:TaxInclusiveAmount", totals.total)
    write_amount(monetary, "cbc:PayableAmount", totals.total)
    for line in invoice.lines:
        element = sub(root, "cac:InvoiceLine")
        sub(element, "cbc:ID", line.line_number)
        sub(
            element,
            "cbc:InvoicedQuantity",
            decimal_text(line.quantity.value),
            {"unitCode": line.quantity.uom},
        )
        write_amount(element, "cbc:LineExtensionAmount", line.amount)
        if line.po_line_number is not None:
            sub(sub(element, "cac:OrderLineReference"), "cbc:LineID", line.po_line_number)
        write_item(element, line.item)
        write_amount(sub(element, "cac:Price"), "cbc:PriceAmount", line.unit_price)
    return root


def _write_terms(root: ET.Element, terms: PaymentTerms) -> None:
    element = sub(root, "cac:PaymentTerms")
    if terms.description:
        sub(element, "cbc:Note", terms.description)
    if terms.discount_percent is not None:
        sub(element, "cbc:SettlementDiscountPercent", decimal_text(terms.discount_percent))
    if terms.discount_days is not None:
        period = sub(element, "cac:SettlementPeriod")
        sub(period, "cbc:DurationMeasure", str(terms.discount_days), {"unitCode": "DAY"})
