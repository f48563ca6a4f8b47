"""cXML ``InvoiceDetailRequest`` ⇄ :class:`~wharf.model.Invoice`.

One invoice may cover several POs: each ``InvoiceDetailOrder`` names one (``OrderReference/@orderID``,
else the referenced order's payloadID, else ``OrderIDInfo/@orderID``) and holds that PO's
``InvoiceDetailItem``s. The canonical invoice keeps the PO numbers in ``po_numbers`` and the
PO line of each invoice line in ``po_line_number``; which PO a line belongs to is not kept.
When writing, all lines go under the first PO; further POs get an ``InvoiceDetailOrder`` each.

Amounts are kept as stated. ``InvoiceDetailSummary``: ``SubtotalAmount`` → subtotal, ``Tax/Money``
→ tax total, ``TaxDetail`` → tax lines (line-level ``TaxDetail``s when the summary has none),
``ShippingAmount``/``SpecialHandlingAmount`` → charges and ``InvoiceDetailDiscount`` → an
allowance (when not zero), ``InvoiceHeaderModifications`` → allowances and charges, and
``NetAmount`` (else ``DueAmount``, else ``GrossAmount``) → the total. When none of those has a
value the total is computed from the summary, with a note.

Leniency, each with a note on the document: an ``invoiceDate`` that is not a date (seen: the
template placeholder ``invoice_date``) falls back to the date of the cXML timestamp; a
currency that is not an ISO 4217 code becomes ``XXX``; an item the invoice identifies only by
its PO line and a description gets the placeholder ``buyer_part`` ``"po-line:<n>"``. Credit and
debit memos (``@purpose``) are recorded in ``notes``; amounts are not negated.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Required, TypedDict

from wharf.codecs.cxml.common import (
    BUYER_ROLES,
    SUPPLIER_ROLES,
    MoneyFields,
    Reading,
    comments,
    datetime_text,
    decimal_text,
    known_item,
    money_fields,
    order_reference,
    party_from_contact,
    quantity_fields,
    sub,
    write_comments,
    write_item_id,
    write_postal_address,
)
from wharf.codecs.xml import build, parse_date, parse_decimal, text_of
from wharf.errors import DocumentError
from wharf.model import Invoice

if TYPE_CHECKING:
    import datetime as dt

    from wharf.model import InvoiceLine, Party, PaymentTerms

__all__ = ("read_invoice_detail_request", "write_invoice_detail_request")

_SUPPLIER_ROLES = ("invoiceFrom", "from", *SUPPLIER_ROLES)
_BUYER_ROLES = ("soldTo", "billTo", *BUYER_ROLES)
_PURPOSE_NOTES = {
    "creditMemo": "credit memo (cXML purpose creditMemo); amounts as stated",
    "lineLevelCreditMemo": "credit memo (cXML purpose lineLevelCreditMemo); amounts as stated",
    "debitMemo": "debit memo (cXML purpose debitMemo)",
    "lineLevelDebitMemo": "debit memo (cXML purpose lineLevelDebitMemo)",
}


class _Adjustment(TypedDict, total=False):
    kind: Required[str]
    amount: Required[MoneyFields]
    code: str
    description: str


_SUMMARY_CHARGES = (("ShippingAmount", "shipping"), ("SpecialHandlingAmount", "specialHandling"))


def read_invoice_detail_request(request: ET.Element, reading: Reading) -> Invoice:
    """Read an ``InvoiceDetailRequest`` element found at ``reading.where``."""
    where = reading.where
    head = f"{where}/InvoiceDetailRequestHeader"
    header = request.find("InvoiceDetailRequestHeader")
    if header is None:
        raise DocumentError("the InvoiceDetailRequestHeader is missing", pointer=head)
    invoice_id = (header.get("invoiceID") or "").strip()
    if not invoice_id:
        raise DocumentError("the invoice has no invoiceID", pointer=f"{head}/@invoiceID")
    if request.find("InvoiceDetailHeaderOrder") is not None:
        raise DocumentError(
            "header-level invoices (InvoiceDetailHeaderOrder) are not supported",
            pointer=f"{where}/InvoiceDetailHeaderOrder",
        )
    data: dict[str, object] = {
        "document_id": invoice_id,
        "invoice_date": _invoice_date(header, head, reading),
    }
    purpose_note = _PURPOSE_NOTES.get(header.get("purpose") or "standard")
    if purpose_note:
        reading.notes.append(purpose_note)
    if header.get("operation") == "delete":
        reading.notes.append("cXML operation delete: this cancels an earlier invoice")
    summary = request.find("InvoiceDetailSummary")
    summary_pointer = f"{where}/InvoiceDetailSummary"
    if summary is None:
        raise DocumentError("the InvoiceDetailSummary is missing", pointer=summary_pointer)
    # The summary's subtotal fixes the document currency before any line is read.
    subtotal = reading.money(
        summary.find("SubtotalAmount/Money"), f"{summary_pointer}/SubtotalAmount/Money"
    )
    _read_partners(header, data, reading)
    terms = _read_terms(header, head)
    if terms is not None:
        data["terms"] = terms
    po_numbers: list[str] = []
    lines: list[dict[str, object]] = []
    line_taxes: list[dict[str, object]] = []
    for index, order in enumerate(request.iterfind("InvoiceDetailOrder")):
        pointer = f"{where}/InvoiceDetailOrder[{index + 1}]"
        po_number = _order_number(order, pointer, reading)
        if po_number and po_number not in po_numbers:
            po_numbers.append(po_number)
        if order.find("InvoiceDetailServiceItem") is not None:
            raise DocumentError(
                "service items (InvoiceDetailServiceItem) are not supported",
                pointer=f"{pointer}/InvoiceDetailServiceItem",
            )
        for position, item in enumerate(order.iterfind("InvoiceDetailItem")):
            here = f"{pointer}/InvoiceDetailItem[{position + 1}]"
            reading.origins[f"/lines/{len(lines)}"] = here
            lines.append(_read_item(item, here, len(lines), reading))
            _read_tax_details(item.find("Tax"), f"{here}/Tax", line_taxes, reading)
    data["po_numbers"] = po_numbers
    data["lines"] = lines
    _read_summary(summary, summary_pointer, subtotal, data, line_taxes, reading)
    data["currency"] = reading.currency or "XXX"
    data["notes"] = comments(header) + reading.added_notes()
    data["source"] = reading.source()
    return build(data, Invoice, reading.origins, where)


def _invoice_date(header: ET.Element, head: str, reading: Reading) -> dt.date:
    raw = header.get("invoiceDate") or ""
    try:
        return parse_date(raw, f"{head}/@invoiceDate", "invoiceDate")
    except DocumentError:
        timestamp = reading.header.timestamp
        if not timestamp:
            raise
        try:
            fallback = parse_date(timestamp, "/cXML/@timestamp")
        except DocumentError:
            raise DocumentError(
                f"invoiceDate {raw[:40]!r} is not an ISO 8601 date", pointer=f"{head}/@invoiceDate"
            ) from None
        reading.notes.append(
            f"invoiceDate {raw[:40]!r} is not a date; the date of the cXML timestamp is used"
        )
        return fallback


def _read_partners(header: ET.Element, data: dict[str, object], reading: Reading) -> None:
    partners = [(p, p.find("Contact")) for p in header.iterfind("InvoicePartner")]

    def partner(roles: tuple[str, ...]) -> dict[str, object] | None:
        for role in roles:
            for holder, contact in partners:
                if contact is not None and contact.get("role") == role:
                    return party_from_contact(contact, holder)
        return None

    # An invoice goes from the supplier (From) to the buyer (To).
    supplier = partner(_SUPPLIER_ROLES) or reading.party(
        header, SUPPLIER_ROLES, reading.header.from_identity
    )
    if supplier is None:
        raise DocumentError("the invoice names no supplier", pointer=reading.where)
    data["supplier"] = supplier
    for key, roles in (("buyer", _BUYER_ROLES), ("remit_to", ("remitTo",))):
        party = partner(roles)
        if party is not None:
            data[key] = party


def _read_terms(header: ET.Element, head: str) -> dict[str, object] | None:
    terms: dict[str, object] | None = None
    for index, term in enumerate(header.iterfind("PaymentTerm")):
        here = f"{head}/PaymentTerm[{index + 1}]"
        terms = terms if terms is not None else {}
        raw_days = term.get("payInNumberOfDays")
        days = None
        if raw_days is not None and raw_days.strip():
            value = parse_decimal(raw_days, f"{here}/@payInNumberOfDays", "payInNumberOfDays")
            if value != value.to_integral_value() or not 0 <= value <= 3650:
                raise DocumentError(
                    f"payInNumberOfDays {raw_days.strip()} is not a whole number of days (0-3650)",
                    pointer=f"{here}/@payInNumberOfDays",
                )
            days = int(value)
        discount = term.find("Discount")
        if discount is None:
            if days is not None:
                terms.setdefault("net_days", days)
            continue
        if days is not None:
            terms.setdefault("discount_days", days)
        percent = discount.find("DiscountPercent")
        if percent is not None and percent.get("percent"):
            terms.setdefault(
                "discount_percent",
                parse_decimal(
                    percent.get("percent") or "", f"{here}/Discount/DiscountPercent/@percent"
                ),
            )
    return terms


def _order_number(order: ET.Element, pointer: str, reading: Reading) -> str | None:
    info = order.find("InvoiceDetailOrderInfo")
    if info is None:
        return None
    reference = info.find("OrderReference")
    if reference is not None:
        return order_reference(
            reference, f"{pointer}/InvoiceDetailOrderInfo/OrderReference", reading
        )
    id_info = info.find("OrderIDInfo")
    if id_info is not None:
        return (id_info.get("orderID") or "").strip() or None
    return None


def _read_item(item: ET.Element, pointer: str, index: int, reading: Reading) -> dict[str, object]:
    line_number = (item.get("invoiceLineNumber") or "").strip()
    if not line_number:
        line_number = str(index + 1)
        reading.notes.append(f"{pointer} has no invoiceLineNumber; its position is used")
    quantity = quantity_fields(
        item, pointer, item.find("UnitOfMeasure"), f"{pointer}/UnitOfMeasure"
    )
    price = reading.money(item.find("UnitPrice/Money"), f"{pointer}/UnitPrice/Money")
    if price is None:
        raise DocumentError("the unit price is missing", pointer=f"{pointer}/UnitPrice/Money")
    line: dict[str, object] = {
        "line_number": line_number,
        "quantity": quantity,
        "unit_price": price,
    }
    amount = reading.money(item.find("SubtotalAmount/Money"), f"{pointer}/SubtotalAmount/Money")
    if amount is None:
        amount = MoneyFields(amount=quantity["value"] * price["amount"], currency=price["currency"])
        reading.notes.append(f"{pointer} has no SubtotalAmount; quantity x unit price is used")
    line["amount"] = amount
    reference = item.find("InvoiceDetailItemReference")
    ref_pointer = f"{pointer}/InvoiceDetailItemReference"
    po_line = (reference.get("lineNumber") or "").strip() if reference is not None else ""
    if po_line:
        line["po_line_number"] = po_line
    if reference is None:
        raise DocumentError("the InvoiceDetailItemReference is missing", pointer=ref_pointer)
    description = text_of(reference.find("Description"))
    identified = known_item(reference.find("ItemID"), description)
    if identified is None:
        # cXML invoices often name the item only through the PO line it bills.
        if not po_line:
            raise DocumentError(
                "the invoiced item is not identified", pointer=f"{ref_pointer}/ItemID"
            )
        identified = {"buyer_part": f"po-line:{po_line}"}
        if description:
            identified["description"] = description
        reading.notes.append(f"{pointer} names no item id; buyer_part 'po-line:{po_line}' is used")
    line["item"] = identified
    return line


def _read_tax_details(
    tax: ET.Element | None, pointer: str, taxes: list[dict[str, object]], reading: Reading
) -> None:
    if tax is None:
        return
    for index, detail in enumerate(tax.iterfind("TaxDetail")):
        here = f"{pointer}/TaxDetail[{index + 1}]"
        amount = reading.money(detail.find("TaxAmount/Money"), f"{here}/TaxAmount/Money")
        if amount is None:
            continue
        kind = (
            (detail.get("category") or "").strip() or (detail.get("purpose") or "").strip() or "tax"
        )
        line: dict[str, object] = {"kind": kind, "amount": amount}
        rate = detail.get("percentageRate")
        if rate is not None and rate.strip():
            line["rate"] = parse_decimal(rate, f"{here}/@percentageRate", "percentageRate")
        reading.origins[f"/taxes/{len(taxes)}"] = here
        taxes.append(line)


def _read_summary(
    summary: ET.Element,
    pointer: str,
    subtotal: MoneyFields | None,
    data: dict[str, object],
    line_taxes: list[dict[str, object]],
    reading: Reading,
) -> None:
    totals: dict[str, object] = {}
    if subtotal is not None:
        totals["subtotal"] = subtotal
    tax = summary.find("Tax")
    tax_total = reading.money(
        tax.find("Money") if tax is not None else None, f"{pointer}/Tax/Money"
    )
    if tax_total is not None:
        totals["tax_total"] = tax_total
    taxes: list[dict[str, object]] = []
    _read_tax_details(tax, f"{pointer}/Tax", taxes, reading)
    if not taxes and line_taxes:
        taxes = line_taxes
    data["taxes"] = taxes
    adjustments: list[_Adjustment] = []
    for tag, code in _SUMMARY_CHARGES:
        money = reading.money(summary.find(f"{tag}/Money"), f"{pointer}/{tag}/Money")
        if money is not None and money["amount"] != 0:
            adjustments.append(_Adjustment(kind="charge", code=code, amount=money))
    discount = reading.money(
        summary.find("InvoiceDetailDiscount/Money"), f"{pointer}/InvoiceDetailDiscount/Money"
    )
    if discount is not None and discount["amount"] != 0:
        discount["amount"] = abs(discount["amount"])
        adjustments.append(_Adjustment(kind="allowance", code="discount", amount=discount))
    modifications = summary.find("InvoiceHeaderModifications")
    if modifications is not None:
        for index, modification in enumerate(modifications.iterfind("Modification")):
            here = f"{pointer}/InvoiceHeaderModifications/Modification[{index + 1}]"
            reading.origins[f"/allowances_charges/{len(adjustments)}"] = here
            adjustments.append(_read_modification(modification, here, reading))
    data["allowances_charges"] = adjustments
    for tag in ("NetAmount", "DueAmount", "GrossAmount"):
        total = reading.money(summary.find(f"{tag}/Money"), f"{pointer}/{tag}/Money")
        if total is not None:
            break
    else:
        total = _computed_total(subtotal, tax_total, adjustments)
        if total is None:
            raise DocumentError("the invoice states no total", pointer=f"{pointer}/NetAmount")
        reading.notes.append("NetAmount has no value; the total is computed from the summary")
    totals["total"] = total
    data["totals"] = totals


def _read_modification(modification: ET.Element, pointer: str, reading: Reading) -> _Adjustment:
    cost = modification.find("AdditionalCost/Money")
    deduction = modification.find("AdditionalDeduction/DeductionAmount/Money")
    if cost is not None:
        kind, money = "charge", reading.money(cost, f"{pointer}/AdditionalCost/Money")
    elif deduction is not None:
        kind = "allowance"
        money = reading.money(deduction, f"{pointer}/AdditionalDeduction/DeductionAmount/Money")
    else:
        raise DocumentError(
            "a Modification needs an AdditionalCost or AdditionalDeduction amount", pointer=pointer
        )
    if money is None:
        raise DocumentError("the modification amount is empty", pointer=pointer)
    adjustment = _Adjustment(kind=kind, amount=money)
    detail = modification.find("ModificationDetail")
    if detail is not None:
        name = (detail.get("name") or "").strip()
        if name:
            adjustment["code"] = name
        description = text_of(detail.find("Description"))
        if description:
            adjustment["description"] = description
    return adjustment


def _computed_total(
    subtotal: MoneyFields | None,
    tax_total: MoneyFields | None,
    adjustments: list[_Adjustment],
) -> MoneyFields | None:
    if subtotal is None:
        return None
    amount = subtotal["amount"]
    if tax_total is not None:
        amount += tax_total["amount"]
    for adjustment in adjustments:
        value = adjustment["amount"]["amount"]
        amount += value if adjustment["kind"] == "charge" else -value
    return MoneyFields(amount=amount, currency=subtotal["currency"])


# --- writing --------------------------------------------------------------------------------


def write_invoice_detail_request(invoice: Invoice) -> ET.Element:
    """Write an Invoice as an ``InvoiceDetailRequest`` element."""
    request = ET.Element("InvoiceDetailRequest")
    header = sub(
        request,
        "InvoiceDetailRequestHeader",
        attrs={
            "invoiceID": invoice.document_id,
            "invoiceDate": datetime_text(invoice.invoice_date),
            "purpose": "standard",
            "operation": "new",
        },
    )
    sub(header, "InvoiceDetailHeaderIndicator")
    sub(header, "InvoiceDetailLineIndicator")
    for party, role in (
        (invoice.supplier, "invoiceFrom"),
        (invoice.buyer, "soldTo"),
        (invoice.remit_to, "remitTo"),
    ):
        if party is not None:
            _write_partner(header, party, role)
    if invoice.terms is not None:
        _write_terms(header, invoice.terms)
    write_comments(header, invoice.notes)
    po_numbers = invoice.po_numbers or (None,)
    for index, po_number in enumerate(po_numbers):
        order = sub(request, "InvoiceDetailOrder")
        info = sub(order, "InvoiceDetailOrderInfo")
        if po_number is not None:
            reference = sub(info, "OrderReference", attrs={"orderID": po_number})
            sub(reference, "DocumentReference", attrs={"payloadID": ""})
        if index == 0:
            for line in invoice.lines:
                _write_line(order, line)
    _write_summary(request, invoice)
    return request


def _write_partner(header: ET.Element, party: Party, role: str) -> None:
    partner = sub(header, "InvoicePartner")
    attrs = {"role": role}
    if party.id:
        attrs["addressID"] = party.id
    contact = sub(partner, "Contact", attrs=attrs)
    sub(contact, "Name", party.name or "", {"xml:lang": "en"})
    if party.address is not None:
        write_postal_address(contact, party.address)
    if party.gln:
        sub(partner, "IdReference", attrs={"identifier": party.gln, "domain": "GLN"})
    if party.duns:
        sub(partner, "IdReference", attrs={"identifier": party.duns, "domain": "DUNS"})


def _write_terms(header: ET.Element, terms: PaymentTerms) -> None:
    wrote = False
    if terms.net_days is not None:
        sub(header, "PaymentTerm", attrs={"payInNumberOfDays": str(terms.net_days)})
        wrote = True
    if terms.discount_percent is not None or terms.discount_days is not None:
        attrs = (
            {} if terms.discount_days is None else {"payInNumberOfDays": str(terms.discount_days)}
        )
        discount = sub(sub(header, "PaymentTerm", attrs=attrs), "Discount")
        if terms.discount_percent is not None:
            sub(
                discount, "DiscountPercent", attrs={"percent": decimal_text(terms.discount_percent)}
            )
        wrote = True
    if not wrote:
        sub(header, "PaymentTerm")


def _write_line(order: ET.Element, line: InvoiceLine) -> None:
    item = sub(
        order,
        "InvoiceDetailItem",
        attrs={
            "invoiceLineNumber": line.line_number,
            "quantity": decimal_text(line.quantity.value),
        },
    )
    sub(item, "UnitOfMeasure", line.quantity.uom)
    amount, currency = money_fields(line.unit_price)
    sub(sub(item, "UnitPrice"), "Money", amount, {"currency": currency})
    attrs = {"lineNumber": line.po_line_number} if line.po_line_number is not None else {}
    reference = sub(item, "InvoiceDetailItemReference", attrs=attrs)
    write_item_id(reference, line.item)
    if line.item.description:
        sub(reference, "Description", line.item.description, {"xml:lang": "en"})
    amount, currency = money_fields(line.amount)
    sub(sub(item, "SubtotalAmount"), "Money", amount, {"currency": currency})


def _write_summary(request: ET.Element, invoice: Invoice) -> None:
    summary = sub(request, "InvoiceDetailSummary")
    currency = invoice.currency
    totals = invoice.totals
    if totals.subtotal is not None:
        sub(
            sub(summary, "SubtotalAmount"),
            "Money",
            decimal_text(totals.subtotal.amount),
            {"currency": currency},
        )
    if totals.tax_total is not None or invoice.taxes:
        tax = sub(summary, "Tax")
        text = decimal_text(totals.tax_total.amount) if totals.tax_total is not None else None
        sub(tax, "Money", text, {"currency": currency})
        sub(tax, "Description", "", {"xml:lang": "en"})
        for line in invoice.taxes:
            attrs = {"purpose": "tax", "category": line.kind}
            if line.rate is not None:
                attrs["percentageRate"] = decimal_text(line.rate)
            detail = sub(tax, "TaxDetail", attrs=attrs)
            sub(
                sub(detail, "TaxAmount"),
                "Money",
                decimal_text(line.amount.amount),
                {"currency": currency},
            )
    if invoice.allowances_charges:
        modifications = sub(summary, "InvoiceHeaderModifications")
        for adjustment in invoice.allowances_charges:
            modification = sub(modifications, "Modification")
            amount = decimal_text(adjustment.amount.amount)
            if adjustment.kind == "charge":
                sub(sub(modification, "AdditionalCost"), "Money", amount, {"currency": currency})
            else:
                holder = sub(sub(modification, "AdditionalDeduction"), "DeductionAmount")
                sub(holder, "Money", amount, {"currency": currency})
            detail = sub(modification, "ModificationDetail", attrs={"name": adjustment.code or ""})
            if adjustment.description:
                sub(detail, "Description", adjustment.description, {"xml:lang": "en"})
    sub(
        sub(summary, "NetAmount"),
        "Money",
        decimal_text(totals.total.amount),
        {"currency": currency},
    )
