"""846 Inventory Inquiry/Advice → :class:`~wharf.model.InventoryAdvice` (read only).

An 846 is informational and long (one LIN per item), so one unreadable item does not sink the
advice: an item without identifier or with an unusable quantity is left out and the reason is
noted; only an advice with no usable line at all is rejected.

* ``BIA03`` is the advice number, ``BIA04`` its date and, with ``BIA05`` (``HHMM[SS[DD]]``), the
  ``as_of`` moment (else ``DTM*007``; else the group date, noted).
* Per ``LIN`` (ids from LIN02), each ``QTY`` (QTY02 amount, unit from QTY03 or the ``UIT``
  after it, or a UIT before the first QTY) is a line when its qualifier QTY01 says the goods
  are there: ``33`` available for sale and ``17`` on hand are available now; ``63`` on order is
  available from the ``DTM`` (371/018/169) that follows it, and skipped without one. An item
  whose QTYs all have other qualifiers (``34``, ``QH``, ``QB``, ``87`` … differ by partner) is read
  from its first QTY and the qualifier is noted, so nothing vanishes silently.
* Supplier: N1 ``SU``/``SE``/``VN``/``MF`` else the interchange sender; buyer: N1 ``BY``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from wharf.codecs.x12.values import (
    PartyLoop,
    bad,
    date_of,
    decimal_of,
    el,
    is_uom,
    item_ref,
    missing,
    need,
    time_of,
)
from wharf.model import InventoryAdvice, InventoryLine, Quantity

if TYPE_CHECKING:
    from wharf.codecs.x12.values import ReadContext

__all__ = ("read_846",)

_NOW = frozenset(("33", "17"))
_LATER = frozenset(("63",))
_LATER_DATES = frozenset(("371", "018", "169"))


class _Qty:
    __slots__ = ("date", "pos", "qualifier", "segment", "uom")

    def __init__(self, pos: int, segment: list[str]) -> None:
        self.pos, self.segment = pos, segment
        self.qualifier = el(segment, 1)
        uom = el(segment, 3)
        self.uom = uom.split(">", 1)[0] if uom else ""
        self.date: dt.date | None = None


class _Item:
    __slots__ = ("pos", "quantities", "segment", "uom")

    def __init__(self, pos: int, segment: list[str]) -> None:
        self.pos, self.segment = pos, segment
        self.quantities: list[_Qty] = []
        self.uom = ""


def _lines(ctx: ReadContext, item: _Item) -> list[InventoryLine]:
    ref = item_ref(ctx, item.pos, item.segment, 2)
    if ref is None:
        ctx.warn(item.pos, item.segment, 3, "the item has no usable identifier")
        return []
    chosen = [q for q in item.quantities if q.qualifier in _NOW or (
        q.qualifier in _LATER and q.date is not None)]
    if not chosen and item.quantities:
        first = item.quantities[0]
        ctx.warn(first.pos, first.segment, 1,
                 f"qualifier {first.qualifier!r} is not 33/17/63; read as available")
        chosen = [first]
    lines = []
    for qty in chosen:
        value = decimal_of(el(qty.segment, 2))
        uom = qty.uom or item.uom
        if value is None or value < 0:
            ctx.warn(qty.pos, qty.segment, 2, f"{el(qty.segment, 2)!r} is not a quantity")
        elif not is_uom(uom):
            ctx.warn(qty.pos, qty.segment, 3, f"{uom!r} is not a unit of measure code")
        else:
            lines.append(InventoryLine(item=ref, quantity=Quantity(value=value, uom=uom),
                                       available_date=qty.date))
    return lines


def read_846(segments: list[list[str]], ctx: ReadContext) -> InventoryAdvice:
    """Read one 846 transaction set (segment 1 is ST)."""
    parties = PartyLoop()
    bia: tuple[int, list[str]] | None = None
    stamp: dt.datetime | None = None
    items: list[_Item] = []
    item: _Item | None = None
    for pos, seg in enumerate(segments, 1):
        seg_id = seg[0]
        if seg_id == "LIN":
            parties.end()
            item = _Item(pos, seg)
            items.append(item)
        elif seg_id == "QTY":
            if item is not None:
                item.quantities.append(_Qty(pos, seg))
        elif seg_id == "UIT":
            if item is not None:
                if item.quantities and not item.quantities[-1].uom:
                    item.quantities[-1].uom = el(seg, 1).split(">", 1)[0]
                elif not item.quantities:
                    item.uom = el(seg, 1).split(">", 1)[0]
        elif seg_id == "DTM":
            day = date_of(el(seg, 2))
            if item is not None and item.quantities and el(seg, 1) in _LATER_DATES:
                item.quantities[-1].date = day
            elif item is None and el(seg, 1) == "007" and day is not None and stamp is None:
                stamp = dt.datetime.combine(day, time_of(el(seg, 3)) or dt.time())
        elif seg_id in ("N1", "N3", "N4"):
            parties.feed(pos, seg)
        elif seg_id == "BIA":
            bia = (pos, seg)
    if bia is None:
        raise missing(2, "BIA", "an 846 needs its BIA segment")
    pos, seg = bia
    document_id = need(pos, seg, 3, "the advice number")
    issue_date = date_of(el(seg, 4))
    if issue_date is not None:
        as_of = dt.datetime.combine(issue_date, time_of(el(seg, 5)) or dt.time())
    elif stamp is not None or ctx.group_date is not None:
        if el(seg, 4):
            ctx.warn(pos, seg, 4, f"{el(seg, 4)!r} is not a date")
        if stamp is None:
            ctx.warnings.append("x12: no advice date; as_of is the group date (GS04)")
        as_of = stamp or dt.datetime.combine(ctx.group_date or dt.date.min, dt.time())
    elif el(seg, 4):
        raise bad(pos, seg, 4, "8", f"{el(seg, 4)!r} is not a date")
    else:
        raise bad(pos, seg, 4, "1", "the advice date is missing")
    lines = [line for entry in items for line in _lines(ctx, entry)]
    if not lines:
        raise missing(len(segments), "QTY", "no item with a usable quantity")
    supplier = ctx.party_or_envelope(parties.party(ctx, "SU", "SE", "VN", "MF"), ctx.sender)
    if supplier is None:
        raise missing(2, "N1", "no supplier: no N1*SU/SE/VN/MF and no envelope")
    buyer = parties.party(ctx, "BY")
    return InventoryAdvice(
        document_id=document_id,
        issue_date=issue_date,
        supplier=supplier,
        buyer=buyer,
        as_of=as_of,
        lines=tuple(lines),
        notes=tuple(ctx.warnings),
        source=ctx.source,
    )
