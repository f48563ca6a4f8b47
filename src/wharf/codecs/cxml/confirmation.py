"""cXML ``ConfirmationRequest`` ⇄ :class:`~wharf.model.POAcknowledgment` (order confirmation).

``ConfirmationHeader/@type`` answers for the whole order: ``accept`` and ``reject`` map to the
same canonical status; ``detail``, ``except`` and ``backordered`` mean some lines differ
(``accepted_with_changes``); ``allDetail`` lists every line, so the status follows the lines.

Each ``ConfirmationItem`` (one PO line) holds one or more ``ConfirmationStatus`` — a split line
such as 3 accepted + 2 backordered — and each status becomes one canonical line repeating the
PO line number. A ``detail`` status says what changed by what it carries, in this order: an
``ItemIn`` (substituted), a ``UnitPrice`` (changed_price), a delivery or shipment date
(changed_date), otherwise the quantity (changed_quantity). ``unknown`` (the supplier cannot tell
yet) is read as ``backordered`` with the reason "status unknown".

The confirmation's own number is ``@confirmID``; cXML makes it optional, so the payloadID
stands in when it is missing (with a note). ``ConfirmationItem`` has no item identification in
cXML, so a canonical line's ``item`` is not written.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import TYPE_CHECKING

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
    order_reference,
    quantity_fields,
    sub,
    write_comments,
    write_item_id,
    write_party_contact,
)
from wharf.codecs.xml import build, text_of
from wharf.errors import DocumentError
from wharf.model import POAcknowledgment

if TYPE_CHECKING:
    from wharf.model import AcknowledgmentLine

__all__ = ("read_confirmation_request", "write_confirmation_request")

_HEADER_STATUS = {
    "accept": "accepted",
    "reject": "rejected",
    "detail": "accepted_with_changes",
    "except": "accepted_with_changes",
    "backordered": "accepted_with_changes",
}
_LINE_STATUS = {"accept": "accepted", "reject": "rejected", "backordered": "backordered"}
_WRITE_LINE_TYPE = {"accepted": "accept", "rejected": "reject", "backordered": "backordered"}
_WRITE_HEADER_TYPE = {
    "accepted": "accept",
    "rejected": "reject",
    "accepted_with_changes": "detail",
}


def read_confirmation_request(request: ET.Element, reading: Reading) -> POAcknowledgment:
    """Read a ``ConfirmationRequest`` element found at ``reading.where``."""
    where = reading.where
    head = f"{where}/ConfirmationHeader"
    header = request.find("ConfirmationHeader")
    if header is None:
        raise DocumentError("the ConfirmationHeader is missing", pointer=head)
    kind = header.get("type") or ""
    if kind not in _HEADER_STATUS and kind != "allDetail":
        raise DocumentError(f"confirmation type {kind!r} is not supported", pointer=f"{head}/@type")
    confirm_id = (header.get("confirmID") or "").strip()
    if not confirm_id:
        confirm_id = reading.header.payload_id or ""
        if not confirm_id:
            raise DocumentError("the confirmation has no confirmID", pointer=f"{head}/@confirmID")
        reading.notes.append("the ConfirmationHeader has no confirmID; the payloadID is used")
    data: dict[str, object] = {
        "document_id": confirm_id,
        "po_number": order_reference(
            request.find("OrderReference"), f"{where}/OrderReference", reading
        ),
    }
    issue_date = date_attr(header, "noticeDate", head)
    if issue_date is not None:
        data["issue_date"] = issue_date
    reading.money(header.find("Total/Money"), f"{head}/Total/Money")
    # A confirmation goes from the supplier (From) to the buyer (To).
    supplier = reading.party(header, SUPPLIER_ROLES, reading.header.from_identity)
    if supplier is None:
        raise DocumentError("the confirmation names no supplier", pointer=head)
    data["supplier"] = supplier
    buyer = reading.party(header, BUYER_ROLES, None)
    if buyer is not None:
        data["buyer"] = buyer
    lines: list[dict[str, object]] = []
    for index, item in enumerate(request.iterfind("ConfirmationItem")):
        _read_item(item, f"{where}/ConfirmationItem[{index + 1}]", index, lines, reading)
    data["lines"] = lines
    data["status"] = _HEADER_STATUS.get(kind) or _status_of_lines(lines)
    if reading.currency is not None:
        data["currency"] = reading.currency
    data["notes"] = comments(header) + reading.added_notes()
    data["source"] = reading.source()
    return build(data, POAcknowledgment, reading.origins, where)


def _read_item(
    item: ET.Element, pointer: str, index: int, lines: list[dict[str, object]], reading: Reading
) -> None:
    line_number = (item.get("lineNumber") or "").strip()
    if not line_number:
        line_number = str(index + 1)
        reading.notes.append(
            f"ConfirmationItem[{index + 1}] has no lineNumber; its position is used"
        )
    item_uom = item.find("UnitOfMeasure")
    statuses = item.findall("ConfirmationStatus")
    if not statuses:
        raise DocumentError("a ConfirmationItem needs a ConfirmationStatus", pointer=pointer)
    for position, status in enumerate(statuses):
        here = f"{pointer}/ConfirmationStatus[{position + 1}]"
        reading.origins[f"/lines/{len(lines)}"] = here
        lines.append(
            _read_status(status, here, line_number, item_uom, f"{pointer}/UnitOfMeasure", reading)
        )


def _read_status(
    status: ET.Element,
    pointer: str,
    line_number: str,
    item_uom: ET.Element | None,
    item_uom_pointer: str,
    reading: Reading,
) -> dict[str, object]:
    kind = status.get("type") or ""
    line: dict[str, object] = {"line_number": line_number}
    if status.get("quantity") is not None:
        uom = status.find("UnitOfMeasure")
        if uom is None:
            uom, uom_pointer = item_uom, item_uom_pointer
        else:
            uom_pointer = f"{pointer}/UnitOfMeasure"
        line["quantity"] = quantity_fields(status, pointer, uom, uom_pointer)
    promised = date_attr(status, "deliveryDate", pointer) or date_attr(
        status, "shipmentDate", pointer
    )
    if promised is not None:
        line["promised_date"] = promised
    item_in = status.find("ItemIn")
    price_element = status.find("UnitPrice/Money")
    price_pointer = f"{pointer}/UnitPrice/Money"
    if item_in is not None:
        detail = item_in.find("ItemDetail")
        description = text_of(detail.find("Description")) if detail is not None else None
        line["substitute"] = item_fields(
            item_in.find("ItemID"), description, f"{pointer}/ItemIn/ItemID"
        )
        if price_element is None and detail is not None:
            price_element = detail.find("UnitPrice/Money")
            price_pointer = f"{pointer}/ItemIn/ItemDetail/UnitPrice/Money"
    price = reading.money(price_element, price_pointer)
    if price is not None:
        line["unit_price"] = price
    reasons = comments(status)
    if kind in ("detail", "allDetail"):
        if item_in is not None:
            line["status"] = "substituted"
        elif price is not None:
            line["status"] = "changed_price"
        elif promised is not None:
            line["status"] = "changed_date"
        else:
            line["status"] = "changed_quantity"
    elif kind == "unknown":
        line["status"] = "backordered"
        reasons = reasons or ["status unknown"]
    elif kind in _LINE_STATUS:
        line["status"] = _LINE_STATUS[kind]
    else:
        raise DocumentError(
            f"confirmation status {kind!r} is not supported", pointer=f"{pointer}/@type"
        )
    if reasons:
        line["reason"] = "\n".join(reasons)
    return line


def _status_of_lines(lines: list[dict[str, object]]) -> str:
    statuses = {line["status"] for line in lines}
    if statuses <= {"accepted"}:
        return "accepted"
    if statuses == {"rejected"}:
        return "rejected"
    return "accepted_with_changes"


def write_confirmation_request(ack: POAcknowledgment) -> ET.Element:
    """Write a POAcknowledgment as a ``ConfirmationRequest`` element."""
    request = ET.Element("ConfirmationRequest")
    attrs = {
        "type": _WRITE_HEADER_TYPE[ack.status],
        "confirmID": ack.document_id,
        "operation": "new",
    }
    if ack.issue_date is not None:
        attrs["noticeDate"] = datetime_text(ack.issue_date)
    header = sub(request, "ConfirmationHeader", attrs=attrs)
    if ack.currency is not None:
        total = sum(
            (
                line.unit_price.amount * (line.quantity.value if line.quantity else 1)
                for line in ack.lines
                if line.unit_price is not None
            ),
            start=Decimal(0),
        )
        sub(sub(header, "Total"), "Money", decimal_text(total), {"currency": ack.currency})
    write_party_contact(header, ack.supplier, SUPPLIER_ROLES[0])
    if ack.buyer is not None:
        write_party_contact(header, ack.buyer, BUYER_ROLES[0])
    write_comments(header, ack.notes)
    reference = sub(request, "OrderReference", attrs={"orderID": ack.po_number})
    sub(reference, "DocumentReference", attrs={"payloadID": ""})
    group: list[AcknowledgmentLine] = []
    for line in ack.lines:
        if group and group[0].line_number != line.line_number:
            _write_item(request, group)
            group = []
        group.append(line)
    if group:
        _write_item(request, group)
    return request


def _write_item(request: ET.Element, lines: list[AcknowledgmentLine]) -> None:
    attrs = {"lineNumber": lines[0].line_number}
    quantities = [line.quantity for line in lines]
    uom = next((q.uom for q in quantities if q is not None), "EA")
    if all(q is not None and q.uom == uom for q in quantities):
        attrs["quantity"] = decimal_text(sum((q.value for q in quantities if q), start=Decimal(0)))
    item = sub(request, "ConfirmationItem", attrs=attrs)
    sub(item, "UnitOfMeasure", uom)
    for line in lines:
        status_attrs = {"type": _WRITE_LINE_TYPE.get(line.status, "detail")}
        if line.quantity is not None:
            status_attrs["quantity"] = decimal_text(line.quantity.value)
        if line.promised_date is not None:
            status_attrs["deliveryDate"] = datetime_text(line.promised_date)
        status = sub(item, "ConfirmationStatus", attrs=status_attrs)
        sub(status, "UnitOfMeasure", line.quantity.uom if line.quantity else uom)
        if line.substitute is not None:
            item_in = sub(status, "ItemIn", attrs={"quantity": status_attrs.get("quantity", "0")})
            write_item_id(item_in, line.substitute)
            detail = sub(item_in, "ItemDetail")
            if line.unit_price is not None:
                amount, currency = money_fields(line.unit_price)
                sub(sub(detail, "UnitPrice"), "Money", amount, {"currency": currency})
            sub(detail, "Description", line.substitute.description or "", {"xml:lang": "en"})
            sub(detail, "UnitOfMeasure", line.quantity.uom if line.quantity else uom)
        elif line.unit_price is not None:
            amount, currency = money_fields(line.unit_price)
            sub(sub(status, "UnitPrice"), "Money", amount, {"currency": currency})
        if line.reason:
            write_comments(status, (line.reason,))
