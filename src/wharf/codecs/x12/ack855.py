"""855 Purchase Order Acknowledgment ↔ :class:`~wharf.model.POAcknowledgment`.

Reading:

* ``BAK02`` is the answer for the whole PO: AC/AE acknowledged with changes →
  ``accepted_with_changes``; AD/AK/AP/AT/NA → ``accepted``; RD/RF/RJ/RO/RR → ``rejected``; other
  codes are rejected (AK403 7). ``BAK03`` is the PO number, ``BAK08`` (the seller's order number)
  the acknowledgment's own number (else the PO number), ``BAK09`` its date.
* Lines: each ``ACK`` under a ``PO1`` is one :class:`~wharf.model.AcknowledgmentLine` (several
  ACKs = a split line) with ACK01 status — IA/AR accepted; IB/BP backordered; IH/IF/IW (on hold)
  backordered with the code as reason; IQ changed quantity; DR changed date; IP changed price;
  IS substituted (substitute from ACK07+); IC "accepted with changes" becomes whichever change it
  carries; IR/ID/R1–R5 rejected. ACK02/03 is the quantity (else PO102/103), ACK04/05 the promised
  date (also in ACK06/07 as the D&H guide shifts it, or a DTM after the ACK), ACK29 a reason code
  (book trade). A PO1 without ACK (status only in BAK02, as many real 855s) becomes one line with
  the header's status. PO104 is the unit price, PO106+ the item.
* Supplier: N1 ``SU``/``VN``/``SE`` else the interchange sender; buyer: N1 ``BY``.
* Not kept: BAK01 purpose, BAK04 PO date, line-level MSG, SCH schedules, TD5, DTM at header.

Writing: BAK*00*(AD|AK|AC|RD|RJ)*PO*date****ack-number*ack-date, CUR*SE, N9/MSG notes, N1 SU/BY,
per line number one PO1 (the first answer's quantity, price and item) with PID and one ACK per
answer (ACK04 ``067`` promised delivery date; substitute ids from ACK07; reason in ACK29).
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
    is_uom,
    item_ref,
    missing,
    need,
    quantity,
    text_of,
)
from wharf.codecs.x12.writer import SetWriter, ck_date, item_ids, num, write_party
from wharf.model import AcknowledgmentLine, Money, POAcknowledgment, Quantity

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping
    from decimal import Decimal

    from wharf.codecs.x12.values import ReadContext
    from wharf.model import ItemRef

__all__ = ("read_855", "write_855")

_HEADER: Mapping[str, str] = {
    "AC": "accepted_with_changes", "AE": "accepted_with_changes",
    "AD": "accepted", "AK": "accepted", "AP": "accepted", "AT": "accepted", "NA": "accepted",
    "RD": "rejected", "RF": "rejected", "RJ": "rejected", "RO": "rejected", "RR": "rejected",
}
_LINE: Mapping[str, str] = {
    "IA": "accepted", "AR": "accepted",
    "IB": "backordered", "BP": "backordered", "IH": "backordered", "IF": "backordered",
    "IW": "backordered",
    "IQ": "changed_quantity", "DR": "changed_date", "IP": "changed_price", "IS": "substituted",
    "IC": "changed",
    "IR": "rejected", "ID": "rejected", "R1": "rejected", "R2": "rejected", "R3": "rejected",
    "R4": "rejected", "R5": "rejected",
}
_ON_HOLD = {"IH": "on hold (IH)", "IF": "on hold, incomplete description (IF)",
            "IW": "on hold, waiver required (IW)"}
_READ = frozenset(("PO1", "ACK", "PID", "DTM", "MSG", "NTE", "N1", "N3", "N4", "BAK", "CUR"))
_LINE_CODE = {"accepted": "IA", "backordered": "IB", "changed_quantity": "IQ",
              "changed_date": "DR", "changed_price": "IP", "substituted": "IS", "rejected": "IR"}


class _Answer:
    __slots__ = ("code", "date", "pos", "qty", "reason", "segment", "substitute")

    def __init__(self, pos: int, segment: list[str]) -> None:
        self.pos, self.segment = pos, segment
        self.code = el(segment, 1)
        self.qty: Quantity | None = None
        self.date: dt.date | None = None
        self.reason = el(segment, 29) or None
        self.substitute: ItemRef | None = None


class _Line:
    __slots__ = ("answers", "description", "number", "pos", "price", "qty", "segment")

    def __init__(self, pos: int, segment: list[str], number: str) -> None:
        self.pos, self.segment, self.number = pos, segment, number
        self.qty: Quantity | None = None
        self.price: Decimal | None = None
        self.description: str | None = None
        self.answers: list[_Answer] = []


def _read_ack(ctx: ReadContext, pos: int, seg: list[str]) -> _Answer:
    answer = _Answer(pos, seg)
    if answer.code not in _LINE:
        raise bad(pos, seg, 1, "7", f"line status {answer.code!r} is not supported")
    if el(seg, 2):
        answer.qty = quantity(pos, seg, 2, 3, "the acknowledged quantity")
    if el(seg, 5):
        answer.date = date_of(el(seg, 5))
        if answer.date is None:
            ctx.warn(pos, seg, 5, f"{el(seg, 5)!r} is not a date")
    elif len(el(seg, 6)) == 3 and el(seg, 6).isascii() and el(seg, 6).isdigit() and date_of(el(seg, 7)):
        answer.date = date_of(el(seg, 7))  # D&H: qualifier and date shifted to ACK06/07
    if answer.code == "IS":
        answer.substitute = item_ref(ctx, pos, seg, 7)
    return answer


def _line_status(
    answer: _Answer | None, line: _Line, header: str
) -> tuple[str, Quantity | None, str | None]:
    """(status, quantity, reason) of one answer; header status when the PO1 had no ACK."""
    if answer is None:
        return ("rejected" if header == "rejected" else "accepted"), line.qty, None
    status = _LINE[answer.code]
    qty = answer.qty or line.qty
    reason = answer.reason or _ON_HOLD.get(answer.code)
    if status == "changed":
        if answer.qty is not None:
            status = "changed_quantity"
        elif answer.date is not None:
            status = "changed_date"
        elif line.price is not None:
            status = "changed_price"
        else:
            status = "accepted"
    required = {"changed_quantity": (answer.qty, 2), "changed_date": (answer.date, 5),
                "changed_price": (line.price, 4), "substituted": (answer.substitute, 7)}
    if status in required and required[status][0] is None:
        element = required[status][1]
        where = (line.pos, line.segment) if status == "changed_price" else (answer.pos,
                                                                          answer.segment)
        raise bad(*where, element, "2", f"status {answer.code} needs the changed value")
    return status, qty, reason


def read_855(segments: list[list[str]], ctx: ReadContext) -> POAcknowledgment:
    """Read one 855 transaction set (segment 1 is ST)."""
    parties = PartyLoop()
    bak: tuple[int, list[str]] | None = None
    currency: str | None = None
    notes: list[str] = []
    lines: list[_Line] = []
    line: _Line | None = None
    for pos, seg in enumerate(segments, 1):
        seg_id = seg[0]
        if seg_id not in _READ:
            continue
        if seg_id == "PO1":
            parties.end()
            line = _Line(pos, seg, el(seg, 1) or str(len(lines) + 1))
            if len(line.number) > 20:
                raise bad(pos, seg, 1, "5", f"line number {line.number!r} is longer than 20")
            if el(seg, 2):
                if is_uom(el(seg, 3)):
                    line.qty = quantity(pos, seg, 2, 3, "the ordered quantity")
                else:
                    ctx.warn(pos, seg, 3, f"quantity without a unit of measure ({el(seg, 3)!r})")
            if el(seg, 4):
                line.price = decimal_of(el(seg, 4))
                if line.price is None:
                    raise bad(pos, seg, 4, "6", f"unit price {el(seg, 4)!r} is not a number")
            lines.append(line)
        elif seg_id == "ACK":
            if line is None:
                raise bad(pos, seg, None, "2", "ACK outside a PO1 loop")
            line.answers.append(_read_ack(ctx, pos, seg))
        elif seg_id == "PID":
            text = text_of(el(seg, 5))
            if line is not None and line.description is None and text:
                line.description = text
        elif seg_id == "DTM":
            if line is not None and line.answers and line.answers[-1].date is None:
                line.answers[-1].date = date_of(el(seg, 2))
        elif seg_id in ("MSG", "NTE"):
            text = text_of(el(seg, 1) if seg_id == "MSG" else el(seg, 2))
            if text and line is None:
                notes.append(text)
        elif seg_id in ("N1", "N3", "N4"):
            parties.feed(pos, seg)
        elif seg_id == "BAK":
            bak = (pos, seg)
        elif seg_id == "CUR":
            code = currency_of(pos, seg)
            currency = currency or code
    if bak is None:
        raise missing(2, "BAK", "an 855 needs its BAK segment")
    pos, seg = bak
    header = _HEADER.get(el(seg, 2))
    if header is None:
        raise bad(pos, seg, 2, "7", f"acknowledgment type {el(seg, 2)!r} is not supported")
    po_number = need(pos, seg, 3, "the purchase order number")
    issue_date = date_of(el(seg, 9)) if el(seg, 9) else None
    if el(seg, 9) and issue_date is None:
        ctx.warn(pos, seg, 9, f"{el(seg, 9)!r} is not a date")
    if currency is None and any(item.price is not None for item in lines):
        currency = "USD"
    answers = []
    for item in lines:
        ref = item_ref(ctx, item.pos, item.segment, 6, item.description)
        price = None if item.price is None else Money(amount=item.price, currency=currency or "")
        answers_or_header: list[_Answer | None] = [*item.answers] or [None]
        for answer in answers_or_header:
            status, qty, reason = _line_status(answer, item, header)
            answers.append(AcknowledgmentLine(
                line_number=item.number,
                status=status,  # type: ignore[arg-type]
                item=ref,
                quantity=qty,
                promised_date=answer.date if answer else None,
                unit_price=price,
                substitute=answer.substitute if answer else None,
                reason=reason,
            ))
    supplier = ctx.party_or_envelope(parties.party(ctx, "SU", "VN", "SE"), ctx.sender)
    if supplier is None:
        raise missing(2, "N1", "no supplier: no N1*SU/VN/SE and no envelope to take it from")
    buyer = parties.party(ctx, "BY")
    return POAcknowledgment(
        document_id=el(seg, 8) or po_number,
        po_number=po_number,
        status=header,  # type: ignore[arg-type]
        issue_date=issue_date,
        supplier=supplier,
        buyer=buyer,
        currency=currency,
        lines=tuple(answers),
        notes=(*notes, *ctx.warnings),
        source=ctx.source,
    )


def write_855(ack: POAcknowledgment, today: dt.date) -> list[str]:
    """The 855 transaction set (ST..SE) for an acknowledgment."""
    w = SetWriter("855")
    if ack.status == "accepted_with_changes":
        kind = "AC"
    elif ack.status == "rejected":
        kind = "RD" if ack.lines else "RJ"
    else:
        kind = "AD" if ack.lines else "AK"
    issued = ck_date(ack.issue_date) if ack.issue_date else None
    w.add("BAK", "00", kind, ack.po_number, issued or ck_date(today), None, None, None,
          ack.document_id, issued)
    if ack.currency:
        w.add("CUR", "SE", ack.currency)
    if ack.notes:
        w.add("N9", "L1", "NOTES")
        for note in ack.notes:
            w.add("MSG", note)
    write_party(w, "SU", ack.supplier)
    write_party(w, "BY", ack.buyer)
    previous: str | None = None
    count = 0
    for line in ack.lines:
        if line.line_number != previous:
            previous = line.line_number
            count += 1
            qty, price = line.quantity, line.unit_price
            w.add("PO1", line.line_number, num(qty.value) if qty else None,
                  qty.uom if qty else None, num(price.amount) if price else None,
                  "PE" if price else None, *(item_ids(line.item) if line.item else ()))
            if line.item and line.item.description:
                w.add("PID", "F", None, None, None, line.item.description)
        qty = line.quantity
        substitute = item_ids(line.substitute) if line.substitute else []
        ack_elements: list[str | None] = [
            _LINE_CODE[line.status], num(qty.value) if qty else None, qty.uom if qty else None,
            "067" if line.promised_date else None,
            ck_date(line.promised_date) if line.promised_date else None, None,
            *substitute,
        ]
        if line.reason:
            ack_elements += [None] * (28 - len(ack_elements)) + [line.reason]
        w.add("ACK", *ack_elements)
    w.add("CTT", str(count))
    return w.finish()
