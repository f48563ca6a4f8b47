"""DESADV ↔ ShipNotice.

Reading: BGM 1004 is the ASN number; DTM+137 issue date, DTM+11 despatch date/time, DTM+17 (358,
2) estimated delivery; RFF+ON the default order, RFF+BM bill of lading, RFF+CN the carrier's
reference (tracking number); NAD+SU/SE supplier (else the interchange sender), BY buyer, SF/CZ
ship-from, DP/ST ship-to; TDT C040 the carrier (agency 182 = SCAC).

Packaging: the CPS hierarchy is flattened to what the canonical model holds — a pack is a CPS
group that has a PAC or an SSCC (``PCI+33E`` / ``GIN+BJ``) and contains LIN items. Its SSCC is
the first GIN+BJ before the group's first LIN, its packaging code the PAC package type (C202
7065). CPS groups without PAC or SSCC (``CPS+1`` consignment level, flat files) carry loose items;
CPS groups without items (a pallet whose cartons are listed in child CPS groups) leave no trace,
and the CPS parent pointer is not needed (``CPS+123+123``, its own parent, is harmless).

Each LIN is shipped against the order in its own RFF+ON (whose 1156 is the PO line number), else
the header's; RFF+LI also gives the PO line. Orders come out in order of first appearance.

Writing: one CPS per pack (PAC+1++code, PCI+33E, GIN+BJ) and one per order for loose items, under
a consignment ``CPS+1``; with several orders every LIN carries its RFF+ON.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from wharf.codecs.edifact.groups import (
    date_of,
    document_number,
    notes_of,
    refs_of,
)
from wharf.codecs.edifact.items import (
    quantity_of,
    required_item,
    write_item,
    write_quantity,
)
from wharf.codecs.edifact.parties import parties_of, party, write_party
from wharf.codecs.edifact.values import check_digits, fault
from wharf.codecs.edifact.writer import write_date, write_note
from wharf.model import Carrier, Pack, Party, Quantity, ShipmentOrder, ShipNotice, ShippedItem

if TYPE_CHECKING:
    from wharf.codecs.edifact.groups import Context, Cps, Scan, Seg
    from wharf.codecs.edifact.values import Fields
    from wharf.codecs.edifact.writer import Directory, SegmentWriter

__all__ = ("read_desadv", "write_desadv")


def _carrier(header: list[Seg], f: Fields) -> Carrier | None:
    for seg, _ in header:
        if seg[0] == "TDT":
            ident, agency = f.text(seg, 5, 0), f.text(seg, 5, 2)
            scac = None
            if agency == "182" and 2 <= len(ident) <= 4 and ident.isascii() and ident.isalpha():
                scac = ident.upper()
            name = f.text(seg, 5, 3) or (None if scac else ident) or None
            if scac or name:
                return Carrier(scac=scac, name=name)
    return None


def _pack_of(group: Cps, f: Fields) -> tuple[bool, str | None, str | None]:
    """(is a pack, SSCC, packaging code) of one CPS group."""
    sscc = code = None
    is_pack = False
    for seg, position in group.segments:
        tag = seg[0]
        if tag == "PAC":
            is_pack = True
            code = code or f.text(seg, 3) or None
        elif tag == "GIN" and f.code(seg, 1) == "BJ" and sscc is None:
            is_pack = True
            sscc = check_digits(
                f.text(seg, 2), (18,), "SSCC (18 digits)", position=position, tag="GIN", element=2
            )
    return is_pack, sscc, code


def read_desadv(scan: Scan, ctx: Context) -> ShipNotice:
    f = ctx.fields
    header = scan.header
    document_id, notes = document_number(scan, ctx)
    default_po = refs_of(scan.tagged("RFF"), "ON", f)
    packs = [_pack_of(group, f) for group in scan.packs]

    loose: dict[str, list[ShippedItem]] = {}
    packed: dict[str, dict[int, list[ShippedItem]]] = {}
    for line in scan.lines:
        item = required_item(line, f)
        quantity = quantity_of(line, ("12",), f)
        if quantity is None:
            raise fault(
                "the line has no despatched quantity (QTY+12)",
                position=line.position,
                tag="LIN",
                code="13",
            )
        own = refs_of(line.segments, "ON", f)
        po = own[0][0] if own else (default_po[0][0] if default_po else "")
        if not po:
            raise fault(
                "no order number (RFF+ON) for this line or the message",
                position=line.position,
                tag="LIN",
                code="13",
            )
        line_ref = own[0][1] if own and own[0][1] else None
        if line_ref is None:
            by_line = refs_of(line.segments, "LI", f)
            line_ref = by_line[0][0] if by_line else None
        if line_ref is not None and len(line_ref) > 20:
            raise fault(
                f"PO line number {line_ref!r} is longer than 20 characters",
                position=line.position,
                tag="RFF",
                code="39",
            )
        shipped = ShippedItem(
            line_number=line_ref, item=item, quantity=Quantity(value=quantity[0], uom=quantity[1])
        )
        loose.setdefault(po, [])
        packed.setdefault(po, {})
        if line.cps is not None and packs[line.cps][0]:
            packed[po].setdefault(line.cps, []).append(shipped)
        else:
            loose[po].append(shipped)

    if not loose:
        raise fault(
            "the ship notice has no LIN items",
            position=scan.bgm[1] if scan.bgm else 1,
            tag="BGM",
            code="13",
        )
    orders = tuple(
        ShipmentOrder(
            po_number=po,
            packs=tuple(
                Pack(sscc=packs[cps][1], packaging_code=packs[cps][2], items=tuple(items))
                for cps, items in packed[po].items()
            ),
            items=tuple(items),
        )
        for po, items in loose.items()
    )
    parties = parties_of(header, f)
    supplier = party(parties, ("SU", "SE")) or (Party(id=ctx.sender) if ctx.sender else None)
    if supplier is None:
        raise fault("no supplier (NAD+SU)", position=1, tag="NAD", code="13")
    issued = date_of(scan.tagged("DTM"), ("137",), f)
    shipped_at = date_of(scan.tagged("DTM"), ("11",), f)
    estimated = date_of(scan.tagged("DTM"), ("17", "358", "2"), f)
    bol = refs_of(scan.tagged("RFF"), "BM", f)
    tracking = refs_of(scan.tagged("RFF"), "CN", f)
    return ShipNotice(
        document_id=document_id,
        issue_date=issued[0] if issued else None,
        supplier=supplier,
        buyer=party(parties, ("BY",)),
        shipped_at=(
            dt.datetime.combine(shipped_at[0], shipped_at[1] or dt.time()) if shipped_at else None
        ),
        estimated_delivery=estimated[0] if estimated else None,
        carrier=_carrier(scan.tagged("TDT"), f),
        tracking_number=tracking[0][0] if tracking else None,
        bill_of_lading=bol[0][0] if bol else None,
        ship_from=party(parties, ("SF", "CZ")),
        ship_to=party(parties, ("DP", "ST")),
        orders=orders,
        notes=(*notes, *notes_of(scan.tagged("FTX"), f)),
        source=ctx.source,
    )


def write_desadv(w: SegmentWriter, asn: ShipNotice, directory: Directory, ref: str) -> None:
    start = len(w.segments)
    w.add("UNH", ref, directory.message_id("DESADV"))
    w.add("BGM", "351", asn.document_id, "9")
    if asn.issue_date is not None:
        write_date(w, "137", asn.issue_date)
    if asn.shipped_at is not None:
        write_date(w, "11", asn.shipped_at)
    if asn.estimated_delivery is not None:
        write_date(w, "17", asn.estimated_delivery)
    for note in asn.notes:
        write_note(w, "AAI", note)
    single = len(asn.orders) == 1
    if single:
        w.add("RFF", ("ON", asn.orders[0].po_number))
    if asn.bill_of_lading:
        w.add("RFF", ("BM", asn.bill_of_lading))
    if asn.tracking_number:
        w.add("RFF", ("CN", asn.tracking_number))
    for role, who in (
        ("SU", asn.supplier),
        ("BY", asn.buyer),
        ("SF", asn.ship_from),
        ("DP", asn.ship_to),
    ):
        if who is not None:
            write_party(w, role, who)
    if asn.carrier is not None:
        c = asn.carrier
        w.add(
            "TDT",
            "20",
            None,
            None,
            None,
            (c.scac or "", "", "182" if c.scac else "", c.name or ""),
        )
    w.add("CPS", "1")
    group = 1
    line = 0
    for order in asn.orders:
        blocks: list[tuple[Pack | None, tuple[ShippedItem, ...]]] = []
        if order.items:
            blocks.append((None, order.items))
        blocks.extend((pack, pack.items) for pack in order.packs)
        for pack, items in blocks:
            group += 1
            w.add("CPS", str(group), "1")
            if pack is not None:
                w.add("PAC", "1", None, pack.packaging_code)
                if pack.sscc:
                    w.add("PCI", "33E")
                    w.add("GIN", "BJ", pack.sscc)
            for shipped in items:
                line += 1
                write_item(w, str(line), shipped.item, gtin_type=directory.gtin_type)
                write_quantity(w, "12", shipped.quantity)
                if not single or shipped.line_number:
                    w.add("RFF", ("ON", order.po_number, shipped.line_number or ""))
    w.add("UNT", str(len(w.segments) - start + 1), ref)
