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
* **customer service** (``crm.*``): the open customer orders waiting on the shipped PO lines,
  each with its new availability date.

The enrichment is gathered once per document during validation (:class:`Enrichment`), so a
redelivery renders the same views.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import msgspec

from wharf.model import Document, ShipNotice, encode_document

if TYPE_CHECKING:
    from wharf.business import MasterData

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
    """Look up receiving locations and affected customer orders (ship notices only)."""
    if not isinstance(document, ShipNotice):
        return Enrichment()
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
            resolved = None
            if item.item.supplier_part is not None:
                resolved = await master.item_for_part(supplier, item.item.supplier_part)
            if resolved is None and item.item.gtin is not None:
                resolved = await master.item_by_gtin(item.item.gtin)
            sku = resolved.sku if resolved is not None else item.item.sku
            if warehouse is not None and sku is not None:
                where = await master.locate(warehouse, sku)
                locations.append(ItemLocation(pointer=pointer, sku=sku, warehouse=where.warehouse_id,
                                              dock=where.dock, zone=where.zone))
            else:
                locations.append(ItemLocation(pointer=pointer, sku=sku))
            for waiting in await master.customer_orders(order.po_number, item.line_number):
                affected[(waiting.order_id, waiting.line)] = AffectedOrder(
                    order_id=waiting.order_id, line=waiting.line, customer=waiting.customer,
                    sku=waiting.sku, po_number=waiting.po_number, po_line=waiting.po_line,
                    promised_date=waiting.promised_date, available_date=available,
                    late=available is not None and available > waiting.promised_date,
                )
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
                "ship_notice": document.document_id, "supplier": document.supplier.id,
                "affected_orders": enrichment.affected_orders,
            }), {}
    return encode_document(document), {}
