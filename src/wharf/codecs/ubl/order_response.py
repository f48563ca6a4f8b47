"""UBL ``OrderResponse`` and ``OrderResponseSimple`` ⇄ :class:`~wharf.model.POAcknowledgment`.

The PO is ``cac:OrderReference/cbc:ID``. The answer for the whole order is Peppol's
``cbc:OrderResponseCode`` (UNCL 4343: AP/AB accepted, CA conditionally accepted → with changes,
RE rejected), or ``cbc:AcceptedIndicator`` in an OrderResponseSimple (whose
``cbc:RejectionNote`` goes to ``notes``); without either, the line statuses decide.

Line statuses come in two code lists: Peppol's UNCL 1229 (5 accepted, 3 changed, 7 not
accepted, 1 added, 2 deleted, 6 accepted with amendment) and OASIS's words (NoStatus, Revised,
Disputed, Cancelled, Added). A changed line says what changed by what it carries: a
``SellerSubstitutedLineItem`` (substituted), a ``Price`` (changed_price), a
``PromisedDeliveryPeriod`` (changed_date), otherwise its quantity (changed_quantity).
``Backordered`` is not in either list; Wharf writes and reads it as a word. A line's PO line
number is ``cac:OrderLineReference/cbc:LineID`` (else the line item's own ID); its reason is
the line item's ``cbc:Note``.
"""

from __future__ import annotations

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
    write_amount,
    write_item,
    write_party,
)
from wharf.codecs.ubl.order import unit_price, write_period
from wharf.codecs.xml import build, text_of
from wharf.errors import DocumentError
from wharf.model import POAcknowledgment

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

__all__ = ("read_order_response", "write_order_response")

_DOCUMENT_STATUS = {
    "AP": "accepted",
    "AB": "accepted",
    "CA": "accepted_with_changes",
    "RE": "rejected",
}
_LINE_STATUS = {
    "5": "accepted",
    "1": "accepted",
    "NoStatus": "accepted",
    "Added": "accepted",
    "Accepted": "accepted",
    "7": "rejected",
    "2": "rejected",
    "Disputed": "rejected",
    "Cancelled": "rejected",
    "Rejected": "rejected",
    "3": "changed",
    "6": "changed",
    "Revised": "changed",
    "Backordered": "backordered",
}
_WRITE_LINE_STATUS = {"accepted": "5", "rejected": "7", "backordered": "Backordered"}
_WRITE_DOCUMENT_STATUS = {"accepted": "AP", "rejected": "RE", "accepted_with_changes": "CA"}


def read_order_response(root: ET.Element, reading: Reading) -> POAcknowledgment:
    """Read an ``OrderResponse`` or ``OrderResponseSimple`` document."""
    where = reading.where
    response_id = text_of(root.find(f"{CBC}ID"))
    if not response_id:
        raise DocumentError("the order response has no ID", pointer=f"{where}/cbc:ID")
    po_number = text_of(root.find(f"{CAC}OrderReference/{CBC}ID"))
    if not po_number:
        raise DocumentError(
            "the order response names no order", pointer=f"{where}/cac:OrderReference/cbc:ID"
        )
    data: dict[str, object] = {"document_id": response_id, "po_number": po_number}
    issue_date = reading.date(root.find(f"{CBC}IssueDate"), f"{where}/cbc:IssueDate", "IssueDate")
    if issue_date is not None:
        data["issue_date"] = issue_date
    currency = text_of(root.find(f"{CBC}DocumentCurrencyCode"))
    if currency:
        reading.currency_code(currency, f"{where}/cbc:DocumentCurrencyCode")
    supplier = party_fields(root.find(f"{CAC}SellerSupplierParty/{CAC}Party"))
    if supplier is None:
        raise DocumentError(
            "the order response names no seller", pointer=f"{where}/cac:SellerSupplierParty"
        )
    data["supplier"] = supplier
    buyer = party_fields(root.find(f"{CAC}BuyerCustomerParty/{CAC}Party"))
    if buyer is not None:
        data["buyer"] = buyer
    notes = [t for t in (text_of(e) for e in root.iterfind(f"{CBC}Note")) if t]
    lines: list[dict[str, object]] = []
    for index, order_line in enumerate(root.iterfind(f"{CAC}OrderLine")):
        pointer = f"{where}/cac:OrderLine[{index + 1}]"
        reading.origins[f"/lines/{index}"] = pointer
        lines.append(_read_line(order_line, pointer, reading))
    data["lines"] = lines
    data["status"] = _document_status(root, where, lines, notes)
    if reading.currency is not None:
        data["currency"] = reading.currency
    data["notes"] = notes + reading.notes
    data["source"] = reading.source()
    return build(data, POAcknowledgment, reading.origins, where)


def _document_status(
    root: ET.Element, where: str, lines: list[dict[str, object]], notes: list[str]
) -> str:
    code = text_of(root.find(f"{CBC}OrderResponseCode"))
    if code is not None:
        status = _DOCUMENT_STATUS.get(code)
        if status is None:
            raise DocumentError(
                f"OrderResponseCode {code!r} is not AP, AB, CA or RE",
                pointer=f"{where}/cbc:OrderResponseCode",
            )
        return status
    indicator = text_of(root.find(f"{CBC}AcceptedIndicator"))
    if indicator is not None:
        notes.extend(t for t in (text_of(e) for e in root.iterfind(f"{CBC}RejectionNote")) if t)
        if indicator in ("true", "1"):
            return "accepted"
        if indicator in ("false", "0"):
            return "rejected"
        raise DocumentError(
            f"AcceptedIndicator {indicator!r} is not true or false",
            pointer=f"{where}/cbc:AcceptedIndicator",
        )
    if root.tag.endswith("}OrderResponseSimple"):
        raise DocumentError(
            "the AcceptedIndicator is missing", pointer=f"{where}/cbc:AcceptedIndicator"
        )
    statuses = {line["status"] for line in lines}
    if statuses <= {"accepted"}:
        return "accepted"
    if statuses == {"rejected"}:
        return "rejected"
    return "accepted_with_changes"


