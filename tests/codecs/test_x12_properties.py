"""Property tests: canonical → X12 → canonical is the identity; mangled X12 never crashes."""

from __future__ import annotations

import datetime as dt
import string
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from wharf.codecs.base import Envelope
from wharf.codecs.x12 import X12Codec
from wharf.errors import DocumentError
from wharf.model import (
    AcknowledgmentLine,
    Address,
    AllowanceCharge,
    Carrier,
    Document,
    InventoryAdvice,
    Invoice,
    InvoiceLine,
    InvoiceTotals,
    ItemRef,
    Money,
    Pack,
    Party,
    PaymentTerms,
    POAcknowledgment,
    PurchaseOrder,
    PurchaseOrderLine,
    Quantity,
    ShipmentOrder,
    ShipNotice,
    ShippedItem,
    TaxLine,
)

FIXTURES = Path(__file__).parent / "fixtures" / "x12"
NOW = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
CODEC = X12Codec(clock=lambda: NOW)
ENVELOPE = Envelope(sender_id="WHARF", receiver_id="ACME", control_number=7, created=NOW)
CHEAP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- canonical documents that X12 can carry ----------------------------------------------------

text = st.text(string.ascii_letters + string.digits + " .,-/#&'", min_size=1, max_size=24).map(
    str.strip).filter(bool)
ident = st.text(string.ascii_uppercase + string.digits + "-", min_size=1, max_size=12)


def digits(size: int) -> st.SearchStrategy[str]:
    return st.text(string.digits, min_size=size, max_size=size)


dates = st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))
uoms = st.sampled_from(["EA", "CS", "CA", "BX", "PK", "KGM", "LB", "FT"])
quantities = st.builds(
    Quantity,
    value=st.decimals(0, 10**6, places=3, allow_nan=False, allow_infinity=False),
    uom=uoms,
)


def amounts(places: int = 2, low: int = 0) -> st.SearchStrategy[Decimal]:
    return st.decimals(low, 10**6, places=places, allow_nan=False, allow_infinity=False)


addresses = st.builds(
    Address,
    lines=st.lists(text, max_size=3).map(tuple),
    city=text,
    region=st.none() | st.text(string.ascii_uppercase, min_size=2, max_size=2),
    postal_code=st.none() | ident,
    country=st.none() | st.sampled_from(["US", "CA", "MX", "DE"]),
)
parties = st.one_of(
    st.builds(Party, id=ident, name=st.none() | text, address=st.none() | addresses),
    st.builds(Party, gln=digits(13), name=st.none() | text),
    st.builds(Party, duns=digits(9) | digits(13), name=st.none() | text),
    st.builds(Party, name=text, address=st.none() | addresses),
)
items = st.builds(
    ItemRef,
    sku=st.none() | ident,
    gtin=st.none() | st.sampled_from([8, 12, 13, 14]).flatmap(digits),
    supplier_part=ident,
    buyer_part=st.none() | ident,
    description=st.none() | text,
)


@st.composite
def numbered(draw: st.DrawFn, strategy: st.SearchStrategy[Any], size: int = 4) -> list[Any]:
    """1..size lines; ``strategy`` draws builders taking the line number "1", "2", …"""
    return [draw(strategy)(str(index + 1)) for index in range(draw(st.integers(1, size)))]


@st.composite
def purchase_orders(draw: st.DrawFn) -> PurchaseOrder:
    currency = draw(st.none() | st.sampled_from(["USD", "EUR"]))
    prices = st.none() if currency is None else st.none() | amounts(4).map(
        lambda a: Money(amount=a, currency=currency))
    line = st.builds(
        lambda item, qty, price, when, notes: lambda number: PurchaseOrderLine(
            line_number=number, item=item, quantity=qty, unit_price=price, requested_date=when,
            notes=tuple(notes)),
        items, quantities, prices, st.none() | dates, st.lists(text, max_size=2),
    )
    return PurchaseOrder(
        document_id=draw(ident), purpose=draw(st.sampled_from(["original", "change", "cancel"])),
        issue_date=draw(dates), supplier=draw(parties), buyer=draw(st.none() | parties),
        currency=currency, ship_to=draw(st.none() | parties), bill_to=draw(st.none() | parties),
        requested_date=draw(st.none() | dates), lines=tuple(draw(numbered(line))),
        notes=tuple(draw(st.lists(text, max_size=2))),
    )


_NEEDS = {"changed_quantity": "quantity", "changed_date": "promised_date",
          "changed_price": "unit_price", "substituted": "substitute"}


