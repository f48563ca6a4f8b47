"""The canonical business documents (v1), the ``Document`` tagged union, and its codec.

Every document is a frozen Struct tagged by ``doc_type`` and shares a header: ``document_id``
(the sender's document number), a business date, ``supplier``, optional ``buyer``, ``notes`` and
``source`` (where it came from). Documents that carry amounts name their ``currency``; every
``Money`` in the document must be in it. Repeated parts are tuples, so a document is immutable
all the way down. Rules the wire types cannot express are checked in ``__post_init__``; a failure
reaches the caller as ``msgspec.ValidationError`` with the ``$`` path of the offending struct
(no path when the struct is the document itself).

``decode_document`` with ``doc_type`` (typed endpoints such as ``/v1/ship-notices``) accepts JSON
that omits the ``doc_type`` member; if the member is present it must match.
"""

from __future__ import annotations

# msgspec resolves Struct annotations at runtime, so date, datetime and Decimal must be real
# imports; ruff only knows that direct msgspec.Struct subclasses are runtime-evaluated.
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias, get_args

import msgspec

from wharf.model.common import (
    Canonical,
    CurrencyCode,
    ItemRef,
    LineNumber,
    Money,
    NonEmptyStr,
    Party,
    Quantity,
    Scac,
    SourceRef,
    Sscc,
    UomCode,
    check_date_range,
    check_decimal,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = (
    "DOCUMENT_CLASSES",
    "DOC_TYPES",
    "AcknowledgmentLine",
    "AllowanceCharge",
    "Carrier",
    "CatalogLine",
    "DocType",
    "Document",
    "InventoryAdvice",
    "InventoryLine",
    "Invoice",
    "InvoiceLine",
    "InvoiceTotals",
    "LeadTimeChange",
    "LeadTimeLine",
    "POAcknowledgment",
    "Pack",
    "PaymentTerms",
    "PriceCatalog",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "RebateClaim",
    "RebateLine",
    "ReturnAuthorization",
    "ReturnLine",
    "ShipNotice",
    "ShipmentOrder",
    "ShippedItem",
    "TaxLine",
    "decode_document",
    "doc_type_of",
    "document_key",
    "encode_document",
    "po_numbers",
)

DocType = Literal[
    "purchase_order",
    "acknowledgment",
    "ship_notice",
    "invoice",
    "inventory_advice",
    "price_catalog",
    "lead_time_change",
    "rebate_claim",
    "return_authorization",
]
DOC_TYPES: tuple[DocType, ...] = get_args(DocType)

Days = Annotated[int, msgspec.Meta(ge=0, le=3650)]


def _check_currency(currency: str | None, amounts: Iterable[tuple[str, Money | None]]) -> None:
    # ``amounts`` pairs each amount with its path, so the error can say which one is off.
    for where, money in amounts:
        if money is None:
            continue
        if currency is None:
            raise ValueError(f"`currency` is required: the document has an amount at {where}")
        if money.currency != currency:
            raise ValueError(f"{where} is in {money.currency}, the document in {currency}")


def _line_amounts(lines: Iterable[object], *fields: str) -> Iterable[tuple[str, Money | None]]:
    for index, line in enumerate(lines):
        for field in fields:
            yield f"lines[{index}].{field}", getattr(line, field)


def _check_unique(line_numbers: Iterable[str]) -> None:
    seen: set[str] = set()
    for number in line_numbers:
        if number in seen:
            raise ValueError(f"duplicate line_number {number!r}")
        seen.add(number)


# --- purchase order -------------------------------------------------------------------------


class PurchaseOrderLine(Canonical):
    """One ordered item."""

    line_number: LineNumber
    item: ItemRef
    quantity: Quantity
    unit_price: Money | None = None
    requested_date: date | None = None
    notes: tuple[str, ...] = ()


class PurchaseOrder(Canonical, tag_field="doc_type", tag="purchase_order"):
    """A buyer's purchase order: original, change, or cancellation (document_id = PO number)."""

    document_id: NonEmptyStr
    purpose: Literal["original", "change", "cancel"] = "original"
    issue_date: date | None = None
    supplier: Party
    buyer: Party | None = None
    currency: CurrencyCode | None = None
    ship_to: Party | None = None
    bill_to: Party | None = None
    requested_date: date | None = None
    # Only a cancellation of the whole order may come without lines.
    lines: tuple[PurchaseOrderLine, ...] = ()
    notes: tuple[str, ...] = ()
    source: SourceRef | None = None

    def __post_init__(self) -> None:
        if not self.lines and self.purpose != "cancel":
            raise ValueError("a purchase order needs lines unless it cancels the whole order")
        _check_unique(line.line_number for line in self.lines)
        _check_currency(self.currency, _line_amounts(self.lines, "unit_price"))


# --- acknowledgment -------------------------------------------------------------------------

AckLineStatus = Literal[
    "accepted",
    "changed_quantity",
    "changed_date",
    "changed_price",
    "substituted",
    "rejected",
    "backordered",
]

# The field that carries the change a line status announces.
_REQUIRED_BY_STATUS: Mapping[str, str] = {
    "changed_quantity": "quantity",
    "changed_date": "promised_date",
    "changed_price": "unit_price",
    "substituted": "substitute",
}


class AcknowledgmentLine(Canonical):
    """The supplier's answer for (part of) one PO line; a split line repeats its line_number."""

    line_number: LineNumber
    status: AckLineStatus
    item: ItemRef | None = None
    # The quantity this answer covers; for changed_quantity the new quantity.
    quantity: Quantity | None = None
    promised_date: date | None = None
    # For changed_price, the new price.
    unit_price: Money | None = None
    substitute: ItemRef | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        required = _REQUIRED_BY_STATUS.get(self.status)
        if required is not None and getattr(self, required) is None:
            raise ValueError(f"status {self.status!r} requires `{required}`")


class POAcknowledgment(Canonical, tag_field="doc_type", tag="acknowledgment"):
    """A supplier's answer to a purchase order; no lines means the answer covers the whole PO."""

    document_id: NonEmptyStr
    po_number: NonEmptyStr
    status: Literal["accepted", "accepted_with_changes", "rejected"]
    issue_date: date | None = None
    supplier: Party
    buyer: Party | None = None
    currency: CurrencyCode | None = None
    lines: tuple[AcknowledgmentLine, ...] = ()
    notes: tuple[str, ...] = ()
    source: SourceRef | None = None

    def __post_init__(self) -> None:
        _check_currency(self.currency, _line_amounts(self.lines, "unit_price"))


# --- ship notice ----------------------------------------------------------------------------


class Carrier(Canonical):
    """The carrier moving a shipment."""

    scac: Scac | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if not (self.scac or self.name):
            raise ValueError("a carrier needs a scac or a name")


class ShippedItem(Canonical):
    """A quantity of one item shipped against a PO line (line_number is the PO's)."""

    line_number: LineNumber | None = None
    item: ItemRef
    quantity: Quantity


class Pack(Canonical):
    """One identified shipping unit (carton, pallet) and the items in it."""

    sscc: Sscc | None = None
    # X12 TD1 packaging code (e.g. CTN25, PLT94) or UN/ECE Rec 21 code (e.g. CT).
    packaging_code: str | None = None
    items: Annotated[tuple[ShippedItem, ...], msgspec.Meta(min_length=1)]


class ShipmentOrder(Canonical):
    """The part of a shipment filling one PO: packed items in packs, loose ones in items.

    An order with neither is an order-level notice ("PO X shipped") without line detail, as
    header-only cXML ship notices send it.
    """

    po_number: NonEmptyStr
    packs: tuple[Pack, ...] = ()
    items: tuple[ShippedItem, ...] = ()


class ShipNotice(Canonical, tag_field="doc_type", tag="ship_notice"):
    """An advance ship notice: one shipment (document_id = ASN number) → orders → packs."""

    document_id: NonEmptyStr
    issue_date: date | None = None
    supplier: Party
    buyer: Party | None = None
    shipped_at: datetime | None = None
    estimated_delivery: date | None = None
    carrier: Carrier | None = None
    tracking_number: str | None = None
    bill_of_lading: str | None = None
    ship_from: Party | None = None
    ship_to: Party | None = None
    orders: Annotated[tuple[ShipmentOrder, ...], msgspec.Meta(min_length=1)]
    notes: tuple[str, ...] = ()
    source: SourceRef | None = None


# --- invoice --------------------------------------------------------------------------------


class PaymentTerms(Canonical):
    """Payment terms: net days and an optional early-payment discount."""

    description: str | None = None
    net_days: Days | None = None
    discount_percent: Decimal | None = None
    discount_days: Days | None = None

    def __post_init__(self) -> None:
        if self.discount_percent is not None:
            check_decimal(self.discount_percent, "discount_percent", non_negative=True)
            if self.discount_percent > 100:
                raise ValueError("`discount_percent` must be <= 100")


class InvoiceLine(Canonical):
    """One billed item; amount is the extended amount as the supplier billed it."""

    line_number: LineNumber
    po_line_number: LineNumber | None = None
    item: ItemRef
    quantity: Quantity
    unit_price: Money
    amount: Money


class AllowanceCharge(Canonical):
    """A header allowance (lowers the total) or charge (raises it); amount is never negative."""

    kind: Literal["allowance", "charge"]
    # e.g. X12 SAC02 "D240" (freight) or "C310" (discount).
    code: str | None = None
    description: str | None = None
    amount: Money

    def __post_init__(self) -> None:
        check_decimal(self.amount.amount, "amount", non_negative=True)


class TaxLine(Canonical):
    """A tax amount such as sales tax or VAT; rate is a percentage."""

    kind: NonEmptyStr
    rate: Decimal | None = None
    amount: Money

    def __post_init__(self) -> None:
        if self.rate is not None:
            check_decimal(self.rate, "rate", non_negative=True)


class InvoiceTotals(Canonical):
    """The totals as the supplier stated them (matching is the validator's job)."""

    subtotal: Money | None = None
    tax_total: Money | None = None
    total: Money


class Invoice(Canonical, tag_field="doc_type", tag="invoice"):
    """A supplier's invoice (document_id = invoice number)."""

    document_id: NonEmptyStr
    invoice_date: date
    supplier: Party
    buyer: Party | None = None
    remit_to: Party | None = None
    currency: CurrencyCode
    po_numbers: tuple[NonEmptyStr, ...] = ()
    terms: PaymentTerms | None = None
    lines: Annotated[tuple[InvoiceLine, ...], msgspec.Meta(min_length=1)]
    allowances_charges: tuple[AllowanceCharge, ...] = ()
    taxes: tuple[TaxLine, ...] = ()
    totals: InvoiceTotals
    notes: tuple[str, ...] = ()
    source: SourceRef | None = None

    def __post_init__(self) -> None:
        _check_unique(line.line_number for line in self.lines)
        _check_currency(
            self.currency,
            (
                *_line_amounts(self.lines, "unit_price", "amount"),
                *(
                    (f"allowances_charges[{index}].amount", ac.amount)
                    for index, ac in enumerate(self.allowances_charges)
                ),
                *((f"taxes[{index}].amount", tax.amount) for index, tax in enumerate(self.taxes)),
                ("totals.subtotal", self.totals.subtotal),
                ("totals.tax_total", self.totals.tax_total),
                ("totals.total", self.totals.total),
            ),
        )


# --- planning and finance documents ---------------------------------------------------------


class InventoryLine(Canonical):
    """Quantity of one item available at a location, now or from available_date."""

    item: ItemRef
    quantity: Quantity
    location: str | None = None
    available_date: date | None = None


class InventoryAdvice(Canonical, tag_field="doc_type", tag="inventory_advice"):
    """A supplier's inventory availability as of a moment."""

    document_id: NonEmptyStr
    issue_date: date | None = None
    supplier: Party
    buyer: Party | None = None
    as_of: datetime
    lines: Annotated[tuple[InventoryLine, ...], msgspec.Meta(min_length=1)]
    notes: tuple[str, ...] = ()
    source: SourceRef | None = None


class CatalogLine(Canonical):
    """An item's price per price_uom and its ordering terms.

    A line without a price lists the item only (a title catalog such as a BISG book 832). A
    ``unit_price`` needs its ``price_uom``; a ``price_uom`` alone names the unit the item is
    priced in without giving the price.
    """

    item: ItemRef
    unit_price: Money | None = None
    price_uom: UomCode | None = None
    min_quantity: Quantity | None = None
    lead_time_days: Days | None = None

    def __post_init__(self) -> None:
        if self.unit_price is None:
            return
        if self.price_uom is None:
            raise ValueError("`unit_price` needs its `price_uom`")
        check_decimal(self.unit_price.amount, "unit_price", non_negative=True)


class PriceCatalog(Canonical, tag_field="doc_type", tag="price_catalog"):
    """A supplier's items and prices, effective from a date (until effective_to when given)."""

    document_id: NonEmptyStr
    issue_date: date | None = None
    supplier: Party
    buyer: Party | None = None
    currency: CurrencyCode
    effective_from: date
    effective_to: date | None = None
    lines: Annotated[tuple[CatalogLine, ...], msgspec.Meta(min_length=1)]
    notes: tuple[str, ...] = ()
    source: SourceRef | None = None

    def __post_init__(self) -> None:
        check_date_range(self.effective_from, self.effective_to, ("effective_from", "effective_to"))
        _check_currency(self.currency, _line_amounts(self.lines, "unit_price"))


class LeadTimeLine(Canonical):
    """One item's lead time in days, before (if known) and after the change."""

    item: ItemRef
    old_lead_time_days: Days | None = None
    new_lead_time_days: Days


class LeadTimeChange(Canonical, tag_field="doc_type", tag="lead_time_change"):
    """A supplier's notice that lead times change from effective_date."""

    document_id: NonEmptyStr
    issue_date: date | None = None
    supplier: Party
    buyer: Party | None = None
    effective_date: date
    lines: Annotated[tuple[LeadTimeLine, ...], msgspec.Meta(min_length=1)]
    notes: tuple[str, ...] = ()
    source: SourceRef | None = None


class RebateLine(Canonical):
    """A quantity sold under the agreement and the rebate claimed for it."""

    item: ItemRef
    quantity: Quantity
    claimed_amount: Money


class RebateClaim(Canonical, tag_field="doc_type", tag="rebate_claim"):
    """A rebate claim under an agreement for a period (both ends inclusive)."""

    document_id: NonEmptyStr
    issue_date: date | None = None
    supplier: Party
    buyer: Party | None = None
    currency: CurrencyCode
    agreement_id: NonEmptyStr
    period_start: date
    period_end: date
    lines: Annotated[tuple[RebateLine, ...], msgspec.Meta(min_length=1)]
    notes: tuple[str, ...] = ()
    source: SourceRef | None = None

    def __post_init__(self) -> None:
        check_date_range(self.period_start, self.period_end, ("period_start", "period_end"))
        _check_currency(self.currency, _line_amounts(self.lines, "claimed_amount"))


ReturnDisposition = Literal["credit", "replace", "repair", "scrap"]


class ReturnLine(Canonical):
    """An item authorised for return, why, and what happens to it."""

    line_number: LineNumber | None = None
    item: ItemRef
    quantity: Quantity
    reason: str | None = None
    disposition: ReturnDisposition | None = None


class ReturnAuthorization(Canonical, tag_field="doc_type", tag="return_authorization"):
    """A return authorisation (document_id = RMA number) against an original PO/invoice."""

    document_id: NonEmptyStr
    issue_date: date | None = None
    supplier: Party
    buyer: Party | None = None
    po_number: str | None = None
    invoice_number: str | None = None
    return_to: Party | None = None
    lines: Annotated[tuple[ReturnLine, ...], msgspec.Meta(min_length=1)]
    notes: tuple[str, ...] = ()
    source: SourceRef | None = None


# --- the union and its codec ----------------------------------------------------------------

Document: TypeAlias = (
    PurchaseOrder
    | POAcknowledgment
    | ShipNotice
    | Invoice
    | InventoryAdvice
    | PriceCatalog
    | LeadTimeChange
    | RebateClaim
    | ReturnAuthorization
)

DOCUMENT_CLASSES: Mapping[DocType, type[Document]] = {
    "purchase_order": PurchaseOrder,
    "acknowledgment": POAcknowledgment,
    "ship_notice": ShipNotice,
    "invoice": Invoice,
    "inventory_advice": InventoryAdvice,
    "price_catalog": PriceCatalog,
    "lead_time_change": LeadTimeChange,
    "rebate_claim": RebateClaim,
    "return_authorization": ReturnAuthorization,
}
_DOC_TYPE_OF: Mapping[type[Document], DocType] = {cls: tag for tag, cls in DOCUMENT_CLASSES.items()}

_DECODER: msgspec.json.Decoder[Document] = msgspec.json.Decoder(Document)
_TYPED_DECODERS: Mapping[DocType, msgspec.json.Decoder[Document]] = {
    tag: msgspec.json.Decoder(cls) for tag, cls in DOCUMENT_CLASSES.items()
}
# "string" is msgspec's default; spelled out because it is part of the wire contract.
_ENCODER = msgspec.json.Encoder(decimal_format="string")


def decode_document(data: bytes, *, doc_type: DocType | None = None) -> Document:
    """Decode canonical JSON; with ``doc_type`` the ``doc_type`` member may be omitted.

    Raises ``msgspec.ValidationError`` / ``msgspec.DecodeError`` unchanged.
    """
    if doc_type is None:
        return _DECODER.decode(data)
    return _TYPED_DECODERS[doc_type].decode(data)


def encode_document(doc: Document) -> bytes:
    """Encode to canonical JSON: doc_type first, defaults omitted, decimals as strings."""
    return _ENCODER.encode(doc)


def doc_type_of(doc: Document) -> DocType:
    """The doc_type tag of a document."""
    return _DOC_TYPE_OF[type(doc)]


def document_key(doc: Document) -> str:
    """A stable business key, <doc_type>:<document_id>; unique per sender, not globally."""
    return f"{doc_type_of(doc)}:{doc.document_id}"


def po_numbers(doc: Document) -> tuple[str, ...]:
    """The purchase order numbers a document refers to, in order, without duplicates."""
    match doc:
        case PurchaseOrder():
            return (doc.document_id,)
        case POAcknowledgment():
            return (doc.po_number,)
        case ShipNotice():
            return tuple(dict.fromkeys(order.po_number for order in doc.orders))
        case Invoice():
            return tuple(dict.fromkeys(doc.po_numbers))
        case ReturnAuthorization():
            return (doc.po_number,) if doc.po_number else ()
        case _:
            return ()
