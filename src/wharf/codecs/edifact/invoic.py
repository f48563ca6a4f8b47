"""INVOIC ↔ Invoice.

Reading the header: BGM 1004 invoice number (a document name other than 380 — 381 credit note,
383 debit note... — is kept as a note: the canonical invoice has no type); DTM+137 (or 3) the
invoice date, required; RFF+ON the orders (line RFF+ON too); NAD+SU/SE supplier (else the
interchange sender), BY/IV/BT buyer, PE remit-to; CUX the currency, required; PAT+1 net days and
PAT+22 discount days with the PCD+12 after it; header ALC with the MOA+8/204/23 after it are the
allowances and charges (line-level ALC are not in the canonical model and are left out).

Lines: QTY+47 invoiced (else 12), PRI (AAA net first), MOA+203 the line amount — when a sender
leaves MOA+203 out it is quantity × price, when it leaves the price out, amount ÷ quantity;
RFF+LI (or RFF+ON's line number) the PO line.

Summary (after UNS+S): MOA+77 (else 86, 39, 128, 9) the total, MOA+79 the line total
(subtotal), MOA+176 the tax total; each TAX with the MOA+124 (or 150) after it is a tax line
(C241 5153 the kind, C243 5278 the rate).

Writing mirrors that: BGM+380, CUX+2:…:4, PAT/PCD, ALC+MOA+8, LIN/PIA/IMD/QTY+47/MOA+203/
PRI+AAA/RFF+LI, UNS+S, MOA+77/79/176, TAX+MOA+124.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wharf.codecs.edifact.groups import (
    amount_of,
    currency_of,
    date_of,
    document_number,
    moa_value,
    notes_of,
    refs_of,
)
from wharf.codecs.edifact.items import (
    price_of,
    quantity_of,
    required_item,
    unique_line_number,
    write_item,
    write_price,
    write_quantity,
)
from wharf.codecs.edifact.parties import parties_of, party, write_party
from wharf.codecs.edifact.values import fault, joined, parse_number
from wharf.codecs.edifact.writer import number, write_date, write_note
from wharf.model import (
    AllowanceCharge,
    Invoice,
    InvoiceLine,
    InvoiceTotals,
    Money,
    Party,
    PaymentTerms,
    Quantity,
    TaxLine,
)

if TYPE_CHECKING:
    from decimal import Decimal

    from wharf.codecs.edifact.groups import Context, Scan, Seg
    from wharf.codecs.edifact.values import Fields
    from wharf.codecs.edifact.writer import Directory, SegmentWriter

__all__ = ("read_invoic", "write_invoic")

_DOCUMENT_NAMES = {
    "381": "credit note",
    "383": "debit note",
    "384": "corrected invoice",
    "389": "self-billed invoice",
    "325": "proforma invoice",
    "393": "factored invoice",
}
_ALC_AMOUNTS = ("8", "204", "23", "131")
_TOTALS = ("77", "86", "39", "128", "9")


def _days(text: str, position: int, f: Fields) -> int | None:
    if not text:
        return None
    value = parse_number(text, position=position, tag="PAT", element=3)
    if value != value.to_integral_value() or not 0 <= value <= 3650:
        raise fault(
            f"{text!r} is not a number of days from 0 to 3650",
            position=position,
            tag="PAT",
            element=3,
        )
    return int(value)


def _terms(header: list[Seg], f: Fields) -> PaymentTerms | None:
    found = False
    description = net_days = discount_days = percent = None
    kind = ""
    for seg, position in header:
        tag = seg[0]
        if tag == "PAT":
            found = True
            kind = f.text(seg, 1)
            description = description or joined(f.parts(seg, 2), 3, 5) or None
            unit = f.text(seg, 3, 2)
            days = _days(f.text(seg, 3, 3), position, f) if unit in ("D", "") else None
            if kind == "1" and net_days is None:
                net_days = days
            elif kind == "22" and discount_days is None:
                discount_days = days
        elif tag == "PCD" and kind in ("22", "1") and f.code(seg, 1) == "12" and percent is None:
            percent = parse_number(f.text(seg, 1, 1), position=position, tag="PCD", element=1)
            if not 0 <= percent <= 100:
                raise fault(
                    f"discount {percent}% is not between 0 and 100",
                    position=position,
                    tag="PCD",
                    element=1,
                )
        elif tag not in ("DTM", "MOA", "PAI", "FII"):
            kind = ""
    if not found:
        return None
    return PaymentTerms(
        description=description,
        net_days=net_days,
        discount_percent=percent,
        discount_days=discount_days,
    )


def _allowances(header: list[Seg], f: Fields, currency: str) -> list[AllowanceCharge]:
    out: list[AllowanceCharge] = []
    pending: Seg | None = None
    for seg, position in header:
        tag = seg[0]
        if tag == "ALC":
            pending = (seg, position) if f.code(seg, 1) in ("A", "C") else None
        elif tag == "MOA" and pending is not None and f.code(seg, 1) in _ALC_AMOUNTS:
            alc = pending[0]
            pending = None
            amount = moa_value((seg, position), f, currency)
            if amount < 0:
                raise fault(
                    f"allowance/charge amount {amount} is negative",
                    position=position,
                    tag="MOA",
                    element=1,
                )
            out.append(
                AllowanceCharge(
                    kind="allowance" if f.code(alc, 1) == "A" else "charge",
                    code=f.text(alc, 5, 0) or f.text(alc, 2, 1) or None,
                    description=joined(f.parts(alc, 5), 3, 5) or None,
                    amount=Money(amount=amount, currency=currency),
                )
            )
    return out


def _taxes(summary: list[Seg], f: Fields, currency: str) -> list[TaxLine]:
    out: list[TaxLine] = []
    pending: Seg | None = None
    for seg, position in summary:
        tag = seg[0]
        if tag == "TAX":
            pending = (seg, position)
        elif tag == "MOA" and pending is not None and f.code(seg, 1) in ("124", "150"):
            tax, at = pending
            pending = None
            rate_text = f.text(tax, 5, 3)
            rate = parse_number(rate_text, position=at, tag="TAX", element=5) if rate_text else None
            if rate is not None and rate < 0:
                raise fault(f"tax rate {rate} is negative", position=at, tag="TAX", element=5)
            out.append(
                TaxLine(
                    kind=f.text(tax, 2, 0) or "TAX",
                    rate=rate,
                    amount=Money(amount=moa_value((seg, position), f, currency), currency=currency),
                )
            )
    return out


def read_invoic(scan: Scan, ctx: Context) -> Invoice:
    f = ctx.fields
    header = scan.header
    document_id, notes = document_number(scan, ctx)
    at_bgm = scan.bgm[1] if scan.bgm else 1
    if scan.bgm is not None:
        name = f.text(scan.bgm[0], 1)
        if name and name != "380":
            kind = _DOCUMENT_NAMES.get(name, "document")
            notes = (*notes, f"EDIFACT: BGM document name {name} ({kind})")
    issued = date_of(scan.tagged("DTM"), ("137", "3"), f)
    if issued is None:
        raise fault("no invoice date (DTM+137)", position=at_bgm, tag="DTM", code="13")
    currency = currency_of(scan.tagged("CUX"), f)
    if currency is None:
        raise fault("no invoice currency (CUX)", position=at_bgm, tag="CUX", code="13")
    parties = parties_of(header, f)
    supplier = party(parties, ("SU", "SE")) or (Party(id=ctx.sender) if ctx.sender else None)
    if supplier is None:
        raise fault("no supplier (NAD+SU)", position=at_bgm, tag="NAD", code="13")
    po_numbers = [ref for ref, _, _ in refs_of(scan.tagged("RFF"), "ON", f)]

    lines: list[InvoiceLine] = []
    seen: set[str] = set()
    for index, line in enumerate(scan.lines):
        line_number = unique_line_number(line, index, f, seen)
        item = required_item(line, f)
        quantity = quantity_of(line, ("47", "12"), f)
        if quantity is None:
            raise fault(
                "the line has no invoiced quantity (QTY+47)",
                position=line.position,
                tag="LIN",
                code="13",
            )
        value = quantity[0]
        price = price_of(line, f)
        amount = amount_of(line.segments, ("203",), f, currency)
        unit_price: Decimal
        if price is not None:
            unit_price = price[0]
        elif amount is not None and value:
            unit_price = amount / value
        else:
            raise fault(
                "the line has no price (PRI) and no amount to derive one from (MOA+203)",
                position=line.position,
                tag="LIN",
                code="13",
            )
        if amount is None:
            amount = value * unit_price
        orders = refs_of(line.segments, "ON", f)
        for ref, _, _ in orders:
            if ref not in po_numbers:
                po_numbers.append(ref)
        by_line = refs_of(line.segments, "LI", f)
        po_line = by_line[0][0] if by_line else next((n for _, n, _ in orders if n), None)
        if po_line is not None and len(po_line) > 20:
            raise fault(
                f"PO line number {po_line!r} is longer than 20 characters",
                position=line.position,
                tag="RFF",
                code="39",
            )
        lines.append(
            InvoiceLine(
                line_number=line_number,
                po_line_number=po_line,
                item=item,
                quantity=Quantity(value=value, uom=quantity[1]),
                unit_price=Money(amount=unit_price, currency=currency),
                amount=Money(amount=amount, currency=currency),
            )
        )
    if not lines:
        raise fault("the invoice has no LIN lines", position=at_bgm, tag="BGM", code="13")

    summary = scan.summary
    total = amount_of(summary, _TOTALS, f, currency)
    if total is None:
        raise fault(
            "no invoice total (MOA+77 or 86 after UNS)",
            position=scan.uns or at_bgm,
            tag="MOA",
            code="13",
        )
    subtotal = amount_of(summary, ("79",), f, currency)
    tax_total = amount_of(summary, ("176",), f, currency)
    return Invoice(
        document_id=document_id,
        invoice_date=issued[0],
        supplier=supplier,
        buyer=party(parties, ("BY", "IV", "BT")),
        remit_to=party(parties, ("PE",)),
        currency=currency,
        po_numbers=tuple(po_numbers),
        terms=_terms(header, f),
        lines=tuple(lines),
        allowances_charges=tuple(_allowances(header, f, currency)),
        taxes=tuple(_taxes(summary, f, currency)),
        totals=InvoiceTotals(
            subtotal=Money(amount=subtotal, currency=currency) if subtotal is not None else None,
            tax_total=Money(amount=tax_total, currency=currency) if tax_total is not None else None,
            total=Money(amount=total, currency=currency),
        ),
        notes=(*notes, *notes_of(scan.tagged("FTX"), f)),
        source=ctx.source,
    )


def write_invoic(w: SegmentWriter, invoice: Invoice, directory: Directory, ref: str) -> None:
    start = len(w.segments)
    w.add("UNH", ref, directory.message_id("INVOIC"))
    w.add("BGM", "380", invoice.document_id, "9")
    write_date(w, "137", invoice.invoice_date)
    for note in invoice.notes:
        write_note(w, "AAI", note)
    for po in invoice.po_numbers:
        w.add("RFF", ("ON", po))
    for role, who in (("SU", invoice.supplier), ("BY", invoice.buyer), ("PE", invoice.remit_to)):
        if who is not None:
            write_party(w, role, who)
    w.add("CUX", ("2", invoice.currency, "4"))
    terms = invoice.terms
    if terms is not None:
        basic = terms.description is not None or terms.net_days is not None
        discount = terms.discount_days is not None or terms.discount_percent is not None
        if basic or not discount:
            w.add(
                "PAT",
                "1",
                ("", "", "", terms.description) if terms.description else None,
                ("5", "3", "D", str(terms.net_days)) if terms.net_days is not None else None,
            )
        if discount:
            w.add(
                "PAT",
                "22",
                None,
                ("5", "3", "D", str(terms.discount_days))
                if terms.discount_days is not None
                else None,
            )
            if terms.discount_percent is not None:
                w.add("PCD", ("12", number(terms.discount_percent)))
    for ac in invoice.allowances_charges:
        w.add(
            "ALC",
            "A" if ac.kind == "allowance" else "C",
            None,
            None,
            None,
            (ac.code or "", "", "", ac.description or ""),
        )
        w.add("MOA", ("8", number(ac.amount.amount)))
    for line in invoice.lines:
        write_item(w, line.line_number, line.item, gtin_type=directory.gtin_type)
        write_quantity(w, "47", line.quantity)
        w.add("MOA", ("203", number(line.amount.amount)))
        write_price(w, line.unit_price.amount)
        if line.po_line_number is not None:
            w.add("RFF", ("LI", line.po_line_number))
    w.add("UNS", "S")
    totals = invoice.totals
    w.add("MOA", ("77", number(totals.total.amount)))
    if totals.subtotal is not None:
        w.add("MOA", ("79", number(totals.subtotal.amount)))
    if totals.tax_total is not None:
        w.add("MOA", ("176", number(totals.tax_total.amount)))
    for tax in invoice.taxes:
        w.add(
            "TAX",
            "7",
            tax.kind,
            None,
            None,
            ("", "", "", number(tax.rate) if tax.rate is not None else ""),
        )
        w.add("MOA", ("124", number(tax.amount.amount)))
    w.add("UNT", str(len(w.segments) - start + 1), ref)
