"""832 Price/Sales Catalog → :class:`~wharf.model.PriceCatalog` (read only).

* ``BCT02`` is the catalog number; header ``DTM*007`` (effective) or ``092`` (contract
  effective) the start, ``DTM*093``/``036`` the end. Without a start date the group date (GS04)
  is used and noted.
* ``CUR02`` currency, default USD. Supplier: N1 ``SU``/``VN``/``SE``/``MF`` (the manufacturer
  publishing the catalog, as in the HIBCC samples) else the interchange sender; buyer N1 ``BY``.
* Per ``LIN`` (ids from LIN02): the first ``CTP`` with a price (CTP03) and a unit (CTP05, first
  component) is the line's price and price unit; further CTPs (price tiers such as
  ``CTP*BG*C02``) are not kept and are noted; ``PID*F`` is the description.
* An item without a usable CTP (a title-only BISG book catalog has none) becomes a line
  without a price, noted when it had CTPs; a catalog without any LIN, or in which no LIN names
  its item, is rejected.
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
    text_of,
)
from wharf.model import CatalogLine, Money, PriceCatalog

if TYPE_CHECKING:
    import datetime as dt
    from decimal import Decimal

    from wharf.codecs.x12.values import ReadContext

__all__ = ("read_832",)


class _Item:
    __slots__ = ("description", "extra", "pos", "price", "segment", "uom")

    def __init__(self, pos: int, segment: list[str]) -> None:
        self.pos, self.segment = pos, segment
        self.price: Decimal | None = None
        self.uom = ""
        self.description: str | None = None
        self.extra = 0


def read_832(segments: list[list[str]], ctx: ReadContext) -> PriceCatalog:
    """Read one 832 transaction set (segment 1 is ST)."""
    parties = PartyLoop()
    bct: tuple[int, list[str]] | None = None
    currency: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    items: list[_Item] = []
    item: _Item | None = None
    for pos, seg in enumerate(segments, 1):
        seg_id = seg[0]
        if seg_id == "LIN":
            parties.end()
            item = _Item(pos, seg)
            items.append(item)
        elif seg_id == "CTP":
            if item is None:
                continue
            price = decimal_of(el(seg, 3)) if el(seg, 3) else None
            uom = el(seg, 5).split(">", 1)[0]
            if item.price is None and price is not None and price >= 0 and is_uom(uom):
                item.price, item.uom = price, uom
            else:
                item.extra += 1
        elif seg_id == "PID":
            text = text_of(el(seg, 5))
            if item is not None and item.description is None and text:
                item.description = text
        elif seg_id == "DTM":
            if item is None:
                qualifier, day = el(seg, 1), date_of(el(seg, 2))
                if day is None:
                    ctx.warn(pos, seg, 2, f"{el(seg, 2)!r} is not a date")
                elif qualifier in ("007", "092"):
                    start = start or day
                elif qualifier in ("093", "036"):
                    end = end or day
        elif seg_id in ("N1", "N3", "N4"):
            parties.feed(pos, seg)
        elif seg_id == "BCT":
            bct = (pos, seg)
        elif seg_id == "CUR":
            code = currency_of(pos, seg)
            currency = currency or code
    if bct is None:
        raise missing(2, "BCT", "an 832 needs its BCT segment")
    pos, seg = bct
    document_id = need(pos, seg, 2, "the catalog number")
    if start is None:
        if ctx.group_date is None:
            raise missing(pos + 1, "DTM", "no effective date (DTM*007/092) and no group date")
        ctx.warnings.append("x12: no effective date (DTM*007/092); the group date (GS04) is used")
        start = ctx.group_date
    if end is not None and end < start:
        ctx.warnings.append(f"x12: expiry {end} before the effective date {start} ignored")
        end = None
    cur = currency or "USD"
    lines = []
    for entry in items:
        ref = item_ref(ctx, entry.pos, entry.segment, 2, entry.description)
        if ref is None:
            ctx.warn(entry.pos, entry.segment, 3, "the item has no usable identifier")
            continue
        if entry.price is None:
            if entry.extra:
                ctx.warnings.append(
                    f"x12: LIN (segment {entry.pos}): {entry.extra} CTP without a usable price "
                    "(CTP03 >= 0 with a CTP05 unit); the item is listed without a price"
                )
            lines.append(CatalogLine(item=ref))
            continue
        if entry.extra:
            ctx.warn(entry.pos, entry.segment, None, f"{entry.extra} further price(s) not kept")
        lines.append(CatalogLine(item=ref, unit_price=Money(amount=entry.price, currency=cur),
                                 price_uom=entry.uom))
    if not lines:
        if not items:
            raise missing(len(segments), "LIN", "the catalog has no items")
        first = items[0]
        raise bad(first.pos, first.segment, 3, "1", "no item has a usable identifier")
    supplier = ctx.party_or_envelope(parties.party(ctx, "SU", "VN", "SE", "MF"), ctx.sender)
    if supplier is None:
        raise missing(2, "N1", "no supplier: no N1*SU/VN/SE/MF and no envelope")
    buyer = parties.party(ctx, "BY")
    return PriceCatalog(
        document_id=document_id,
        supplier=supplier,
        buyer=buyer,
        currency=cur,
        effective_from=start,
        effective_to=end,
        lines=tuple(lines),
        notes=tuple(ctx.warnings),
        source=ctx.source,
    )