def _read_line(order_line: ET.Element, pointer: str, reading: Reading) -> dict[str, object]:
    here = f"{pointer}/cac:LineItem"
    item = order_line.find(f"{CAC}LineItem")
    if item is None:
        raise DocumentError("the order line has no LineItem", pointer=here)
    line_number = text_of(order_line.find(f"{CAC}OrderLineReference/{CBC}LineID")) or text_of(
        item.find(f"{CBC}ID")
    )
    if not line_number:
        raise DocumentError(
            "the line names no order line", pointer=f"{pointer}/cac:OrderLineReference"
        )
    line: dict[str, object] = {"line_number": line_number}
    if item.find(f"{CBC}Quantity") is not None:
        line["quantity"] = reading.quantity(item.find(f"{CBC}Quantity"), f"{here}/cbc:Quantity")
    promised = None
    period = item.find(f"{CAC}Delivery/{CAC}PromisedDeliveryPeriod")
    if period is not None:
        period_pointer = f"{here}/cac:Delivery/cac:PromisedDeliveryPeriod"
        promised = reading.date(
            period.find(f"{CBC}StartDate"), f"{period_pointer}/cbc:StartDate"
        ) or reading.date(period.find(f"{CBC}EndDate"), f"{period_pointer}/cbc:EndDate")
        if promised is not None:
            line["promised_date"] = promised
    price = unit_price(item.find(f"{CAC}Price"), f"{here}/cac:Price", reading)
    if price is not None:
        line["unit_price"] = price
    identified = item.find(f"{CAC}Item")
    if identified is not None and _has_identification(identified):
        line["item"] = item_fields(identified, f"{here}/cac:Item", None, reading)
    substitute = order_line.find(f"{CAC}SellerSubstitutedLineItem/{CAC}Item")
    if substitute is not None:
        line["substitute"] = item_fields(
            substitute, f"{pointer}/cac:SellerSubstitutedLineItem/cac:Item", None, reading
        )
    code = text_of(item.find(f"{CBC}LineStatusCode"))
    status = _LINE_STATUS.get(code or "5")
    if status is None:
        raise DocumentError(
            f"LineStatusCode {code!r} is not a UNCL 1229 or UBL line status",
            pointer=f"{here}/cbc:LineStatusCode",
        )
    if status == "changed":
        if substitute is not None:
            status = "substituted"
        elif price is not None:
            status = "changed_price"
        elif promised is not None:
            status = "changed_date"
        else:
            status = "changed_quantity"
    line["status"] = status
    reason = text_of(item.find(f"{CBC}Note"))
    if reason:
        line["reason"] = reason
    return line


def _has_identification(item: ET.Element) -> bool:
    return any(
        item.find(path) is not None
        for path in (
            f"{CAC}SellersItemIdentification",
            f"{CAC}BuyersItemIdentification",
            f"{CAC}StandardItemIdentification",
            f"{CAC}AdditionalItemIdentification",
        )
    )


def write_order_response(
    ack: POAcknowledgment, customization: str, profile: str, version: str | None
) -> ET.Element:
    """Write a POAcknowledgment as a UBL ``OrderResponse``."""
    root = ubl_root("OrderResponse", customization, profile, version)
    sub(root, "cbc:ID", ack.document_id)
    if ack.issue_date is not None:
        sub(root, "cbc:IssueDate", ack.issue_date.isoformat())
    sub(root, "cbc:OrderResponseCode", _WRITE_DOCUMENT_STATUS[ack.status])
    for note in ack.notes:
        sub(root, "cbc:Note", note)
    if ack.currency is not None:
        sub(root, "cbc:DocumentCurrencyCode", ack.currency)
    sub(sub(root, "cac:OrderReference"), "cbc:ID", ack.po_number)
    write_party(root, "cac:SellerSupplierParty", ack.supplier)
    if ack.buyer is not None:
        write_party(root, "cac:BuyerCustomerParty", ack.buyer)
    for index, line in enumerate(ack.lines):
        order_line = sub(root, "cac:OrderLine")
        item = sub(order_line, "cac:LineItem")
        sub(item, "cbc:ID", str(index + 1))
        if line.reason:
            sub(item, "cbc:Note", line.reason)
        sub(item, "cbc:LineStatusCode", _WRITE_LINE_STATUS.get(line.status, "3"))
        if line.quantity is not None:
            sub(
                item,
                "cbc:Quantity",
                decimal_text(line.quantity.value),
                {"unitCode": line.quantity.uom},
            )
        if line.promised_date is not None:
            write_period(
                sub(item, "cac:Delivery"), "cac:PromisedDeliveryPeriod", line.promised_date
            )
        if line.unit_price is not None:
            write_amount(sub(item, "cac:Price"), "cbc:PriceAmount", line.unit_price)
        if line.item is not None:
            write_item(item, line.item)
        else:
            sub(item, "cac:Item")
        if line.substitute is not None:
            substituted = sub(order_line, "cac:SellerSubstitutedLineItem")
            sub(substituted, "cbc:ID", str(index + 1))
            write_item(substituted, line.substitute)
        sub(sub(order_line, "cac:OrderLineReference"), "cbc:LineID", line.line_number)
    return root
