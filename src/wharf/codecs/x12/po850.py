"""850 Purchase Order ↔ :class:`~wharf.model.PurchaseOrder`.

Reading (a customer's PO, or our own PO echoed back):

* ``BEG01`` purpose: 00/06/07/22 original, 04/05 change (05 "replace" included), 01/03 cancel;
  other codes are rejected (AK403 7). ``BEG03`` is the PO number; ``BEG05`` the issue date.
* ``CUR02`` the currency; without CUR a PO with prices is in USD, X12's default. A CUR inside a
  PO1 loop counts when no header CUR came first (the EDI.Net issue-135 sample).
* Parties from N1 loops: ``SU``/``VN``/``SE`` supplier (else the interchange receiver),
  ``BY`` buyer, ``ST`` ship-to, ``BT`` bill-to. ``DTM*002`` (else ``010``) requested date.
* ``PO1``: PO101 line number (empty → the line's position, as many retail POs do), PO102
  quantity, PO103 unit (both required), PO104 unit price, PO106+ item ids (see
  :mod:`~wharf.codecs.x12.overrides`). In the loop: the first ``PID*F`` is the item description,
  further PIDs and ``MSG`` are line notes, ``DTM*002`` the line's requested date.
* Header ``MSG``/``NTE``/``MTX`` text become notes. Not kept: PO105 price basis, PO4 packs, SLN
  sub-lines, SDQ store quantities, SCH schedules, TD5, ITD, FOB, REF, PER, CTT/AMT totals.

Writing (PO out): BEG*00|04|01*SA, CUR*BY, DTM*002, N9*L1 + MSG notes, N1 loops BY/SU/ST/BT,
PO1 (price basis PE) with PID, DTM*002 and MSG per line, CTT with the quantity hash total. A PO
without issue date gets the envelope's date in BEG05 (BEG05 is mandatory).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from wharf.codecs.x12.values import (
    PartyLoop,
    bad,
    currency_of,
    date_of,
    decimal_of,
    el,
    item_ref,
    missing,
    need,
    quantity,
    text_of,
)
from wharf.codecs.x12.writer import SetWriter, ck_date, item_ids, num, write_party
from wharf.model import Money, PurchaseOrder, PurchaseOrderLine

if TYPE_CHECKING:
    import datetime as dt

    from wharf.codecs.x12.values import ReadContext
    from wharf.model import Quantity

__all__ = ("read_850", "write_850")

_PURPOSE = {
    "00": "original", "06": "original", "07": "original", "22": "original",
    "04": "change", "05": "change",
    "01": "cancel", "03": "cancel",
}
_PURPOSE_CODE = {"original": "00", "change": "04", "cancel": "01"}
# The segments the reader looks at; the others are skipped with one set lookup.
_READ = frozenset(("PO1", "PID", "DTM", "MSG", "NTE", "MTX", "N1", "N3", "N4", "BEG", "CUR"))


class _Line:
    __slots__ = ("code", "date", "description", "notes", "number", "pos", "price", "qty",
                 "segment")

    def __init__(self, pos: int, segment: list[str], number: str, qty: Quantity,
                 price: Decimal | None) -> None:
        self.pos, self.segment, self.number, self.qty, self.price = pos, segment, number, qty, price
        self.description: str | None = None
        self.code: str | None = None
        self.date: dt.date | None = None
        self.notes: list[str] = []


def read_850(segments: list[list[str]], ctx: ReadContext) -> PurchaseOrder:
    """Read one 850 transaction set (segment 1 is ST)."""
    parties = PartyLoop()
    beg: tuple[int, list[str]] | None = None
    currency: str | None = None
    requested: dt.date | None = None
    fallback_requested: dt.date | None = None
    notes: list[str] = []
    pending: list[_Line] = []
    line: _Line | None = None
    seen: set[str] = set()
    for pos, seg in enumerate(segments, 1):
        seg_id = seg[0]
        if seg_id not in _READ:
            continue
        if seg_id == "PO1":
            parties.end()
            number = el(seg, 1) or str(len(pending) + 1)
            if len(number) > 20:
                raise bad(pos, seg, 1, "5", f"line number {number!r} is longer than 20")
            if number in seen:
                raise bad(pos, seg, 1, "7", f"line number {number!r} is used twice")
            seen.add(number)
            price = None
            price_text = el(seg, 4)
            if price_text:
                price = decimal_of(price_text)
                if price is None:
                    raise bad(pos, seg, 4, "6", f"unit price {price_text!r} is not a number")
            line = _Line(pos, seg, number, quantity(pos, seg, 2, 3, "the quantity"), price)
            pending.append(line)
        elif seg_id == "PID":
            text = text_of(el(seg, 5))
            if line is not None and line.code is None:
                line.code = el(seg, 4) or None
            if line is None:
                if text:
                    notes.append(text)
            elif text and line.description is None and el(seg, 1) in ("F", ""):
                line.description = text
            elif text:
                line.notes.append(text)
        elif seg_id == "DTM":
            qualifier = el(seg, 1)
            if qualifier in ("002", "010"):
                when = date_of(el(seg, 2))
                if when is None:
                    ctx.warn(pos, seg, 2, f"{el(seg, 2)!r} is not a date")
                elif line is not None:
                    if qualifier == "002" or line.date is None:
                        line.date = when
                elif qualifier == "002":
                    requested = requested or when
                else:
                    fallback_requested = fallback_requested or when
        elif seg_id in ("MSG", "NTE", "MTX"):
            text = text_of(el(seg, 1) if seg_id == "MSG" else el(seg, 2))
            if text:
                (line.notes if line is not None else notes).append(text)
        elif seg_id in ("N1", "N3", "N4"):
            parties.feed(pos, seg)
        elif seg_id == "BEG":
            beg = (pos, seg)
        elif seg_id == "CUR":
            code = currency_of(pos, seg)
            if currency is None:
                currency = code
    if beg is None:
        raise missing(2, "BEG", "an 850 needs its BEG segment")
    pos, seg = beg
    purpose = _PURPOSE.get(el(seg, 1))
    if purpose is None:
        raise bad(pos, seg, 1, "7", f"purpose code {el(seg, 1)!r} is not supported")
    po_number = need(pos, seg, 3, "the purchase order number")
    issue_date = None
    if el(seg, 5):
        issue_date = date_of(el(seg, 5))
        if issue_date is None:
            ctx.warn(pos, seg, 5, f"{el(seg, 5)!r} is not a date")
    if currency is None and any(item.price is not None for item in pending):
        currency = "USD"
    lines = []
    for item in pending:
        ref = item_ref(ctx, item.pos, item.segment, 6, item.description, item.code)
        if ref is None:
            raise bad(item.pos, item.segment, 7, "1", "the line names no item (PO106-PO125)")
        unit_price = None
        if item.price is not None:
            unit_price = Money(amount=item.price, currency=currency or "")
        lines.append(PurchaseOrderLine(
            line_number=item.number, item=ref, quantity=item.qty, unit_price=unit_price,
            requested_date=item.date, notes=tuple(item.notes),
        ))
    supplier = ctx.party_or_envelope(parties.party(ctx, "SU", "VN", "SE"), ctx.receiver)
    if supplier is None:
        raise missing(2, "N1", "no supplier: no N1*SU/VN/SE and no envelope to take it from")
    if not lines and purpose != "cancel":
        raise missing(len(segments), "PO1", "a purchase order needs lines")
    buyer, ship_to, bill_to = (parties.party(ctx, code) for code in ("BY", "ST", "BT"))
    return PurchaseOrder(
        document_id=po_number,
        purpose=purpose,  # type: ignore[arg-type]
        issue_date=issue_date,
        supplier=supplier,
        buyer=buyer,
        currency=currency,
        ship_to=ship_to,
        bill_to=bill_to,
        requested_date=requested or fallback_requested,
        lines=tuple(lines),
        notes=(*notes, *ctx.warnings),
        source=ctx.source,
    )


def write_850(po: PurchaseOrder, today: dt.date) -> list[str]:
    """The 850 transaction set (ST..SE) for a purchase order."""
    w = SetWriter("850")
    w.add("BEG", _PURPOSE_CODE[po.purpose], "SA", po.document_id, None,
          ck_date(po.issue_date or today))
    if po.currency:
        w.add("CUR", "BY", po.currency)
    if po.requested_date:
        w.add("DTM", "002", ck_date(po.requested_date))
    if po.notes:
        w.add("N9", "L1", "NOTES")
        for note in po.notes:
            w.add("MSG", note)
    write_party(w, "BY", po.buyer)
    write_party(w, "SU", po.supplier)
    write_party(w, "ST", po.ship_to)
    write_party(w, "BT", po.bill_to)
    total = Decimal(0)
    for line in po.lines:
        price = line.unit_price
        w.add("PO1", line.line_number, num(line.quantity.value), line.quantity.uom,
              num(price.amount) if price else None, "PE" if price else None,
              *item_ids(line.item))
        total += line.quantity.value
        if line.item.description:
            w.add("PID", "F", None, None, None, line.item.description)
        if line.requested_date:
            w.add("DTM", "002", ck_date(line.requested_date))
        for note in line.notes:
            w.add("MSG", note)
    w.add("CTT", str(len(po.lines)), num(total) if po.lines else None)
    return w.finish()
