"""ORDERS ↔ PurchaseOrder.

Reading: BGM 1225 gives the purpose (1/3 cancel, 4/5 change, else original); DTM+137 the issue
date, DTM+2 (or 64/10) the requested delivery date, in the header and per line; NAD+SU/SE the
supplier (the interchange recipient when no NAD names one: a purchase order goes *to* the
supplier), BY the buyer, DP/ST ship-to, IV/BT bill-to; CUX the currency; LIN groups the lines with
QTY+21 and PRI. A price without any currency cannot become Money: it is kept as a line note, and
so is a unit of measure that had to be mapped (``GBND`` → ``PK``).

Writing: BGM+220, DTM 137/2, FTX+AAI notes, NAD BY/SU/DP/IV, CUX+2, then per line LIN, PIA,
IMD, QTY+21, DTM+2, FTX, PRI+AAA; UNS+S and CNT+2 (number of lines).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from wharf.codecs.edifact.groups import (
    currency_of,
    date_of,
    document_number,
    notes_of,
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
from wharf.codecs.edifact.values import fault
from wharf.codecs.edifact.writer import write_date, write_note
from wharf.model import Money, Party, PurchaseOrder, PurchaseOrderLine, Quantity

if TYPE_CHECKING:
    from wharf.codecs.edifact.groups import Context, Scan
    from wharf.codecs.edifact.writer import Directory, SegmentWriter

__all__ = ("read_orders", "write_orders")

Purpose = Literal["original", "change", "cancel"]

_PURPOSES: dict[str, Purpose] = {"1": "cancel", "3": "cancel", "4": "change", "5": "change"}
_FUNCTIONS: dict[Purpose, str] = {"original": "9", "change": "4", "cancel": "1"}


def read_orders(scan: Scan, ctx: Context) -> PurchaseOrder:
    f = ctx.fields
    header = scan.header
    document_id, notes = document_number(scan, ctx)
    purpose: Purpose = _PURPOSES.get(f.code(scan.bgm[0], 3), "original") if scan.bgm else "original"
    issued = date_of(scan.tagged("DTM"), ("137",), f)
    requested = date_of(scan.tagged("DTM"), ("2", "64", "10"), f)
    currency = currency_of(scan.tagged("CUX"), f)
    parties = parties_of(header, f)
    supplier = party(parties, ("SU", "SE"))
    if supplier is None:
        if not ctx.recipient:
            raise fault(
                "no supplier: neither NAD+SU nor an interchange recipient",
                position=scan.bgm[1] if scan.bgm else 1,
                tag="NAD",
                code="13",
            )
        supplier = Party(id=ctx.recipient)

    lines: list[PurchaseOrderLine] = []
    seen: set[str] = set()
    for index, line in enumerate(scan.lines):
        line_number = unique_line_number(line, index, f, seen)
        item = required_item(line, f)
        quantity = quantity_of(line, ("21",), f)
        if quantity is None:
            raise fault(
                "the line has no ordered quantity (QTY+21)",
                position=line.position,
                tag="LIN",
                code="13",
            )
        value, uom, sent_uom, _ = quantity
        line_notes = notes_of(line.segments, f)
        if sent_uom is not None:
            line_notes.append(f"EDIFACT: unit of measure sent as {sent_uom!r}")
        unit_price = None
        price = price_of(line, f)
        if price is not None:
            if currency is None:
                line_notes.append(f"EDIFACT: unit price {price[0]} sent without a currency (CUX)")
            else:
                unit_price = Money(amount=price[0], currency=currency)
        line_date = date_of(line.segments, ("2", "64", "10"), f)
        lines.append(
            PurchaseOrderLine(
                line_number=line_number,
                item=item,
                quantity=Quantity(value=value, uom=uom),
                unit_price=unit_price,
                requested_date=line_date[0] if line_date else None,
                notes=tuple(line_notes),
            )
        )
    if not lines and purpose != "cancel":
        raise fault(
            "an order needs at least one LIN unless it cancels the whole order",
            position=scan.bgm[1] if scan.bgm else 1,
            tag="BGM",
            code="13",
        )
    return PurchaseOrder(
        document_id=document_id,
        purpose=purpose,
        issue_date=issued[0] if issued else None,
        supplier=supplier,
        buyer=party(parties, ("BY",)),
        currency=currency,
        ship_to=party(parties, ("DP", "ST")),
        bill_to=party(parties, ("IV", "BT")),
        requested_date=requested[0] if requested else None,
        lines=tuple(lines),
        notes=(*notes, *notes_of(scan.tagged("FTX"), f)),
        source=ctx.source,
    )


def write_orders(w: SegmentWriter, po: PurchaseOrder, directory: Directory, ref: str) -> None:
    start = len(w.segments)
    w.add("UNH", ref, directory.message_id("ORDERS"))
    w.add("BGM", "220", po.document_id, _FUNCTIONS[po.purpose])
    if po.issue_date is not None:
        write_date(w, "137", po.issue_date)
    if po.requested_date is not None:
        write_date(w, "2", po.requested_date)
    for note in po.notes:
        write_note(w, "AAI", note)
    for role, who in (
        ("BY", po.buyer),
        ("SU", po.supplier),
        ("DP", po.ship_to),
        ("IV", po.bill_to),
    ):
        if who is not None:
            write_party(w, role, who)
    if po.currency is not None:
        w.add("CUX", ("2", po.currency, "9"))
    for line in po.lines:
        write_item(w, line.line_number, line.item, gtin_type=directory.gtin_type)
        write_quantity(w, "21", line.quantity)
        if line.requested_date is not None:
            write_date(w, "2", line.requested_date)
        for note in line.notes:
            write_note(w, "AAI", note)
        if line.unit_price is not None:
            write_price(w, line.unit_price.amount)
    w.add("UNS", "S")
    w.add("CNT", ("2", str(len(po.lines))))
    w.add("UNT", str(len(w.segments) - start + 1), ref)
