"""UBL ``DespatchAdvice`` ⇄ :class:`~wharf.model.ShipNotice`.

``cbc:ID`` is the ASN number. Parties: ``DespatchSupplierParty`` (else ``SellerSupplierParty``)
is the supplier, ``BuyerCustomerParty`` the buyer, ``DeliveryCustomerParty`` the ship-to (with
the shipment's delivery address when the party has none) and
``Shipment/Delivery/Despatch/DespatchParty`` the ship-from. Shipment data: the despatch date
and time (``ActualDespatchDate``/``Time``) are ``shipped_at``; ``EstimatedDeliveryPeriod`` gives
the estimated delivery; the consignment's ``CarrierParty`` (``PartyIdentification/ID`` with
scheme ``SCAC``, ``PartyName``) is the carrier and its ``CarrierAssignedID`` the tracking
number; an ``AdditionalDocumentReference`` of type 705 (UNCL 1001 bill of lading) the BOL.

Lines are grouped into canonical orders by the PO each names
(``OrderLineReference/OrderReference/ID``, else the header ``OrderReference``). A line shipped in
an identified unit carries ``Shipment/TransportHandlingUnit`` (``cbc:ID`` = SSCC,
``TransportHandlingUnitTypeCode`` = packaging code); consecutive lines in the same unit form
one pack, lines without one are loose items of their order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wharf.codecs.ubl.common import (
    CAC,
    CBC,
    Reading,
    decimal_text,
    item_fields,
    party_fields,
    sub,
    ubl_root,
    write_item,
    write_party,
)
from wharf.codecs.ubl.order import write_period
from wharf.codecs.xml import build, text_of
from wharf.errors import DocumentError
from wharf.model import ShipNotice

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

    from wharf.model import ShippedItem

__all__ = ("read_despatch_advice", "write_despatch_advice")

_BILL_OF_LADING = frozenset({"705", "BM", "BillOfLading"})


def read_despatch_advice(root: ET.Element, reading: Reading) -> ShipNotice:
    """Read a ``DespatchAdvice`` document."""
    where = reading.where
    asn = text_of(root.find(f"{CBC}ID"))
    if not asn:
        raise DocumentError("the despatch advice has no ID", pointer=f"{where}/cbc:ID")
    data: dict[str, object] = {"document_id": asn}
    issue_date = reading.date(root.find(f"{CBC}IssueDate"), f"{where}/cbc:IssueDate", "IssueDate")
    if issue_date is not None:
        data["issue_date"] = issue_date
    supplier = party_fields(root.find(f"{CAC}DespatchSupplierParty/{CAC}Party")) or party_fields(
        root.find(f"{CAC}SellerSupplierParty/{CAC}Party")
    )
    if supplier is None:
        raise DocumentError(
            "the despatch advice names no supplier", pointer=f"{where}/cac:DespatchSupplierParty"
        )
    data["supplier"] = supplier
    buyer = party_fields(root.find(f"{CAC}BuyerCustomerParty/{CAC}Party"))
    if buyer is not None:
        data["buyer"] = buyer
    shipment = root.find(f"{CAC}Shipment")
    delivery = shipment.find(f"{CAC}Delivery") if shipment is not None else None
    ship_to = party_fields(
        root.find(f"{CAC}DeliveryCustomerParty/{CAC}Party"),
        delivery.find(f"{CAC}DeliveryAddress") if delivery is not None else None,
    )
    if ship_to is not None:
        data["ship_to"] = ship_to
    if shipment is not None:
        _read_shipment(shipment, f"{where}/cac:Shipment", data, reading)
    for reference in root.iterfind(f"{CAC}AdditionalDocumentReference"):
        kind = text_of(reference.find(f"{CBC}DocumentTypeCode")) or text_of(
            reference.find(f"{CBC}DocumentType")
        )
        number = text_of(reference.find(f"{CBC}ID"))
        if kind in _BILL_OF_LADING and number:
            data["bill_of_lading"] = number
            break
    header_po = text_of(root.find(f"{CAC}OrderReference/{CBC}ID"))
    data["orders"] = _read_lines(root, where, header_po, reading)
    data["notes"] = [
        t for t in (text_of(e) for e in root.iterfind(f"{CBC}Note")) if t
    ] + reading.notes
    data["source"] = reading.source()
    return build(data, ShipNotice, reading.origins, where)


def _read_shipment(
    shipment: ET.Element, pointer: str, data: dict[str, object], reading: Reading
) -> None:
    consignment = shipment.find(f"{CAC}Consignment")
    if consignment is not None:
        tracking = text_of(consignment.find(f"{CBC}CarrierAssignedID"))
        if tracking:
            data["tracking_number"] = tracking
        carrier_party = consignment.find(f"{CAC}CarrierParty")
        if carrier_party is not None:
            carrier: dict[str, object] = {}
            for identifier in carrier_party.iterfind(f"{CAC}PartyIdentification/{CBC}ID"):
                value = (text_of(identifier) or "").upper()
                if (
                    (identifier.get("schemeID") or "").upper() == "SCAC"
                    and 2 <= len(value) <= 4
                    and value.isalpha()
                ):
                    carrier["scac"] = value
                    break
            name = text_of(carrier_party.find(f"{CAC}PartyName/{CBC}Name"))
            if name:
                carrier["name"] = name
            if carrier:
                data["carrier"] = carrier
    delivery = shipment.find(f"{CAC}Delivery")
    if delivery is None:
        return
    here = f"{pointer}/cac:Delivery"
    period = delivery.find(f"{CAC}EstimatedDeliveryPeriod")
    if period is not None:
        period_pointer = f"{here}/cac:EstimatedDeliveryPeriod"
        estimated = reading.date(
            period.find(f"{CBC}StartDate"), f"{period_pointer}/cbc:StartDate"
        ) or reading.date(period.find(f"{CBC}EndDate"), f"{period_pointer}/cbc:EndDate")
        if estimated is not None:
            data["estimated_delivery"] = estimated
    despatch = delivery.find(f"{CAC}Despatch")
    if despatch is None:
        return
    despatch_pointer = f"{here}/cac:Despatch"
    day = reading.date(
        despatch.find(f"{CBC}ActualDespatchDate"), f"{despatch_pointer}/cbc:ActualDespatchDate"
    )
    if day is not None:
        data["shipped_at"] = dt.datetime.combine(day, _time(despatch, despatch_pointer))
    ship_from = party_fields(
        despatch.find(f"{CAC}DespatchParty"), despatch.find(f"{CAC}DespatchAddress")
    )
    if ship_from is not None:
        data["ship_from"] = ship_from


def _time(despatch: ET.Element, pointer: str) -> dt.time:
    raw = text_of(despatch.find(f"{CBC}ActualDespatchTime"))
    if raw is None:
        return dt.time()
    try:
        return dt.time.fromisoformat(raw)
    except ValueError:
        raise DocumentError(
            f"ActualDespatchTime {raw[:40]!r} is not an ISO 8601 time",
            pointer=f"{pointer}/cbc:ActualDespatchTime",
        ) from None


@dataclass(slots=True)
class _Order:
    """One PO's lines while they are read: packs (with their unit key) and loose items."""

    index: int
    packs: list[dict[str, object]] = field(default_factory=list)
    pack_items: list[list[dict[str, object]]] = field(default_factory=list)
    last_unit: tuple[str | None, str | None] | None = None
    items: list[dict[str, object]] = field(default_factory=list)

    def fields(self, po_number: str) -> dict[str, object]:
        for pack, contents in zip(self.packs, self.pack_items, strict=True):
            pack["items"] = contents
        return {"po_number": po_number, "packs": self.packs, "items": self.items}


