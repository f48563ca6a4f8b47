"""What each internal system receives: one accepted document, seen the way that system needs it.

A policy routes a document type to subjects whose first token names the system (``wms.``,
``erp.``, ``tms.``, ``crm.``, ...). Most systems take the canonical document as it is; for a
ship notice Wharf does the synchronising work the distributor would otherwise do by hand:

* **WMS** (``wms.*``): the canonical ship notice, and in the ``Wharf-Receiving`` header, per
  shipped item (by JSON pointer), the warehouse, dock and zone it will be received at (from
  the ship-to and master data's zone rules) — the body stays canonical so a strict reader of
  the canonical model still reads it;
* **ERP** (``erp.*``): the canonical ship notice (the expected receipt: PO lines, quantities,
  and the estimated delivery as the expected receipt date);
* **TMS** (``tms.*``): the carrier milestone — carrier, tracking, bill of lading, shipped at,
  estimated delivery, and the POs it carries;
* **customer service** (``crm.*``): the open customer orders a document moves, each with its
  new availability date — waiting on the shipped PO lines (ship notice), on acknowledged PO
  lines with a promised date (acknowledgment), or on an item whose lead time changed or whose
  availability the supplier reported (lead-time change, inventory advice).

The enrichment is gathered once per document during validation (:class:`Enrichment`), so a
redelivery renders the same views.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import msgspec

from wharf.model import (
    Document,
    InventoryAdvice,
    LeadTimeChange,
    POAcknowledgment,
    ShipNotice,
    doc_type_of,
    encode_document,
)

if TYPE_CHECKING:
    from wharf.business import CustomerOrder, MasterData
    from wharf.model import ItemRef

__all__ = ("RECEIVING_HEADER", "AffectedOrder", "Enrichment", "ItemLocation", "enrich", "render")

_encode = msgspec.json.Encoder(decimal_format="string").encode


class ItemLocation(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where one shipped item (by its JSON pointer in the ship notice) is received."""

    pointer: str
    sku: str | None = None
    warehouse: str | None = None
    dock: str | None = None
    zone: str | None = None


class AffectedOrder(msgspec.Struct, frozen=True, kw_only=True):
    """An open customer order line that waits for a shipped PO line."""

    order_id: str
    line: str
    customer: str
    sku: str
    po_number: str
    po_line: str | None = None
    promised_date: dt.date
    available_date: dt.date | None = None
    late: bool = False


class Enrichment(msgspec.Struct, frozen=True, kw_only=True):
    """What master data adds to one document for the systems it is posted to."""

    locations: tuple[ItemLocation, ...] = ()
    affected_orders: tuple[AffectedOrder, ...] = ()


async def enrich(document: Document, supplier: str, master: MasterData) -> Enrichment:
    """Receiving locations (ship notices) and the customer orders a document moves."""
    if isinstance(document, ShipNotice):
        return await _ship_notice(document, supplier, master)
    affected: dict[tuple[str, str], AffectedOrder] = {}
    if isinstance(document, POAcknowledgment):
        for line in document.lines:
            if line.promised_date is None:
                continue
            for waiting in await master.customer_orders(document.po_number, line.line_number):
                _affect(affected, waiting, line.promised_date)
    elif isinstance(document, LeadTimeChange):
        today = dt.datetime.now(dt.UTC).date()
        waiting_for = await master.customer_orders_by_sku()
        for change in document.lines:
            sku = await _sku(master, supplier, change.item)
            available = today + dt.timedelta(days=change.new_lead_time_days)
            for waiting in waiting_for.get(sku or "", ()):
                _affect(affected, waiting, available)
    elif isinstance(document, InventoryAdvice):
        waiting_for = await master.customer_orders_by_sku()
        for stock in document.lines:
            sku = await _sku(master, supplier, stock.item)
            if stock.available_date is None:
                continue
            for waiting in waiting_for.get(sku or "", ()):
                _affect(affected, waiting, stock.available_date)
    return Enrichment(affected_orders=tuple(affected.values()))


def _affect(
    into: dict[tuple[str, str], AffectedOrder], waiting: CustomerOrder, available: dt.date | None
) -> None:
    into[(waiting.order_id, waiting.line)] = AffectedOrder(
        order_id=waiting.order_id, line=waiting.line, customer=waiting.customer,
        sku=waiting.sku, po_number=waiting.po_number, po_line=waiting.po_line,
        promised_date=waiting.promised_date, available_date=available,
        late=available is not None and available > waiting.promised_date,
    )


async def _sku(master: MasterData, supplier: str, ref: ItemRef) -> str | None:
    resolved = None
    if ref.supplier_part is not None:
        resolved = await master.item_for_part(supplier, ref.supplier_part)
    if resolved is None and ref.gtin is not None:
        resolved = await master.item_by_gtin(ref.gtin)
    return resolved.sku if resolved is not None else ref.sku


async def _ship_notice(document: ShipNotice, supplier: str, master: MasterData) -> Enrichment:
    warehouse = await master.warehouse_for(document.ship_to) if document.ship_to else None
    available = document.estimated_delivery or (
        document.shipped_at.date() if document.shipped_at else None
    )
    locations: list[ItemLocation] = []
    affected: dict[tuple[str, str], AffectedOrder] = {}
    for o, order in enumerate(document.orders):
        shipped = [(f"/orders/{o}/packs/{p}/items/{i}", item)
                   for p, pack in enumerate(order.packs) for i, item in enumerate(pack.items)]
        shipped += [(f"/orders/{o}/items/{i}", item) for i, item in enumerate(order.items)]
        for pointer, item in shipped:
            sku = await _sku(master, supplier, item.item)
            if warehouse is not None and sku is not None:
                where = await master.locate(warehouse, sku)
                locations.append(ItemLocation(pointer=pointer, sku=sku, warehouse=where.warehouse_id,
                                              dock=where.dock, zone=where.zone))
            else:
                locations.append(ItemLocation(pointer=pointer, sku=sku))
            for waiting in await master.customer_orders(order.po_number, item.line_number):
                _affect(affected, waiting, available)
    return Enrichment(locations=tuple(locations), affected_orders=tuple(affected.values()))


RECEIVING_HEADER = "Wharf-Receiving"


def render(target: str, document: Document, enrichment: Enrichment) -> tuple[bytes, dict[str, str]]:
    """The body (and extra headers) posted to ``target`` (a subject or URL) for this document."""
    system = target.split("://", 1)[-1].split(".", 1)[0]
    if isinstance(document, ShipNotice):
        located = [loc for loc in enrichment.locations if loc.warehouse is not None]
        if system == "wms" and located:
            return encode_document(document), {RECEIVING_HEADER: _encode(located).decode()}
        if system == "tms":
            return _encode({
                "milestone": "shipped", "ship_notice": document.document_id,
                "supplier": document.supplier.id, "carrier": document.carrier,
                "tracking_number": document.tracking_number,
                "bill_of_lading": document.bill_of_lading, "shipped_at": document.shipped_at,
                "estimated_delivery": document.estimated_delivery,
                "po_numbers": [o.po_number for o in document.orders],
            }), {}
    if system == "crm":
        return _encode({
            "doc_type": doc_type_of(document), "document_id": document.document_id,
            "supplier": document.supplier.id, "affected_orders": enrichment.affected_orders,
        }), {}
    return encode_document(document), {}
