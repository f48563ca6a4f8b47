"""810 Invoice ↔ :class:`~wharf.model.Invoice`, with X12's implied decimals.

Amounts come in two types and mixing them up is the classic 810 bug: ``TDS01``/``TDS02`` and
``SAC05`` are ``N2`` — two implied decimals, no point (``TDS*387530`` is 3875.30) — while
``IT104`` unit prices, ``TXI02`` tax amounts and ``AMT02`` are ``R`` with an explicit point.
Totals are read as stated; whether they add up is the validator's business (the corpus has an
810 whose TDS does not match its lines).

Reading: ``BIG01`` invoice date and ``BIG02`` number (both required), ``BIG04`` + header
``REF*PO`` the PO numbers; ``CUR02`` currency (default USD); N1 ``SU``/``VN``/``SE``/``II``
supplier (else the interchange sender; for a bare body without either, the first party that is
not a buyer/ship-to, noted), ``BY`` (else ``BT``) buyer, ``RI`` (else ``RE``) remit-to; the first
``ITD`` the terms (ITD03 discount %, ITD05 discount days, ITD07 net days, ITD12 text); ``IT1``
lines (IT101 or the position, IT102/103 quantity, IT104 price — required, IT106+ ids; ``PID*F``
description, ``REF*LI`` the PO line) with amount = quantity × price (4010 IT1 has no extended
amount); ``SAC`` allowances/charges from lines and summary (SAC01 A/C, SAC02 code, SAC05 amount,
SAC15 text; SAC01 N and SACs without SAC05 are skipped, noted); ``TXI`` taxes (TXI01 kind,
TXI02 amount, TXI03 rate); totals ``TDS01`` total, ``AMT*1`` (line item total) subtotal,
``AMT*T`` tax total.
Header ``NTE``/``MSG`` text become notes. Not kept: BIG07 transaction type (credit memo!),
BIG03 PO date, ITD tiers after the first, SDQ, SLN, CAD, ISS, CTT, line-level N1.

Writing: BIG, NTE*GEN notes, CUR*SE, REF*PO for further POs, N1 SU/BY/RI, ITD, IT1 (basis PE)
with PID and REF*LI, TDS, TXI, AMT*1 (subtotal), AMT*T (tax total), SAC, CTT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wharf.codecs.x12.values import (
    PartyLoop,
    bad,
    currency_of,
    date_of,
    decimal_of,
    el,
    implied_of,
    item_ref,
    missing,
    need,
    need_decimal,
    quantity,
    text_of,
)
from wharf.codecs.x12.writer import SetWriter, ck_date, item_ids, n2, num, write_party
from wharf.model import (
    AllowanceCharge,
    Invoice,
    InvoiceLine,
    InvoiceTotals,
    Money,
    PaymentTerms,
    TaxLine,
)

if TYPE_CHECKING:
    from decimal import Decimal

    from wharf.codecs.x12.values import ReadContext
    from wharf.model import Quantity

__all__ = ("read_810", "write_810")

_READ = frozenset(("IT1", "PID", "REF", "SAC", "TXI", "NTE", "MSG", "N1", "N3", "N4", "ITD",
                   "TDS", "AMT", "BIG", "CUR"))
_BUYER_SIDE = frozenset(("BY", "BT", "ST", "SO", "DA", "MI", "PO", "OB"))


class _Line:
    __slots__ = ("code", "description", "number", "po_line", "pos", "price", "qty", "segment")

    def __init__(self, pos: int, segment: list[str], number: str, qty: Quantity,
                 price: Decimal) -> None:
        self.pos, self.segment, self.number, self.qty, self.price = pos, segment, number, qty, price
        self.description: str | None = None
        self.code: str | None = None
        self.po_line: str | None = None


def _line_orders(segment: list[str]) -> list[str]:
    """PO numbers an IT1 names with the ``PO`` qualifier (Ariba summary invoices)."""
    return [el(segment, i + 1) for i in range(6, len(segment) - 1, 2)
            if el(segment, i) == "PO" and el(segment, i + 1)]


def _days(ctx: ReadContext, pos: int, seg: list[str], index: int) -> int | None:
    value = el(seg, index)
    if not value:
        return None
    if len(value) <= 4 and value.isascii() and value.isdigit() and int(value) <= 3650:
        return int(value)
    ctx.warn(pos, seg, index, f"{value!r} is not a number of days")
    return None


def _terms(ctx: ReadContext, pos: int, seg: list[str]) -> PaymentTerms | None:
    percent = decimal_of(el(seg, 3)) if el(seg, 3) else None
    if el(seg, 3) and (percent is None or not 0 <= percent <= 100):
        ctx.warn(pos, seg, 3, f"{el(seg, 3)!r} is not a discount percentage")
        percent = None
    terms = PaymentTerms(
        description=text_of(el(seg, 12)) or None, net_days=_days(ctx, pos, seg, 7),
        discount_percent=percent, discount_days=_days(ctx, pos, seg, 5),
    )
    return terms if terms != PaymentTerms() else None


def _amount(pos: int, seg: list[str], index: int, name: str, *, implied: bool) -> Decimal:
    value = need(pos, seg, index, name)
    number = implied_of(value) if implied else decimal_of(value)
    if number is None:
        raise bad(pos, seg, index, "6", f"{name} {value!r} is not a number")
    return number


def read_810(segments: list[list[str]], ctx: ReadContext) -> Invoice:
    """Read one 810 transaction set (segment 1 is ST)."""
    parties = PartyLoop()
    big: tuple[int, list[str]] | None = None
    tds: tuple[int, list[str]] | None = None
    currency: str | None = None
    notes: list[str] = []
    po_numbers: list[str] = []
    terms: PaymentTerms | None = None
    itd_seen = False
    pending: list[_Line] = []
    line: _Line | None = None
    seen: set[str] = set()
    # Summary SACs (after TDS) total the line SACs when both exist (Ariba): keep one set.
    line_sacs: list[tuple[str, str | None, str | None, Decimal]] = []
    summary_sacs: list[tuple[str, str | None, str | None, Decimal]] = []
    taxes: list[tuple[str, Decimal | None, Decimal]] = []
    tax_total: Decimal | None = None
    subtotal: Decimal | None = None
    for pos, seg in enumerate(segments, 1):
        seg_id = seg[0]
        if seg_id not in _READ:
            continue
        if seg_id == "IT1":
            parties.end()
            number = el(seg, 1) or str(len(pending) + 1)
            if len(number) > 20:
                raise bad(pos, seg, 1, "5", f"line number {number!r} is longer than 20")
            if number in seen:
                raise bad(pos, seg, 1, "7", f"line number {number!r} is used twice")
            seen.add(number)
            line = _Line(pos, seg, number, quantity(pos, seg, 2, 3, "the quantity invoiced"),
                         need_decimal(pos, seg, 4, "the unit price"))
            pending.append(line)
        elif seg_id == "PID":
            text = text_of(el(seg, 5))
            if line is not None and line.description is None and text:
                line.description = text
            if line is not None and line.code is None:
                line.code = el(seg, 4) or None
        elif seg_id == "REF":
            if el(seg, 1) == "LI" and line is not None and el(seg, 2):
                line.po_line = line.po_line or el(seg, 2)
            elif el(seg, 1) == "PO" and line is None and el(seg, 2):
                po_numbers.append(el(seg, 2))
        elif seg_id == "SAC":
            kind = el(seg, 1)
            if kind not in ("A", "C"):
                if kind != "N":
                    raise bad(pos, seg, 1, "7", f"{kind!r} is neither A (allowance) nor C (charge)")
                continue
            if not el(seg, 5):
                ctx.warn(pos, seg, 5, "no amount (a percentage or rate only)")
                continue
            amount = _amount(pos, seg, 5, "the allowance/charge amount", implied=True)
            if amount < 0:
                raise bad(pos, seg, 5, "6", f"the allowance/charge amount {amount} is negative")
            (summary_sacs if tds is not None else line_sacs).append((
                "allowance" if kind == "A" else "charge", el(seg, 2) or None,
                text_of(el(seg, 15)) or None, amount))
        elif seg_id == "TXI":
            kind = need(pos, seg, 1, "the tax type")
            rate = decimal_of(el(seg, 3)) if el(seg, 3) else None
            if el(seg, 3) and (rate is None or rate < 0):
                raise bad(pos, seg, 3, "6", f"tax rate {el(seg, 3)!r} is not a percentage")
            if el(seg, 2):
                taxes.append((kind, rate, _amount(pos, seg, 2, "the tax amount", implied=False)))
            else:
                ctx.warn(pos, seg, 2, "tax without an amount")
        elif seg_id in ("NTE", "MSG"):
            text = text_of(el(seg, 2) if seg_id == "NTE" else el(seg, 1))
            if text and line is None:
                notes.append(text)
        elif seg_id in ("N1", "N3", "N4"):
            parties.feed(pos, seg)
        elif seg_id == "ITD":
            if not itd_seen:
                itd_seen = True
                terms = _terms(ctx, pos, seg)
        elif seg_id == "TDS":
            tds = (pos, seg)
        elif seg_id == "AMT":
            if el(seg, 1) == "T":
                tax_total = _amount(pos, seg, 2, "the tax total", implied=False)
            elif el(seg, 1) == "1":
                subtotal = _amount(pos, seg, 2, "the line item total", implied=False)
        elif seg_id == "BIG":
            big = (pos, seg)
        elif seg_id == "CUR":
            code = currency_of(pos, seg)
            currency = currency or code
    if big is None:
        raise missing(2, "BIG", "an 810 needs its BIG segment")
    pos, seg = big
    invoice_date = date_of(need(pos, seg, 1, "the invoice date"))
    if invoice_date is None:
        raise bad(pos, seg, 1, "8", f"{el(seg, 1)!r} is not a date")
    document_id = need(pos, seg, 2, "the invoice number")
    if el(seg, 4):
        po_numbers.insert(0, el(seg, 4))
    if tds is None:
        raise missing(len(segments), "TDS", "an 810 needs its total (TDS)")
    if not pending:
        raise missing(len(segments), "IT1", "an invoice needs lines")
    cur = currency or "USD"
    total = _amount(*tds, 1, "the total invoice amount", implied=True)
    lines = []
    for item in pending:
        ref = item_ref(ctx, item.pos, item.segment, 6, item.description, item.code)
        if "PO" in item.segment:
            po_numbers.extend(_line_orders(item.segment))
        if ref is None:
            raise bad(item.pos, item.segment, 7, "1", "the line names no item (IT106-IT125)")
        lines.append(InvoiceLine(
            line_number=item.number, po_line_number=item.po_line, item=ref, quantity=item.qty,
            unit_price=Money(amount=item.price, currency=cur),
            amount=Money(amount=item.qty.value * item.price, currency=cur),
        ))
    supplier = ctx.party_or_envelope(parties.party(ctx, "SU", "VN", "SE", "II"), ctx.sender)
    if supplier is None:
        other = parties.other(ctx, _BUYER_SIDE)
        if other is None:
            raise missing(2, "N1", "no supplier: no N1*SU/VN/SE/II and no envelope")
        ctx.warnings.append(f"x12: supplier taken from N1*{other[0]} (no N1*SU/VN/SE/II)")
        supplier = other[1]
    buyer = parties.party(ctx, "BY", "BT")
    remit_to = parties.party(ctx, "RI", "RE")
    return Invoice(
        document_id=document_id,
        invoice_date=invoice_date,
        supplier=supplier,
        buyer=buyer,
        remit_to=remit_to,
        currency=cur,
        po_numbers=tuple(dict.fromkeys(po_numbers)),
        terms=terms,
        lines=tuple(lines),
        allowances_charges=tuple(
            AllowanceCharge(kind=kind, code=code, description=text,  # type: ignore[arg-type]
                            amount=Money(amount=amount, currency=cur))
            for kind, code, text, amount in (summary_sacs or line_sacs)
        ),
        taxes=tuple(
            TaxLine(kind=kind, rate=rate, amount=Money(amount=amount, currency=cur))
            for kind, rate, amount in taxes
        ),
        totals=InvoiceTotals(
            subtotal=None if subtotal is None else Money(amount=subtotal, currency=cur),
            tax_total=None if tax_total is None else Money(amount=tax_total, currency=cur),
            total=Money(amount=total, currency=cur),
        ),
        notes=(*notes, *ctx.warnings),
        source=ctx.source,
    )


def write_810(invoice: Invoice) -> list[str]:
    """The 810 transaction set (ST..SE) for an invoice."""
    w = SetWriter("810")
    pos = invoice.po_numbers
    w.add("BIG", ck_date(invoice.invoice_date), invoice.document_id, None,
          pos[0] if pos else None)
    for note in invoice.notes:
        w.add("NTE", "GEN", note)
    w.add("CUR", "SE", invoice.currency)
    for po in pos[1:]:
        w.add("REF", "PO", po)
    write_party(w, "SU", invoice.supplier)
    write_party(w, "BY", invoice.buyer)
    write_party(w, "RI", invoice.remit_to)
    terms = invoice.terms
    if terms is not None:
        w.add("ITD", "01" if terms.discount_percent is not None else "05", "3",
              num(terms.discount_percent) if terms.discount_percent is not None else None, None,
              None if terms.discount_days is None else str(terms.discount_days), None,
              None if terms.net_days is None else str(terms.net_days), None, None, None, None,
              terms.description)
    for line in invoice.lines:
        w.add("IT1", line.line_number, num(line.quantity.value), line.quantity.uom,
              num(line.unit_price.amount), "PE", *item_ids(line.item))
        if line.item.description:
            w.add("PID", "F", None, None, None, line.item.description)
        if line.po_line_number:
            w.add("REF", "LI", line.po_line_number)
    totals = invoice.totals
    w.add("TDS", n2(totals.total.amount))
    for tax in invoice.taxes:
        w.add("TXI", tax.kind, num(tax.amount.amount), None if tax.rate is None else num(tax.rate))
    if totals.subtotal is not None:
        w.add("AMT", "1", num(totals.subtotal.amount))
    if totals.tax_total is not None:
        w.add("AMT", "T", num(totals.tax_total.amount))
    for ac in invoice.allowances_charges:
        w.add("SAC", "A" if ac.kind == "allowance" else "C", ac.code, None, None,
              n2(ac.amount.amount), *([None] * 9), ac.description)
    w.add("CTT", str(len(invoice.lines)))
    return w.finish()
