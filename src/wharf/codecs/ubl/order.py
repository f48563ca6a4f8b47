"""UBL ``Order`` ⇄ :class:`~wharf.model.PurchaseOrder`.

``cbc:ID`` is the PO number; the seller (``SellerSupplierParty``) is the supplier, the
``BuyerCustomerParty`` the buyer, the ``AccountingCustomerParty`` the bill-to and the
``Delivery/DeliveryParty`` (its address, else the delivery location's) the ship-to. The
requested delivery date is the start (else the end) of ``RequestedDeliveryPeriod``. A price per
``BaseQuantity`` other than one is divided down to a unit price, with a note.

UBL expresses changes and cancellations as other documents (``OrderChange``,
``OrderCancellation``); the writer only writes original orders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wharf.codecs.ubl.common import (
    CAC,
    CBC,
    MoneyFields,
    Reading,
    decimal_text,
    first_text,
    item_fields,
    party_fields,
    sub,
    ubl_root,
    write_amount,
    write_item,
    write_party,
)
from wharf.codecs.xml import build, parse_decimal, text_of
from wharf.errors import DocumentError
from wharf.model import PurchaseOrder

if TYPE_CHECKING:
    import datetime as dt
    import xml.etree.ElementTree as ET

__all__ = ("read_order", "requested_date", "unit_price", "write_order", "write_period")


def read_order(root: ET.Element, reading: Reading) -> PurchaseOrder:
    """Read an ``Order`` document."""
    where = reading.where
    order_id = text_of(root.find(f"{CBC}ID"))
    if not order_id:
        raise DocumentError("the order has no ID (PO number)", pointer=f"{where}/cbc:ID")
    data: dict[str, object] = {"document_id": order_id}
    reading.origins["/document_id"] = f"{where}/cbc:ID"
    issue_date = reading.date(root.find(f"{CBC}IssueDate"), f"{where}/cbc:IssueDate", "IssueDate")
    if issue_date is not None:
        data["issue_date"] = issue_date
    currency = text_of(root.find(f"{CBC}DocumentCurrencyCode"))
    if currency:
        reading.currency_code(currency, f"{where}/cbc:DocumentCurrencyCode")
    supplier = party_fields(root.find(f"{CAC}SellerSupplierParty/{CAC}Party"))
    if supplier is None:
        raise DocumentError("the order names no seller", pointer=f"{where}/cac:SellerSupplierParty")
    data["supplier"] = supplier
    reading.origins["/supplier"] = f"{where}/cac:SellerSupplierParty"
    for key, path, pointer in (
        ("buyer", f"{CAC}BuyerCustomerParty/{CAC}Party", "cac:BuyerCustomerParty"),
        ("bill_to", f"{CAC}AccountingCustomerParty/{CAC}Party", "cac:AccountingCustomerParty"),
    ):
        party = party_fields(root.find(path))
        if party is not None:
            data[key] = party
            reading.origins[f"/{key}"] = f"{where}/{pointer}"
    delivery = root.find(f"{CAC}Delivery")
    if delivery is not None:
        address = delivery.find(f"{CAC}DeliveryLocation/{CAC}Address")
        if address is None:
            address = delivery.find(f"{CAC}DeliveryAddress")
        ship_to = party_fields(delivery.find(f"{CAC}DeliveryParty"), address)
        if ship_to is not None:
            data["ship_to"] = ship_to
            reading.origins["/ship_to"] = f"{where}/cac:Delivery"
        requested = requested_date(delivery, f"{where}/cac:Delivery", reading)
        if requested is not None:
            data["requested_date"] = requested
    lines = []
    for index, order_line in enumerate(root.iterfind(f"{CAC}OrderLine")):
        pointer = f"{where}/cac:OrderLine[{index + 1}]"
        reading.origins[f"/lines/{index}"] = pointer
        lines.append(_read_line(order_line, pointer, reading))
    data["lines"] = lines
    if reading.currency is not None:
        data["currency"] = reading.currency
    data["notes"] = [
        t for t in (text_of(e) for e in root.iterfind(f"{CBC}Note")) if t
    ] + reading.notes
    data["source"] = reading.source()
    return build(data, PurchaseOrder, reading.origins, where)


def requested_date(delivery: ET.Element, pointer: str, reading: Reading) -> dt.date | None:
    """The start (else end) of a ``Delivery``'s ``RequestedDeliveryPeriod``."""
    period = delivery.find(f"{CAC}RequestedDeliveryPeriod")
    if period is None:
        return None
    here = f"{pointer}/cac:RequestedDeliveryPeriod"
    start = reading.date(period.find(f"{CBC}StartDate"), f"{here}/cbc:StartDate", "StartDate")
    if start is not None:
        return start
    return reading.date(period.find(f"{CBC}EndDate"), f"{here}/cbc:EndDate", "EndDate")


