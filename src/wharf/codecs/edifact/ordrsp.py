"""ORDRSP ↔ POAcknowledgment.

Reading the header: RFF+ON is the buyer's order number (required); BGM 1225 or 4343 give the
overall answer (27 / RE rejected, 29 / AP accepted, 4 / AC / CA accepted with changes); otherwise
it follows from the lines (all accepted, all rejected, or a mix).

Reading a line: LIN 1229 says what happened to it (5 accepted, 7 or 2 not accepted, 3/6 changed).
"Changed" does not say *what* changed, so Wharf writes the exact status as a coded reason,
``FTX+ACD++<code>::ZZZ+<reason text>``, with the X12 ACK01 codes partners know (IA accepted, IR
rejected, IQ quantity changed, DR date rescheduled, IP price changed, IS substituted, IB
backordered). Without such a code, a changed line is read as: a ``PIA+3`` (substituted by) →
substituted; a backorder quantity (QTY+83) → backordered; else the first of quantity (QTY+113/21),
promised date (DTM+69/2/67/17) or price (PRI) that is present says what changed.

Writing: BGM+231, DTM+137, FTX+AAI, RFF+ON, NAD BY/SU, CUX; per line LIN with 1229, PIA (+PIA+3
for a substitute), IMD, QTY+113 (QTY+83 when backordered), DTM+69, FTX+ACD, PRI+AAA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from wharf.codecs.edifact.groups import (
    currency_of,
    date_of,
    document_number,
    first,
    notes_of,
    refs_of,
)
from wharf.codecs.edifact.items import (
    item_of,
    line_number_of,
    price_of,
    quantity_of,
    substitute_of,
    write_item,
    write_price,
    write_quantity,
    write_substitute,
)
from wharf.codecs.edifact.parties import parties_of, party, write_party
from wharf.codecs.edifact.values import fault, joined
from wharf.codecs.edifact.writer import write_date, write_note
from wharf.model import AcknowledgmentLine, Money, Party, POAcknowledgment, Quantity

if TYPE_CHECKING:
    from wharf.codecs.edifact.groups import Context, Line, Scan
    from wharf.codecs.edifact.values import Fields
    from wharf.codecs.edifact.writer import Directory, SegmentWriter

__all__ = ("read_ordrsp", "write_ordrsp")

Status = Literal["accepted", "accepted_with_changes", "rejected"]
LineStatus = Literal[
    "accepted",
    "changed_quantity",
    "changed_date",
    "changed_price",
    "substituted",
    "rejected",
    "backordered",
]

_LINE_CODES: dict[str, LineStatus] = {
    "IA": "accepted",
    "IR": "rejected",
    "IQ": "changed_quantity",
    "DR": "changed_date",
    "IP": "changed_price",
    "IS": "substituted",
    "IB": "backordered",
}
_CODE_OF: dict[LineStatus, str] = {status: code for code, status in _LINE_CODES.items()}
_ACTION_OF: dict[LineStatus, str] = {"accepted": "5", "rejected": "7"}
_FUNCTION_STATUS: dict[str, Status] = {
    "27": "rejected",
    "29": "accepted",
    "4": "accepted_with_changes",
}
_RESPONSE_STATUS: dict[str, Status] = {
    "RE": "rejected",
    "AP": "accepted",
    "AC": "accepted_with_changes",
    "CA": "accepted_with_changes",
}
_FUNCTION_OF: dict[Status, str] = {"accepted": "29", "rejected": "27", "accepted_with_changes": "4"}
_DATE_QUALIFIERS = ("69", "2", "67", "17")


def _reason(line: Line, f: Fields) -> tuple[str | None, str | None]:
    """The coded status (FTX+ACD C107) and the reason text (FTX+ACD, else any FTX)."""
    found = first(line.segments, "FTX", "ACD", f)
    if found is not None:
        seg = found[0]
        return f.text(seg, 3, 0).upper() or None, joined(f.parts(seg, 4), 0, 5) or None
    texts = notes_of(line.segments, f)
    return None, (" ".join(texts) or None)


def _line_status(line: Line, f: Fields, code: str | None) -> LineStatus:
    if code in _LINE_CODES:
        return _LINE_CODES[code]
    action = f.text(line.seg, 2)
    if action in ("7", "2"):
        return "rejected"
    if action not in ("3", "6"):
        return "accepted"
    if substitute_of(line, f) is not None:
        return "substituted"
    if first(line.segments, "QTY", "83", f) is not None:
        return "backordered"
    if quantity_of(line, ("113", "21"), f, fallback=False) is not None:
        return "changed_quantity"
    if date_of(line.segments, _DATE_QUALIFIERS, f) is not None:
        return "changed_date"
    if price_of(line, f) is not None:
        return "changed_price"
    return "accepted"


def read_ordrsp(scan: Scan, ctx: Context) -> POAcknowledgment:
    f = ctx.fields
    header = scan.header
    document_id, notes = document_number(scan, ctx)
    orders = refs_of(scan.tagged("RFF"), "ON", f)
    if not orders:
        raise fault(
            "no order number (RFF+ON) in the header",
            position=scan.bgm[1] if scan.bgm else 1,
            tag="RFF",
            code="13",
        )
    currency = currency_of(scan.tagged("CUX"), f)
    parties = parties_of(header, f)
    supplier = party(parties, ("SU", "SE")) or (Party(id=ctx.sender) if ctx.sender else None)
    if supplier is None:
        raise fault("no supplier (NAD+SU)", position=1, tag="NAD", code="13")

    lines: list[AcknowledgmentLine] = []
    for index, line in enumerate(scan.lines):
        code, reason = _reason(line, f)
        status = _line_status(line, f, code)
        qualifiers = ("83", "113", "21", "12") if status == "backordered" else ("113", "21", "12")
        quantity = quantity_of(line, qualifiers, f)
        promised = date_of(line.segments, _DATE_QUALIFIERS, f)
        price = price_of(line, f)
        unit_price = None
        if price is not None:
            if currency is None:
                raise fault(
                    "a price is given but the message names no currency (CUX)",
                    position=price[1],
                    tag="PRI",
                    element=1,
                    code="13",
                )
            unit_price = Money(amount=price[0], currency=currency)
        try:
            lines.append(
                AcknowledgmentLine(
                    line_number=line_number_of(line, index, f),
                    status=status,
                    item=item_of(line, f, pia=("1", "5", "")),
                    quantity=Quantity(value=quantity[0], uom=quantity[1]) if quantity else None,
                    promised_date=promised[0] if promised else None,
                    unit_price=unit_price,
                    substitute=substitute_of(line, f),
                    reason=reason,
                )
            )
        except ValueError as exc:
            raise fault(str(exc), position=line.position, tag="LIN", element=2, code="13") from None

    overall: Status | None = None
    if scan.bgm is not None:
        overall = _FUNCTION_STATUS.get(f.text(scan.bgm[0], 3)) or _RESPONSE_STATUS.get(
            f.text(scan.bgm[0], 4)
        )
    if overall is None:
        answers = {line.status for line in lines}
        if answers <= {"accepted"}:
            overall = "accepted"
        elif answers == {"rejected"}:
            overall = "rejected"
        else:
            overall = "accepted_with_changes"
    issued = date_of(scan.tagged("DTM"), ("137",), f)
    return POAcknowledgment(
        document_id=document_id,
        po_number=orders[0][0],
        status=overall,
        issue_date=issued[0] if issued else None,
        supplier=supplier,
        buyer=party(parties, ("BY",)),
        currency=currency,
        lines=tuple(lines),
        notes=(*notes, *notes_of(scan.tagged("FTX"), f)),
        source=ctx.source,
    )


def write_ordrsp(w: SegmentWriter, ack: POAcknowledgment, directory: Directory, ref: str) -> None:
    start = len(w.segments)
    w.add("UNH", ref, directory.message_id("ORDRSP"))
    w.add("BGM", "231", ack.document_id, _FUNCTION_OF[ack.status])
    if ack.issue_date is not None:
        write_date(w, "137", ack.issue_date)
    for note in ack.notes:
        write_note(w, "AAI", note)
    w.add("RFF", ("ON", ack.po_number))
    for role, who in (("BY", ack.buyer), ("SU", ack.supplier)):
        if who is not None:
            write_party(w, role, who)
    if ack.currency is not None:
        w.add("CUX", ("2", ack.currency, "9"))
    for line in ack.lines:
        action = _ACTION_OF.get(line.status, "3")
        if line.item is not None:
            write_item(w, line.line_number, line.item, gtin_type=directory.gtin_type, action=action)
        else:
            w.add("LIN", line.line_number, action)
        if line.substitute is not None:
            write_substitute(w, line.substitute, gtin_type=directory.gtin_type)
        if line.quantity is not None:
            write_quantity(w, "83" if line.status == "backordered" else "113", line.quantity)
        if line.promised_date is not None:
            write_date(w, "69", line.promised_date)
        if line.status not in _ACTION_OF or line.reason:
            write_note(w, "ACD", line.reason or "", code=_CODE_OF[line.status])
        if line.unit_price is not None:
            write_price(w, line.unit_price.amount)
    w.add("UNS", "S")
    w.add("UNT", str(len(w.segments) - start + 1), ref)
