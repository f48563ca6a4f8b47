"""cXML ``ShipNoticeRequest`` ⇄ :class:`~wharf.model.ShipNotice` (advance ship notice).

``ShipNoticeHeader/@shipmentID`` is the ASN number; ``ShipControl`` names the carrier
(``CarrierIdentifier`` with domain ``SCAC`` or ``companyName``) and the shipment's identifiers
(``ShipmentIdentifier``: a tracking number, or a bill of lading with domain ``billOfLading``).
Each ``ShipNoticePortion`` is one PO (canonical order); its ``ShipNoticeItem``s are packed when
they carry ``Packaging`` (``ShippingContainerSerialCode`` = SSCC, ``PackagingCode``), loose
otherwise. Packed items with the same SSCC and packaging code one after another form one pack.

A portion without ``ShipNoticeItem`` (a header-only ASN: "order X shipped") becomes an order
without packs or items, and is written back the same way. A request without any
``ShipNoticePortion`` is rejected: it does not say what shipped.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from wharf.codecs.cxml.common import (
    BUYER_ROLES,
    SUPPLIER_ROLES,
    Reading,
    comments,
    contact_party,
    date_attr,
    datetime_text,
    decimal_text,
    item_fields,
    order_reference,
    quantity_fields,
    sub,
    write_comments,
    write_item_id,
    write_party_contact,
)
from wharf.codecs.xml import build, parse_datetime, text_of
from wharf.errors import DocumentError
from wharf.model import ShipNotice

if TYPE_CHECKING:
    from wharf.model import ShippedItem

__all__ = ("read_ship_notice_request", "write_ship_notice_request")


def read_ship_notice_request(request: ET.Element, reading: Reading) -> ShipNotice:
    """Read a ``ShipNoticeRequest`` element found at ``reading.where``."""
    where = reading.where
    head = f"{where}/ShipNoticeHeader"
    header = request.find("ShipNoticeHeader")
    if header is None:
        raise DocumentError("the ShipNoticeHeader is missing", pointer=head)
    shipment_id = (header.get("shipmentID") or "").strip()
    if not shipment_id:
        raise DocumentError("the ship notice has no shipmentID", pointer=f"{head}/@shipmentID")
    data: dict[str, object] = {"document_id": shipment_id}
    issue_date = date_attr(header, "noticeDate", head)
    if issue_date is not None:
        data["issue_date"] = issue_date
    shipped = header.get("shipmentDate")
    if shipped and shipped.strip():
        data["shipped_at"] = parse_datetime(shipped, f"{head}/@shipmentDate", "shipmentDate")
    delivery = date_attr(header, "deliveryDate", head)
    if delivery is not None:
        data["estimated_delivery"] = delivery
    # A ship notice goes from the supplier (From) to the buyer (To).
    supplier = reading.party(header, SUPPLIER_ROLES, reading.header.from_identity)
    if supplier is None:
        raise DocumentError("the ship notice names no supplier", pointer=head)
    data["supplier"] = supplier
    for key, roles in (
        ("buyer", BUYER_ROLES),
        ("ship_from", ("shipFrom",)),
        ("ship_to", ("shipTo",)),
    ):
        party = contact_party(header, *roles)
        if party is not None:
            data[key] = party
    control = request.find("ShipControl")
    if control is not None:
        _read_control(control, data)
    orders = []
    for index, portion in enumerate(request.iterfind("ShipNoticePortion")):
        pointer = f"{where}/ShipNoticePortion[{index + 1}]"
        reading.origins[f"/orders/{index}"] = pointer
        orders.append(_read_portion(portion, pointer, index, reading))
    if not orders:
        raise DocumentError("the ship notice has no ShipNoticePortion", pointer=where)
    data["orders"] = orders
    data["notes"] = comments(header) + reading.added_notes()
    data["source"] = reading.source()
    return build(data, ShipNotice, reading.origins, where)


def _read_control(control: ET.Element, data: dict[str, object]) -> None:
    carrier: dict[str, object] = {}
    for identifier in control.iterfind("CarrierIdentifier"):
        value = text_of(identifier)
        domain = (identifier.get("domain") or "").strip().lower()
        if not value:
            continue
        if domain == "scac" and "scac" not in carrier:
            code = value.upper()
            if 2 <= len(code) <= 4 and code.isascii() and code.isalpha():
                carrier["scac"] = code
            else:
                carrier.setdefault("name", value)
        elif domain in ("companyname", "name") and "name" not in carrier:
            carrier["name"] = value
    if carrier:
        data["carrier"] = carrier
    for identifier in control.iterfind("ShipmentIdentifier"):
        value = text_of(identifier)
        domain = (identifier.get("domain") or "").strip().lower()
        if not value:
            continue
        if domain == "billoflading":
            data.setdefault("bill_of_lading", value)
        elif domain in ("", "trackingnumber"):
            data.setdefault("tracking_number", value)


def _read_portion(
    portion: ET.Element, pointer: str, order_index: int, reading: Reading
) -> dict[str, object]:
    po_number = order_reference(
        portion.find("OrderReference"), f"{pointer}/OrderReference", reading
    )
    packs: list[dict[str, object]] = []
    pack_items: list[list[dict[str, object]]] = []
    last_key: tuple[str | None, str | None] | None = None
    loose: list[dict[str, object]] = []
    for index, element in enumerate(portion.iterfind("ShipNoticeItem")):
        here = f"{pointer}/ShipNoticeItem[{index + 1}]"
        item = _read_item(element, here)
        packaging = element.find("Packaging")
        if packaging is None:
            reading.origins[f"/orders/{order_index}/items/{len(loose)}"] = here
            loose.append(item)
            continue
        key = (
            text_of(packaging.find("ShippingContainerSerialCode")),
            text_of(packaging.find("PackagingCode")),
        )
        if key != last_key or not packs:
            pack: dict[str, object] = {}
            if key[0]:
                pack["sscc"] = key[0]
            if key[1]:
                pack["packaging_code"] = key[1]
            reading.origins[f"/orders/{order_index}/packs/{len(packs)}"] = f"{here}/Packaging"
            packs.append(pack)
            pack_items.append([])
            last_key = key
        origin = f"/orders/{order_index}/packs/{len(packs) - 1}/items/{len(pack_items[-1])}"
        reading.origins[origin] = here
        pack_items[-1].append(item)
    for pack, contents in zip(packs, pack_items, strict=True):
        pack["items"] = contents
    order: dict[str, object] = {"po_number": po_number}
    if packs:
        order["packs"] = packs
    if loose:
        order["items"] = loose
    return order


def _read_item(element: ET.Element, pointer: str) -> dict[str, object]:
    detail = element.find("ShipNoticeItemDetail")
    description = text_of(detail.find("Description")) if detail is not None else None
    item: dict[str, object] = {
        "item": item_fields(element.find("ItemID"), description, f"{pointer}/ItemID"),
        "quantity": quantity_fields(
            element, pointer, element.find("UnitOfMeasure"), f"{pointer}/UnitOfMeasure"
        ),
    }
    line_number = (element.get("lineNumber") or "").strip()
    if line_number:
        item["line_number"] = line_number
    return item


def write_ship_notice_request(notice: ShipNotice) -> ET.Element:
    """Write a ShipNotice as a ``ShipNoticeRequest`` element."""
    request = ET.Element("ShipNoticeRequest")
    attrs = {"shipmentID": notice.document_id, "operation": "new"}
    if notice.issue_date is not None:
        attrs["noticeDate"] = datetime_text(notice.issue_date)
    if notice.shipped_at is not None:
        attrs["shipmentDate"] = datetime_text(notice.shipped_at)
    if notice.estimated_delivery is not None:
        attrs["deliveryDate"] = datetime_text(notice.estimated_delivery)
    header = sub(request, "ShipNoticeHeader", attrs=attrs)
    write_party_contact(header, notice.supplier, SUPPLIER_ROLES[0])
    for party, role in (
        (notice.buyer, BUYER_ROLES[0]),
        (notice.ship_from, "shipFrom"),
        (notice.ship_to, "shipTo"),
    ):
        if party is not None:
            write_party_contact(header, party, role)
    write_comments(header, notice.notes)
    if notice.carrier or notice.tracking_number or notice.bill_of_lading:
        control = sub(request, "ShipControl")
        if notice.carrier is not None:
            if notice.carrier.scac:
                sub(control, "CarrierIdentifier", notice.carrier.scac, {"domain": "SCAC"})
            if notice.carrier.name:
                sub(control, "CarrierIdentifier", notice.carrier.name, {"domain": "companyName"})
        if notice.tracking_number:
            sub(control, "ShipmentIdentifier", notice.tracking_number)
        if notice.bill_of_lading:
            sub(control, "ShipmentIdentifier", notice.bill_of_lading, {"domain": "billOfLading"})
    for order in notice.orders:
        portion = sub(request, "ShipNoticePortion")
        reference = sub(portion, "OrderReference", attrs={"orderID": order.po_number})
        sub(reference, "DocumentReference", attrs={"payloadID": ""})
        for pack in order.packs:
            for shipped in pack.items:
                element = _write_item(portion, shipped)
                packaging = sub(element, "Packaging")
                if pack.packaging_code:
                    sub(packaging, "PackagingCode", pack.packaging_code, {"xml:lang": "en"})
                if pack.sscc:
                    sub(packaging, "ShippingContainerSerialCode", pack.sscc)
        for shipped in order.items:
            _write_item(portion, shipped)
    return request


def _write_item(portion: ET.Element, shipped: ShippedItem) -> ET.Element:
    attrs = {"quantity": decimal_text(shipped.quantity.value)}
    if shipped.line_number is not None:
        attrs["lineNumber"] = shipped.line_number
    element = sub(portion, "ShipNoticeItem", attrs=attrs)
    write_item_id(element, shipped.item)
    if shipped.item.description:
        detail = sub(element, "ShipNoticeItemDetail")
        sub(detail, "Description", shipped.item.description, {"xml:lang": "en"})
    sub(element, "UnitOfMeasure", shipped.quantity.uom)
    return element