def unit_price(price: ET.Element | None, pointer: str, reading: Reading) -> MoneyFields | None:
    """``cac:Price/cbc:PriceAmount``, divided by ``BaseQuantity`` when that is not one."""
    if price is None:
        return None
    money = reading.amount(price.find(f"{CBC}PriceAmount"), f"{pointer}/cbc:PriceAmount")
    if money is None:
        return None
    base = text_of(price.find(f"{CBC}BaseQuantity"))
    if base is not None:
        per = parse_decimal(base, f"{pointer}/cbc:BaseQuantity", "BaseQuantity")
        if per <= 0:
            raise DocumentError(
                f"BaseQuantity {base} is not positive", pointer=f"{pointer}/cbc:BaseQuantity"
            )
        if per != 1:
            reading.notes.append(f"{pointer} is per {base} units; divided to a unit price")
            money["amount"] = money["amount"] / per
    return money


def _read_line(order_line: ET.Element, pointer: str, reading: Reading) -> dict[str, object]:
    item = order_line.find(f"{CAC}LineItem")
    here = f"{pointer}/cac:LineItem"
    if item is None:
        raise DocumentError("the order line has no LineItem", pointer=here)
    line_id = text_of(item.find(f"{CBC}ID"))
    if not line_id:
        raise DocumentError("the line item has no ID", pointer=f"{here}/cbc:ID")
    line: dict[str, object] = {
        "line_number": line_id,
        "item": item_fields(item.find(f"{CAC}Item"), f"{here}/cac:Item", None, reading),
        "quantity": reading.quantity(item.find(f"{CBC}Quantity"), f"{here}/cbc:Quantity"),
    }
    price = unit_price(item.find(f"{CAC}Price"), f"{here}/cac:Price", reading)
    if price is not None:
        line["unit_price"] = price
    delivery = item.find(f"{CAC}Delivery")
    if delivery is not None:
        requested = requested_date(delivery, f"{here}/cac:Delivery", reading)
        if requested is not None:
            line["requested_date"] = requested
    notes = [t for t in (text_of(e) for e in order_line.iterfind(f"{CBC}Note")) if t]
    note = first_text(item, f"{CBC}Note")
    if note:
        notes.append(note)
    line["notes"] = notes
    return line


def write_period(parent: ET.Element, tag: str, day: dt.date) -> None:
    period = sub(parent, tag)
    sub(period, "cbc:StartDate", day.isoformat())
    sub(period, "cbc:EndDate", day.isoformat())


def write_order(
    order: PurchaseOrder, customization: str, profile: str, version: str | None
) -> ET.Element:
    """Write an original PurchaseOrder as a UBL ``Order``."""
    if order.purpose != "original":
        raise ValueError(
            f"a UBL Order carries original orders only; a {order.purpose} needs OrderChange or "
            "OrderCancellation, which Wharf does not write"
        )
    root = ubl_root("Order", customization, profile, version)
    sub(root, "cbc:ID", order.document_id)
    if order.issue_date is not None:
        sub(root, "cbc:IssueDate", order.issue_date.isoformat())
    for note in order.notes:
        sub(root, "cbc:Note", note)
    if order.currency is not None:
        sub(root, "cbc:DocumentCurrencyCode", order.currency)
    if order.buyer is not None:
        write_party(root, "cac:BuyerCustomerParty", order.buyer)
    write_party(root, "cac:SellerSupplierParty", order.supplier)
    if order.bill_to is not None:
        write_party(root, "cac:AccountingCustomerParty", order.bill_to)
    if order.ship_to is not None or order.requested_date is not None:
        delivery = sub(root, "cac:Delivery")
        if order.requested_date is not None:
            write_period(delivery, "cac:RequestedDeliveryPeriod", order.requested_date)
        if order.ship_to is not None:
            write_party(delivery, None, order.ship_to, "cac:DeliveryParty")
    for line in order.lines:
        order_line = sub(root, "cac:OrderLine")
        for note in line.notes:
            sub(order_line, "cbc:Note", note)
        item = sub(order_line, "cac:LineItem")
        sub(item, "cbc:ID", line.line_number)
        sub(
            item, "cbc:Quantity", decimal_text(line.quantity.value), {"unitCode": line.quantity.uom}
        )
        if line.requested_date is not None:
            write_period(
                sub(item, "cac:Delivery"), "cac:RequestedDeliveryPeriod", line.requested_date
            )
        if line.unit_price is not None:
            write_amount(sub(item, "cac:Price"), "cbc:PriceAmount", line.unit_price)
        write_item(item, line.item)
    return root
