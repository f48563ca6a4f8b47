"""856 Ship Notice/Manifest ↔ :class:`~wharf.model.ShipNotice`, following the HL tree.

The HL hierarchy is read by its parent pointers (HL02), never by file order or BSN05: levels
``S`` shipment, ``O`` order, ``T`` tare (pallet), ``P`` pack (carton), ``I`` item (``F``/``Q``
sub-packs count as packs). Every variant in the corpus works the same way — S-I, S-O-I, S-O-P-I,
S-O-T-P-I, several orders per shipment. Each item is placed by its ancestors:

* the **order** is its nearest ``O`` ancestor's ``PRF01``; without an O level (S-I files) the
  item's own ``PRF01``; items without either are an error pointing at their HL;
* the **pack** is its nearest packaging ancestor (``P``, or ``T`` for items loaded straight on
  a pallet) below the order: ``MAN*GM`` is the
  SSCC (an 18-digit SSCC, or 20 digits with the ``00`` application identifier), ``TD1`` the
  packaging code; items without a pack go in the order's loose ``items``. A tare's own SSCC is
  not kept when packs sit under it (the model has no pack nesting).
* an HL whose HL02 is empty below the shipment (an OopFactory sample) hangs under the nearest
  preceding HL of a higher level; an HL02 naming an HL not seen before is an error (this also
  rules out cycles).

Items: ``LIN`` ids (LIN01 is the PO line number, else SN101), ``SN1`` SN102 quantity shipped +
SN103 unit, ``PID*F`` description. Shipment: ``BSN02`` ASN number (else REF*BM, else ST02),
``BSN03`` date, ``DTM*011`` shipped at (date, time, DTM04 time zone: UT/GM = UTC, ES/ED/CS/CD/
MS/MD/PS/PD fixed offsets, others local), ``DTM*017`` (else 067) estimated delivery, ``TD5``
carrier (TD503 SCAC when TD502 is 2 and it is 2-4 letters, TD505 name), ``REF*BM`` bill of
lading, ``REF*CN`` tracking (else the first pack's MAN*SM/CP), N1 ``SF``/``SH`` ship-from, ``ST``
ship-to, ``SU``/``SE``/``VN`` supplier (else the interchange sender), ``BY`` buyer.
Not kept: TD1/TD3/MEA at shipment level, PO4, CLD, REF*LS lots, SN105/106 ordered quantity.

Writing: BSN*00, DTM*011/017, TD5, REF*BM/CN, N1 SF/ST/SU/BY at the shipment, then
HL O (PRF) → HL P (TD1, MAN*GM) → HL I (LIN, SN1, PID), loose items directly under O; CTT01 is
the number of HL segments. Notes are not written (856 has no free-text segment).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from wharf.codecs.x12.values import (
    PartyLoop,
    bad,
    date_of,
    el,
    item_ref,
    missing,
    quantity,
    text_of,
    time_of,
)
from wharf.codecs.x12.writer import SetWriter, ck_date, item_ids, num, write_party
from wharf.model import Carrier, Pack, ShipmentOrder, ShipNotice, ShippedItem

if TYPE_CHECKING:
    from collections.abc import Mapping

    from wharf.codecs.x12.values import ReadContext

__all__ = ("read_856", "write_856")

_READ = frozenset(("HL", "LIN", "SN1", "PRF", "MAN", "PID", "TD1", "DTM", "REF", "TD5", "N1",
                   "N3", "N4", "BSN"))
_PACKS = frozenset(("P", "F", "Q", "T"))
_RANK: Mapping[str, int] = {"S": 0, "O": 1, "T": 2, "P": 3, "F": 3, "Q": 3, "I": 4}
_ZONES: Mapping[str, dt.timezone] = {
    "UT": dt.UTC, "GM": dt.UTC,
    **{code: dt.timezone(dt.timedelta(hours=hours)) for code, hours in (
        ("ES", -5), ("ED", -4), ("CS", -6), ("CD", -5), ("MS", -7), ("MD", -6), ("PS", -8),
        ("PD", -7))},
}


class _Node:
    __slots__ = (
        "code",
        "description",
        "level",
        "lin",
        "order_node",
        "pack_node",
        "packaging",
        "parent",
        "po",
        "pos",
        "segment",
        "sn1",
        "sscc",
    )

    def __init__(self, pos: int, segment: list[str], level: str, parent: _Node | None) -> None:
        self.pos, self.segment, self.level, self.parent = pos, segment, level, parent
        self.po: str | None = None
        self.sscc: str | None = None
        self.packaging: str | None = None
        self.lin: tuple[int, list[str]] | None = None
        self.sn1: tuple[int, list[str]] | None = None
        self.description: str | None = None
        self.code: str | None = None
        # The nearest O ancestor and the nearest packaging level below it, from the parent's.
        self.order_node: _Node | None = None
        self.pack_node: _Node | None = None
        if parent is not None:
            if parent.level == "O":
                self.order_node = parent
            else:
                self.order_node = parent.order_node
                self.pack_node = parent if parent.level in _PACKS else parent.pack_node


def _stamp(ctx: ReadContext, pos: int, seg: list[str]) -> dt.datetime | None:
    day = date_of(el(seg, 2))
    if day is None:
        ctx.warn(pos, seg, 2, f"{el(seg, 2)!r} is not a date")
        return None
    clock = time_of(el(seg, 3)) if el(seg, 3) else dt.time()
    if clock is None:
        ctx.warn(pos, seg, 3, f"{el(seg, 3)!r} is not a time")
        clock = dt.time()
    return dt.datetime.combine(day, clock, tzinfo=_ZONES.get(el(seg, 4)))


def _sscc(ctx: ReadContext, pos: int, seg: list[str]) -> str | None:
    value = el(seg, 2)
    if len(value) == 20 and value.startswith("00"):
        value = value[2:]
    if len(value) == 18 and value.isascii() and value.isdigit():
        return value
    ctx.warn(pos, seg, 2, f"{el(seg, 2)!r} is not an SSCC-18")
    return None


def _hl(
    pos: int, seg: list[str], nodes: dict[str, _Node], order: list[_Node],
    latest: list[_Node | None],
) -> _Node:
    ident, parent_id, level = el(seg, 1), el(seg, 2), el(seg, 3)
    if not ident:
        raise bad(pos, seg, 1, "1", "the hierarchical id is missing")
    if ident in nodes:
        raise bad(pos, seg, 1, "7", f"hierarchical id {ident!r} is used twice")
    rank = _RANK.get(level)
    if rank is None:
        raise bad(pos, seg, 3, "7", f"level code {level!r} is not one of S, O, T, P, I")
    parent = None
    if parent_id:
        parent = nodes.get(parent_id)
        if parent is None:
            raise bad(pos, seg, 2, "7", f"parent {parent_id!r} is not an earlier HL")
    elif rank:
        # The nearest preceding HL of a higher level (bounded work: one candidate per level).
        parent = max((node for node in latest[:rank] if node is not None),
                     key=lambda node: node.pos, default=None)
    node = _Node(pos, seg, level, parent)
    nodes[ident] = node
    order.append(node)
    latest[rank] = node
    return node


def read_856(segments: list[list[str]], ctx: ReadContext) -> ShipNotice:
    """Read one 856 transaction set (segment 1 is ST)."""
    parties = PartyLoop()
    nodes: dict[str, _Node] = {}
    order: list[_Node] = []
    latest: list[_Node | None] = [None] * 5  # the last HL seen per level rank
    node: _Node | None = None
    bsn: tuple[int, list[str]] | None = None
    shipped_at: dt.datetime | None = None
    delivery: dt.date | None = None
    schedule: dt.date | None = None
    td5: tuple[int, list[str]] | None = None
    refs: dict[str, str] = {}
    tracking: str | None = None
    for pos, seg in enumerate(segments, 1):
        seg_id = seg[0]
        if seg_id not in _READ:
            continue
        if seg_id == "HL":
            parties.end()
            node = _hl(pos, seg, nodes, order, latest)
        elif seg_id == "LIN":
            if node is not None and node.lin is None:
                node.lin = (pos, seg)
        elif seg_id == "SN1":
            if node is not None and node.sn1 is None:
                node.sn1 = (pos, seg)
        elif seg_id == "PRF":
            if node is not None and node.po is None and el(seg, 1):
                node.po = el(seg, 1)
        elif seg_id == "MAN":
            if node is not None and el(seg, 1) == "GM" and node.sscc is None:
                node.sscc = _sscc(ctx, pos, seg)
            elif el(seg, 1) in ("SM", "CP") and el(seg, 2) and tracking is None:
                tracking = el(seg, 2)
        elif seg_id == "PID":
            text = text_of(el(seg, 5))
            if node is not None and node.description is None and text:
                node.description = text
            if node is not None and node.code is None:
                node.code = el(seg, 4) or None
        elif seg_id == "TD1":
            if node is not None and node.level != "S" and el(seg, 1):
                node.packaging = node.packaging or el(seg, 1)
        elif seg_id == "DTM":
            qualifier = el(seg, 1)
            if qualifier == "011" and shipped_at is None:
                shipped_at = _stamp(ctx, pos, seg)
            elif qualifier in ("017", "067"):
                when = date_of(el(seg, 2))
                if when is None:
                    ctx.warn(pos, seg, 2, f"{el(seg, 2)!r} is not a date")
                elif qualifier == "017":
                    delivery = delivery or when
                else:
                    schedule = schedule or when
        elif seg_id == "REF":
            if el(seg, 1) in ("BM", "CN") and el(seg, 2):
                refs.setdefault(el(seg, 1), el(seg, 2))
        elif seg_id == "TD5":
            if td5 is None and (el(seg, 3) or el(seg, 5)):
                td5 = (pos, seg)
        elif seg_id in ("N1", "N3", "N4"):
            parties.feed(pos, seg)
        elif seg_id == "BSN":
            bsn = (pos, seg)
    if bsn is None:
        raise missing(2, "BSN", "an 856 needs its BSN segment")
    pos, seg = bsn
    document_id = el(seg, 2) or refs.get("BM") or el(segments[0], 2)
    if not el(seg, 2):
        ctx.warn(pos, seg, 2, f"empty shipment id; the ASN number is {document_id!r}")
    issue_date = date_of(el(seg, 3)) if el(seg, 3) else None
    if el(seg, 3) and issue_date is None:
        ctx.warn(pos, seg, 3, f"{el(seg, 3)!r} is not a date")
    orders = _orders(ctx, order, len(segments))
    supplier = ctx.party_or_envelope(parties.party(ctx, "SU", "SE", "VN"), ctx.sender)
    if supplier is None:
        raise missing(2, "N1", "no supplier: no N1*SU/SE/VN and no envelope to take it from")
    buyer, ship_from, ship_to = (parties.party(ctx, *codes) for codes in (("BY",), ("SF", "SH"),
                                                                            ("ST",)))
    return ShipNotice(
        document_id=document_id,
        issue_date=issue_date,
        supplier=supplier,
        buyer=buyer,
        shipped_at=shipped_at,
        estimated_delivery=delivery or schedule,
        carrier=_carrier(ctx, td5),
        tracking_number=refs.get("CN") or tracking,
        bill_of_lading=refs.get("BM"),
        ship_from=ship_from,
        ship_to=ship_to,
        orders=orders,
        notes=tuple(ctx.warnings),
        source=ctx.source,
    )


def _carrier(ctx: ReadContext, found: tuple[int, list[str]] | None) -> Carrier | None:
    if found is None:
        return None
    pos, td5 = found
    code, name = el(td5, 3), text_of(el(td5, 5)) or None
    if el(td5, 2) == "2" and 2 <= len(code) <= 4 and code.isascii() and code.isalpha() and (
        code.isupper()
    ):
        return Carrier(scac=code, name=name)
    if code:
        ctx.warn(pos, td5, 3, f"{code!r} is not a SCAC")
    name = name or code or None
    return Carrier(name=name) if name else None


def _orders(ctx: ReadContext, nodes: list[_Node], size: int) -> tuple[ShipmentOrder, ...]:
    # Orders are keyed by their O level (by PO number for items without one), packs by their
    # P/T level, both in order of first appearance.
    orders: dict[object, tuple[str, dict[int, tuple[_Node, list[ShippedItem]]],
                               list[ShippedItem]]] = {}
    for node in nodes:
        if node.level != "I":
            continue
        order_node, pack_node = node.order_node, node.pack_node
        po = (order_node.po if order_node is not None else None) or node.po
        if po is None:
            where = order_node or node
            raise bad(where.pos, where.segment, None, "3",
                      "no purchase order number (PRF) for this level's items")
        shipped = _shipped(ctx, node)
        key = id(order_node) if order_node is not None else po
        _, packs, loose = orders.setdefault(key, (po, {}, []))
        if pack_node is None:
            loose.append(shipped)
        else:
            packs.setdefault(id(pack_node), (pack_node, []))[1].append(shipped)
    if not orders:
        raise missing(size, "HL", "the ship notice has no item level (HL*I) with goods")
    return tuple(
        ShipmentOrder(
            po_number=po,
            packs=tuple(
                Pack(sscc=pack.sscc, packaging_code=pack.packaging, items=tuple(items))
                for pack, items in packs.values()
            ),
            items=tuple(loose),
        )
        for po, packs, loose in orders.values()
    )


def _shipped(ctx: ReadContext, node: _Node) -> ShippedItem:
    if node.lin is None:
        raise missing(node.pos, "LIN", "an item level needs its LIN segment")
    if node.sn1 is None:
        raise missing(node.pos, "SN1", "an item level needs its SN1 segment")
    lin_pos, lin = node.lin
    sn1_pos, sn1 = node.sn1
    item = item_ref(ctx, lin_pos, lin, 2, node.description, node.code)
    if item is None:
        raise bad(lin_pos, lin, 3, "1", "the item has no usable identifier (LIN02-LIN31)")
    line_number = el(lin, 1) or el(sn1, 1) or None
    if line_number is not None and len(line_number) > 20:
        raise bad(lin_pos, lin, 1, "5", f"line number {line_number!r} is longer than 20")
    return ShippedItem(
        line_number=line_number, item=item,
        quantity=quantity(sn1_pos, sn1, 2, 3, "the quantity shipped"),
    )


def write_856(notice: ShipNotice, today: dt.date) -> list[str]:
    """The 856 transaction set (ST..SE) for a ship notice."""
    w = SetWriter("856")
    shipped = notice.shipped_at
    w.add("BSN", "00", notice.document_id, ck_date(notice.issue_date or today),
          (shipped or dt.datetime.combine(today, dt.time())).strftime("%H%M"), "0001")
    w.add("HL", "1", None, "S")
    if notice.carrier is not None:
        if notice.carrier.scac:
            w.add("TD5", None, "2", notice.carrier.scac, None, notice.carrier.name)
        else:
            w.add("TD5", None, None, None, None, notice.carrier.name)
    if notice.bill_of_lading:
        w.add("REF", "BM", notice.bill_of_lading)
    if notice.tracking_number:
        w.add("REF", "CN", notice.tracking_number)
    if shipped is not None:
        zone = None
        if shipped.tzinfo is not None:
            shipped, zone = shipped.astimezone(dt.UTC), "UT"
        w.add("DTM", "011", ck_date(shipped.date()), shipped.strftime("%H%M%S"), zone)
    if notice.estimated_delivery:
        w.add("DTM", "017", ck_date(notice.estimated_delivery))
    write_party(w, "SF", notice.ship_from)
    write_party(w, "ST", notice.ship_to)
    write_party(w, "SU", notice.supplier)
    write_party(w, "BY", notice.buyer)
    count = 1
    for order in notice.orders:
        count += 1
        order_id = str(count)
        w.add("HL", order_id, "1", "O")
        w.add("PRF", order.po_number)
        for pack in order.packs:
            count += 1
            pack_id = str(count)
            w.add("HL", pack_id, order_id, "P")
            if pack.packaging_code:
                w.add("TD1", pack.packaging_code)
            if pack.sscc:
                w.add("MAN", "GM", pack.sscc)
            for item in pack.items:
                count += 1
                _write_item(w, str(count), pack_id, item)
        for item in order.items:
            count += 1
            _write_item(w, str(count), order_id, item)
    w.add("CTT", str(count))
    return w.finish()


def _write_item(w: SetWriter, ident: str, parent: str, item: ShippedItem) -> None:
    w.add("HL", ident, parent, "I")
    w.add("LIN", item.line_number, *item_ids(item.item))
    w.add("SN1", None, num(item.quantity.value), item.quantity.uom)
    if item.item.description:
        w.add("PID", "F", None, None, None, item.item.description)
