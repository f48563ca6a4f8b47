"""cXML ``OrderRequest`` ⇄ :class:`~wharf.model.PurchaseOrder` (a buyer's PO, in and out).

``OrderRequestHeader/@orderID`` is the PO number and ``@type`` (new / update / delete) its
purpose. The supplier and buyer are ``Contact`` elements (roles ``supplierCorporate`` and
``buyerCorporate``); inbound orders rarely carry a supplier contact, so the ``To`` credential's
identity stands in for the supplier then. Each ``ItemOut`` is one line; an ``ItemOut`` without a
``lineNumber`` is numbered by its position (and a note says so).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from wharf.codecs.cxml.common import (
    BUYER_ROLES,
    SUPPLIER_ROLES,
    Reading,
    comments,
    date_attr,
    datetime_text,
    decimal_text,
    item_fields,
    money_fields,
    party_from_ship_bill,
    quantity_fields,
    sub,
    write_comments,
    write_item_id,
    write_party_contact,
    write_ship_bill,
)
from wharf.codecs.xml import build, text_of
from wharf.errors import DocumentError
from wharf.model import PurchaseOrder

__all__ = ("read_order_request", "write_order_request")

_PURPOSES = {"new": "original", "update": "change", "delete": "cancel"}
_TYPES = {purpose: kind for kind, purpose in _PURPOSES.items()}


def read_order_request(request: ET.Element, reading: Reading) -> PurchaseOrder:
    """Read an ``OrderRequest`` element found at ``reading.where``."""
    where = reading.where
    header = request.find("OrderRequestHeader")
    head = f"{where}/OrderRequestHeader"
    if header is None:
        raise DocumentError("the OrderRequestHeader is missing", pointer=head)
    order_id = (header.get("orderID") or "").strip()
    if not order_id:
        raise DocumentError("the order has no orderID", pointer=f"{head}/@orderID")
    kind = header.get("type") or "new"
    purpose = _PURPOSES.get(kind)
    if purpose is None:
        raise DocumentError(
            f"order type {kind!r} is not new, update or delete", pointer=f"{head}/@type"
        )
    data: dict[str, object] = {"document_id": order_id, "purpose": purpose}
    reading.origins["/document_id"] = f"{head}/@orderID"
    issue_date = date_attr(header, "orderDate", head)
    if issue_date is not None:
        data["issue_date"] = issue_date
    reading.money(header.find("Total/Money"), f"{head}/Total/Money")  # fixes the currency
    # An order goes from the buyer (From) to the supplier (To).
    supplier = reading.party(header, SUPPLIER_ROLES, reading.header.to_identity)
    if supplier is None:
        raise DocumentError("the order names no supplier (Contact or To credential)", pointer=head)
    data["supplier"] = supplier
    buyer = reading.party(header, BUYER_ROLES, None)
    if buyer is not None:
        data["buyer"] = buyer
    for key, tag in (("ship_to", "ShipTo"), ("bill_to", "BillTo")):
        element = header.find(tag)
        party = party_from_ship_bill(element) if element is not None else None
        if party is not None:
            data[key] = party
            reading.origins[f"/{key}"] = f"{head}/{tag}"
    requested = date_attr(header, "requestedDeliveryDate", head)
    if requested is not None:
        data["requested_date"] = requested
    lines = []
    for index, item_out in enumerate(request.iterfind("ItemOut")):
        pointer = f"{where}/ItemOut[{index + 1}]"
        reading.origins[f"/lines/{index}"] = pointer
        lines.append(_read_item_out(item_out, pointer, index, reading))
    data["lines"] = lines
    if reading.currency is not None:
        data["currency"] = reading.currency
    data["notes"] = comments(header) + reading.added_notes()
    data["source"] = reading.source()
    return build(data, PurchaseOrder, reading.origins, where)


def _read_item_out(
    item_out: ET.Element, pointer: str, index: int, reading: Reading
) -> dict[str, object]:
    line_number = (item_out.get("lineNumber") or "").strip()
    if not line_number:
        line_number = str(index + 1)
        reading.notes.append(f"ItemOut[{index + 1}] has no lineNumber; its position is used")
    detail = item_out.find("ItemDetail")
    detail_pointer = f"{pointer}/ItemDetail"
    if detail is None:
        raise DocumentError("the ItemDetail is missing", pointer=detail_pointer)
    line: dict[str, object] = {
        "line_number": line_number,
        "item": item_fields(
            item_out.find("ItemID"), text_of(detail.find("Description")), f"{pointer}/ItemID"
        ),
        "quantity": quantity_fields(
            item_out, pointer, detail.find("UnitOfMeasure"), f"{detail_pointer}/UnitOfMeasure"
        ),
    }
    price = reading.money(detail.find("UnitPrice/Money"), f"{detail_pointer}/UnitPrice/Money")
    if price is not None:
        line["unit_price"] = price
    requested = date_attr(item_out, "requestedDeliveryDate", pointer)
    if requested is not None:
        line["requested_date"] = requested
    line["notes"] = comments(item_out)
    return line


def write_order_request(order: PurchaseOrder) -> ET.Element:
    """Write a PurchaseOrder as an ``OrderRequest`` element (the caller wraps it in cXML)."""
    request = ET.Element("OrderRequest")
    attrs = {"orderID": order.document_id, "type": _TYPES[order.purpose]}
    if order.issue_date is not None:
        attrs["orderDate"] = datetime_text(order.issue_date)
    if order.requested_date is not None:
        attrs["requestedDeliveryDate"] = datetime_text(order.requested_date)
    header = sub(request, "OrderRequestHeader", attrs=attrs)
    if order.currency is not None:
        total = sum(
            (
                line.quantity.value * line.unit_price.amount
                for line in order.lines
                if line.unit_price is not None
            ),
            start=Decimal(0),
        )
        sub(sub(header, "Total"), "Money", decimal_text(total), {"currency": order.currency})
    if order.ship_to is not None:
        write_ship_bill(header, "ShipTo", order.ship_to)
    if order.bill_to is not None:
        write_ship_bill(header, "BillTo", order.bill_to)
    write_party_contact(header, order.supplier, "supplierCorporate")
    if order.buyer is not None:
        write_party_contact(header, order.buyer, "buyerCorporate")
    write_comments(header, order.notes)
    for line in order.lines:
        attrs = {"quantity": decimal_text(line.quantity.value), "lineNumber": line.line_number}
        if line.requested_date is not None:
            attrs["requestedDeliveryDate"] = datetime_text(line.requested_date)
        item_out = sub(request, "ItemOut", attrs=attrs)
        write_item_id(item_out, line.item)
        detail = sub(item_out, "ItemDetail")
        if line.unit_price is not None:
            amount, currency = money_fields(line.unit_price)
            sub(sub(detail, "UnitPrice"), "Money", amount, {"currency": currency})
        sub(detail, "Description", line.item.description or "", {"xml:lang": "en"})
        sub(detail, "UnitOfMeasure", line.quantity.uom)
        write_comments(item_out, line.notes)
    return request