@st.composite
def acknowledgments(draw: st.DrawFn) -> POAcknowledgment:
    currency = draw(st.none() | st.sampled_from(["USD", "EUR"]))

    def line(number: str) -> AcknowledgmentLine:
        status = draw(st.sampled_from(["accepted", "changed_quantity", "changed_date",
                                       "changed_price", "substituted", "rejected", "backordered"]))
        fields: dict[str, Any] = {
            "quantity": draw(st.none() | quantities),
            "promised_date": draw(st.none() | dates),
            "unit_price": None if currency is None else draw(st.none() | amounts(4).map(
                lambda a: Money(amount=a, currency=currency))),
            "substitute": draw(items.map(lambda i: msgspec.structs.replace(i, description=None)))
            if status == "substituted" else None,
        }
        needed = _NEEDS.get(status)
        if needed == "quantity" and fields["quantity"] is None:
            fields["quantity"] = draw(quantities)
        if needed == "promised_date" and fields["promised_date"] is None:
            fields["promised_date"] = draw(dates)
        if needed == "unit_price" and fields["unit_price"] is None:
            status = "accepted"
        return AcknowledgmentLine(line_number=number, status=status,  # type: ignore[arg-type]
                                  item=draw(st.none() | items), reason=draw(st.none() | ident),
                                  **fields)

    count = draw(st.integers(0, 4))
    return POAcknowledgment(
        document_id=draw(ident), po_number=draw(ident),
        status=draw(st.sampled_from(["accepted", "accepted_with_changes", "rejected"])),
        issue_date=draw(st.none() | dates), supplier=draw(parties),
        buyer=draw(st.none() | parties), currency=currency,
        lines=tuple(line(str(i + 1)) for i in range(count)),
        notes=tuple(draw(st.lists(text, max_size=2))),
    )


shipped = st.builds(ShippedItem, line_number=st.none() | ident, item=items, quantity=quantities)
packs = st.builds(Pack, sscc=st.none() | digits(18),
                  packaging_code=st.none() | st.sampled_from(["CTN25", "PLT94", "BOX"]),
                  items=st.lists(shipped, min_size=1, max_size=3).map(tuple))
# Orders keep at least one item: the 856 reader builds orders from item levels (HL*I), so an
# order-level HL*O without items is not read back (the model allows it since header-only ASNs).
orders = st.tuples(ident, st.lists(packs, max_size=2), st.lists(shipped, max_size=2)).filter(
    lambda parts: bool(parts[1] or parts[2])).map(
    lambda parts: ShipmentOrder(po_number=parts[0], packs=tuple(parts[1]), items=tuple(parts[2])))
stamps = st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2099, 1, 1)).map(
    lambda d: d.replace(microsecond=0))
carriers = st.one_of(
    st.builds(Carrier, scac=st.text(string.ascii_uppercase, min_size=2, max_size=4),
              name=st.none() | text),
    st.builds(Carrier, name=text),
)
ship_notices = st.builds(
    ShipNotice,
    document_id=ident, issue_date=dates, supplier=parties, buyer=st.none() | parties,
    shipped_at=st.none() | stamps | stamps.map(lambda d: d.replace(tzinfo=dt.UTC)),
    estimated_delivery=st.none() | dates, carrier=st.none() | carriers,
    tracking_number=st.none() | ident, bill_of_lading=st.none() | ident,
    ship_from=st.none() | parties, ship_to=st.none() | parties,
    orders=st.lists(orders, min_size=1, max_size=3, unique_by=lambda o: o.po_number).map(tuple),
)


@st.composite
def invoices(draw: st.DrawFn) -> Invoice:
    currency = draw(st.sampled_from(["USD", "EUR", "GBP"]))

    def money(places: int = 2) -> Money:
        return Money(amount=draw(amounts(places)), currency=currency)

    def line(number: str) -> InvoiceLine:
        qty, price = draw(quantities), money(4)
        return InvoiceLine(line_number=number, po_line_number=draw(st.none() | ident),
                           item=draw(items), quantity=qty, unit_price=price,
                           amount=Money(amount=qty.value * price.amount, currency=currency))

    terms = draw(st.none() | st.builds(
        PaymentTerms, description=st.none() | text, net_days=st.integers(0, 3650),
        discount_percent=st.none() | amounts(2).filter(lambda d: d <= 100),
        discount_days=st.none() | st.integers(0, 3650)))
    return Invoice(
        document_id=draw(ident), invoice_date=draw(dates), supplier=draw(parties),
        buyer=draw(st.none() | parties), remit_to=draw(st.none() | parties), currency=currency,
        po_numbers=tuple(draw(st.lists(ident, max_size=3, unique=True))), terms=terms,
        lines=tuple(line(str(i + 1)) for i in range(draw(st.integers(1, 4)))),
        allowances_charges=tuple(
            AllowanceCharge(kind=draw(st.sampled_from(["allowance", "charge"])),
                            code=draw(st.none() | st.sampled_from(["C310", "D240", "H850"])),
                            description=draw(st.none() | text), amount=money())
            for _ in range(draw(st.integers(0, 2)))),
        taxes=tuple(TaxLine(kind=draw(st.sampled_from(["ST", "VA", "GS"])),
                            rate=draw(st.none() | amounts(3)), amount=money(3))
                    for _ in range(draw(st.integers(0, 2)))),
        totals=InvoiceTotals(subtotal=draw(st.none() | st.just(None).map(lambda _: money(3))),
                             tax_total=draw(st.none() | st.just(None).map(lambda _: money())),
                             total=money()),
        notes=tuple(draw(st.lists(text, max_size=2))),
    )