def _read_lines(
    root: ET.Element, where: str, header_po: str | None, reading: Reading
) -> list[dict[str, object]]:
    orders: dict[str, _Order] = {}
    for index, line in enumerate(root.iterfind(f"{CAC}DespatchLine")):
        pointer = f"{where}/cac:DespatchLine[{index + 1}]"
        reference = line.find(f"{CAC}OrderLineReference")
        po_line = po = None
        if reference is not None:
            po_line = text_of(reference.find(f"{CBC}LineID"))
            po = text_of(reference.find(f"{CAC}OrderReference/{CBC}ID"))
        po = po or header_po
        if not po:
            raise DocumentError(
                "the line names no order", pointer=f"{pointer}/cac:OrderLineReference"
            )
        shipped: dict[str, object] = {
            "item": item_fields(line.find(f"{CAC}Item"), f"{pointer}/cac:Item", po_line, reading),
            "quantity": reading.quantity(
                line.find(f"{CBC}DeliveredQuantity"), f"{pointer}/cbc:DeliveredQuantity"
            ),
        }
        if po_line:
            shipped["line_number"] = po_line
        order = orders.get(po)
        if order is None:
            order = orders[po] = _Order(len(orders))
            reading.origins[f"/orders/{order.index}"] = pointer
        here = f"/orders/{order.index}"
        unit = line.find(f"{CAC}Shipment/{CAC}TransportHandlingUnit")
        if unit is None:
            reading.origins[f"{here}/items/{len(order.items)}"] = pointer
            order.items.append(shipped)
            continue
        key = (
            text_of(unit.find(f"{CBC}ID")),
            text_of(unit.find(f"{CBC}TransportHandlingUnitTypeCode")),
        )
        if not order.packs or order.last_unit != key:
            pack: dict[str, object] = {}
            if key[0]:
                pack["sscc"] = key[0]
            if key[1]:
                pack["packaging_code"] = key[1]
            reading.origins[f"{here}/packs/{len(order.packs)}"] = f"{pointer}/cac:Shipment"
            order.packs.append(pack)
            order.pack_items.append([])
            order.last_unit = key
        contents = order.pack_items[-1]
        reading.origins[f"{here}/packs/{len(order.packs) - 1}/items/{len(contents)}"] = pointer
        contents.append(shipped)
    if not orders:
        raise DocumentError(
            "the despatch advice has no DespatchLine", pointer=f"{where}/cac:DespatchLine"
        )
    return [order.fields(po) for po, order in orders.items()]