def _round_trip(document: Document) -> None:
    body = CODEC.encode(document, ENVELOPE)
    decoded = CODEC.decode(body)
    assert decoded.errors == [], decoded.errors
    (back,) = decoded.documents
    assert msgspec.structs.replace(back, source=None) == document
    assert decoded.reply is not None and decoded.reply.accepted


@CHEAP
@given(purchase_orders())
def test_850_round_trip(po: PurchaseOrder) -> None:
    _round_trip(po)


@CHEAP
@given(acknowledgments())
def test_855_round_trip(ack: POAcknowledgment) -> None:
    _round_trip(ack)


@CHEAP
@given(ship_notices)
def test_856_round_trip(notice: ShipNotice) -> None:
    _round_trip(notice)


@CHEAP
@given(invoices())
def test_810_round_trip(invoice: Invoice) -> None:
    _round_trip(invoice)


def test_documents_x12_cannot_carry_are_programming_errors() -> None:
    advice = InventoryAdvice(document_id="A1", supplier=Party(id="ACME"), as_of=NOW,
                             lines=())
    with pytest.raises(ValueError, match="cannot write a InventoryAdvice"):
        CODEC.encode(advice, ENVELOPE)


def test_delimiters_in_text_are_replaced_not_sent() -> None:
    po = PurchaseOrder(
        document_id="PO-1", issue_date=dt.date(2025, 1, 1), supplier=Party(name="A*B~C>D^E"),
        lines=(PurchaseOrderLine(line_number="1", item=ItemRef(supplier_part="X"),
                                 quantity=Quantity(value=Decimal(1), uom="EA"),
                                 notes=("two\nlines",)),),
    )
    (back,) = CODEC.decode(CODEC.encode(po, ENVELOPE)).documents
    assert isinstance(back, PurchaseOrder)
    assert back.supplier.name == "A B C D E" and back.lines[0].notes == ("two lines",)


# --- mangled input never crashes ---------------------------------------------------------------

SAMPLES = sorted(path.read_bytes() for path in FIXTURES.glob("*.edi"))
_NOISE = st.sampled_from([b"*", b"~", b">", b"^", b"|", b"\n", b"\r\n", b"\x15", b"ISA", b"ST*",
                          b"SE*", b"GS*", b"GE*", b"IEA*", b"HL*1*9*I", b"\xff", b"\xc3", b"-",
                          b"00", b"", b"PO1*", b"\xe2\x80\xa6"])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 6))):
        if not body:
            break
        at = draw(st.integers(0, len(body) - 1))
        match draw(st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"])):
            case "flip":
                body[at] = draw(st.integers(0, 255))
            case "delete":
                del body[at : at + draw(st.integers(1, 40))]
            case "insert":
                body[at:at] = draw(_NOISE)
            case "truncate":
                del body[at:]
            case "duplicate":
                body[at:at] = body[at : at + draw(st.integers(1, 80))]
    return bytes(body)


def _decode_or_document_error(body: bytes) -> None:
    try:
        decoded = CODEC.decode(body)
    except DocumentError:
        return
    for document in decoded.documents:
        # Whatever decodes must also be a valid canonical document on the wire.
        msgspec.convert(msgspec.to_builtins(document), type(document))
    for part in decoded.parts:
        assert (part.document is None) != (part.error is None)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_interchanges_never_crash(body: bytes) -> None:
    _decode_or_document_error(body)


@CHEAP
@given(st.binary(max_size=300) | st.binary(max_size=200).map(lambda b: b"ISA*" + b)
       | st.binary(max_size=200).map(lambda b: b"ST*850*1~" + b))
def test_garbage_never_crashes(body: bytes) -> None:
    _decode_or_document_error(body)