def write_despatch_advice(
    notice: ShipNotice, customization: str, profile: str, version: str | None
) -> ET.Element:
    """Write a ShipNotice as a UBL ``DespatchAdvice``."""
    root = ubl_root("DespatchAdvice", customization, profile, version)
    sub(root, "cbc:ID", notice.document_id)
    if notice.issue_date is not None:
        sub(root, "cbc:IssueDate", notice.issue_date.isoformat())
    for note in notice.notes:
        sub(root, "cbc:Note", note)
    sub(sub(root, "cac:OrderReference"), "cbc:ID", notice.orders[0].po_number)
    if notice.bill_of_lading:
        reference = sub(root, "cac:AdditionalDocumentReference")
        sub(reference, "cbc:ID", notice.bill_of_lading)
        sub(reference, "cbc:DocumentTypeCode", "705")
    write_party(root, "cac:DespatchSupplierParty", notice.supplier)
    if notice.ship_to is not None:
        write_party(root, "cac:DeliveryCustomerParty", notice.ship_to)
    if notice.buyer is not None:
        write_party(root, "cac:BuyerCustomerParty", notice.buyer)
    _write_shipment(root, notice)
    count = 0
    for order in notice.orders:
        for index, pack in enumerate(order.packs):
            for shipped in pack.items:
                count += 1
                line = _write_line(root, count, order.po_number, shipped)
                shipment = sub(line, "cac:Shipment")
                sub(shipment, "cbc:ID", str(index + 1))
                unit = sub(shipment, "cac:TransportHandlingUnit")
                if pack.sscc:
                    sub(unit, "cbc:ID", pack.sscc, {"schemeID": "SSCC"})
                if pack.packaging_code:
                    sub(unit, "cbc:TransportHandlingUnitTypeCode", pack.packaging_code)
        for shipped in order.items:
            count += 1
            _write_line(root, count, order.po_number, shipped)
    return root


def _write_shipment(root: ET.Element, notice: ShipNotice) -> None:
    shipment = sub(root, "cac:Shipment")
    sub(shipment, "cbc:ID", "1")
    if notice.carrier is not None or notice.tracking_number:
        consignment = sub(shipment, "cac:Consignment")
        sub(consignment, "cbc:ID", "1")
        if notice.tracking_number:
            sub(consignment, "cbc:CarrierAssignedID", notice.tracking_number)
        if notice.carrier is not None:
            party = sub(consignment, "cac:CarrierParty")
            if notice.carrier.scac:
                sub(
                    sub(party, "cac:PartyIdentification"),
                    "cbc:ID",
                    notice.carrier.scac,
                    {"schemeID": "SCAC"},
                )
            if notice.carrier.name:
                sub(sub(party, "cac:PartyName"), "cbc:Name", notice.carrier.name)
    if notice.estimated_delivery or notice.shipped_at or notice.ship_from:
        delivery = sub(shipment, "cac:Delivery")
        if notice.estimated_delivery is not None:
            write_period(delivery, "cac:EstimatedDeliveryPeriod", notice.estimated_delivery)
        if notice.shipped_at is not None or notice.ship_from is not None:
            despatch = sub(delivery, "cac:Despatch")
            if notice.shipped_at is not None:
                sub(despatch, "cbc:ActualDespatchDate", notice.shipped_at.date().isoformat())
                sub(despatch, "cbc:ActualDespatchTime", notice.shipped_at.timetz().isoformat())
            if notice.ship_from is not None:
                write_party(despatch, None, notice.ship_from, "cac:DespatchParty")


def _write_line(root: ET.Element, number: int, po_number: str, shipped: ShippedItem) -> ET.Element:
    line = sub(root, "cac:DespatchLine")
    sub(line, "cbc:ID", str(number))
    sub(
        line,
        "cbc:DeliveredQuantity",
        decimal_text(shipped.quantity.value),
        {"unitCode": shipped.quantity.uom},
    )
    reference = sub(line, "cac:OrderLineReference")
    sub(reference, "cbc:LineID", shipped.line_number or "")
    sub(sub(reference, "cac:OrderReference"), "cbc:ID", po_number)
    write_item(line, shipped.item)
    return line
