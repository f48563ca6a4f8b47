"""Property tests for the XML codecs: writers round-trip, mutated inputs fail only cleanly.

(1) canonical → cXML/UBL → canonical is the identity (``source`` aside) for every writer. The
strategies stay inside what each format can say, and the docstrings of the codec modules name
the limits: cXML has no place for an acknowledgment line's own item or for payment-terms text;
UBL writes original orders only; a "detail"/"changed" line says what changed by what it carries
(substitute, then price, then date, then quantity), so a changed_quantity line carries no
price or date; packs carry distinct SSCCs; text is stripped and free of line breaks.
(2) Mutated, truncated and garbage bodies never raise anything but DocumentError.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar, get_args

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from wharf.codecs.base import Envelope
from wharf.codecs.cxml import CxmlCodec
from wharf.codecs.ubl import UblCodec
from wharf.errors import DocumentError
from wharf.model import (
    AcknowledgmentLine,
    Address,
    AllowanceCharge,
    Carrier,
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

if TYPE_CHECKING:
    from collections.abc import Callable

    from wharf.model import Document

T = TypeVar("T")
Fmt = Literal["cxml", "ubl"]
Purpose = Literal["original", "change", "cancel"]
LineStatus = Literal[
    "accepted",
    "changed_quantity",
    "changed_date",
    "changed_price",
    "substituted",
    "rejected",
    "backordered",
]
AckStatus = Literal["accepted", "accepted_with_changes", "rejected"]
CODECS: dict[Fmt, CxmlCodec | UblCodec] = {"cxml": CxmlCodec(), "ubl": UblCodec()}
ENVELOPE = Envelope(
    sender_id="WHARF",
    receiver_id="PARTNER",
    control_number=7,
    created=dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC),
)
FIXTURES = Path(__file__).parent / "fixtures"
PROPERTY = settings(max_examples=60, deadline=None)

# --- canonical strategies -------------------------------------------------------------------

TEXT = (
    st.text(
        alphabet=st.sampled_from(list("abcxyzABCXYZ0189 -./&<>\"'’éß漢")), min_size=1, max_size=12
    )
    .map(str.strip)
    .filter(bool)
)
CODE = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=10)
LINE_NUMBER = st.text(alphabet="0123456789ABC", min_size=1, max_size=6)
CURRENCY = st.sampled_from(["USD", "EUR", "SEK"])
DATES = st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31))
TIMES = st.datetimes(
    dt.datetime(2000, 1, 1),
    dt.datetime(2099, 1, 1),
    timezones=st.none() | st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-8))]),
)


def digits(length: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=length, max_size=length)


def opt(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    return st.none() | strategy


GTIN = st.sampled_from([8, 12, 13, 14]).flatmap(digits)


@st.composite
def addresses(draw: st.DrawFn) -> Address:
    lines = tuple(draw(st.lists(TEXT, max_size=3)))
    city = draw(opt(TEXT))
    country = draw(opt(st.sampled_from(["US", "DE", "SE", "GB"])))
    region, postal_code = draw(opt(TEXT)), draw(opt(TEXT))
    if not (lines or city or region or postal_code or country):
        city = draw(TEXT)
    return Address(lines=lines, city=city, region=region, postal_code=postal_code, country=country)


@st.composite
def parties(draw: st.DrawFn) -> Party:
    fields = {
        "id": draw(opt(TEXT)),
        "name": draw(opt(TEXT)),
        "gln": draw(opt(digits(13))),
        "duns": draw(opt(digits(9))),
        "address": draw(opt(addresses())),
    }
    if not any(fields.values()):
        fields["id"] = draw(TEXT)
    return Party(**fields)  # type: ignore[arg-type]


@st.composite
def items(draw: st.DrawFn) -> ItemRef:
    ids = {
        "sku": draw(opt(CODE)),
        "gtin": draw(opt(GTIN)),
        "supplier_part": draw(opt(CODE)),
        "buyer_part": draw(opt(CODE)),
    }
    if not any(ids.values()):
        ids["supplier_part"] = draw(CODE)
    return ItemRef(**ids, description=draw(opt(TEXT)))


@st.composite
def carriers(draw: st.DrawFn) -> Carrier:
    scac = draw(opt(st.text(alphabet="ABCXYZ", min_size=2, max_size=4)))
    return Carrier(scac=scac, name=draw(TEXT) if scac is None else draw(opt(TEXT)))


PARTIES = parties()
ITEMS = items()
QUANTITIES = st.builds(
    Quantity,
    value=st.decimals(0, 10**6, places=3),
    uom=st.sampled_from(["EA", "CS", "C62", "KGM", "PK"]),
)
NOTES = st.lists(TEXT, max_size=2).map(tuple)


def money(currency: str, *, non_negative: bool = False) -> st.SearchStrategy[Money]:
    low = 0 if non_negative else -(10**6)
    return st.builds(Money, amount=st.decimals(low, 10**6, places=2), currency=st.just(currency))


@st.composite
def purchase_orders(draw: st.DrawFn, fmt: Fmt) -> PurchaseOrder:
    currency = draw(opt(CURRENCY))
    purposes: list[Purpose] = ["original"] if fmt == "ubl" else list(get_args(Purpose))
    purpose = draw(st.sampled_from(purposes))
    numbers = draw(
        st.lists(LINE_NUMBER, min_size=0 if purpose == "cancel" else 1, max_size=3, unique=True)
    )
    lines = tuple(
        PurchaseOrderLine(
            line_number=number,
            item=draw(ITEMS),
            quantity=draw(QUANTITIES),
            unit_price=draw(opt(money(currency))) if currency else None,
            requested_date=draw(opt(DATES)),
            notes=draw(NOTES),
        )
        for number in numbers
    )
    return PurchaseOrder(
        document_id=draw(TEXT),
        purpose=purpose,
        issue_date=draw(opt(DATES)),
        supplier=draw(PARTIES),
        buyer=draw(opt(PARTIES)),
        currency=currency,
        ship_to=draw(opt(PARTIES)),
        bill_to=draw(opt(PARTIES)),
        requested_date=draw(opt(DATES)),
        lines=lines,
        notes=draw(NOTES),
    )


@st.composite
def acknowledgment_lines(draw: st.DrawFn, fmt: Fmt, currency: str | None) -> AcknowledgmentLine:
    statuses: list[LineStatus] = [
        "accepted",
        "rejected",
        "backordered",
        "changed_quantity",
        "changed_date",
        "substituted",
    ]
    status = draw(st.sampled_from([*statuses, "changed_price"] if currency else statuses))
    quantity = draw(opt(QUANTITIES))
    price = draw(opt(money(currency))) if currency else None
    promised = draw(opt(DATES))
    substitute = draw(opt(ITEMS))
    if status == "substituted":
        substitute = substitute or draw(ITEMS)
    elif status == "changed_price":
        substitute, price = None, price or draw(money(currency or "USD"))
    elif status == "changed_date":
        substitute, price, promised = None, None, promised or draw(DATES)
    elif status == "changed_quantity":
        substitute, price, promised, quantity = None, None, None, quantity or draw(QUANTITIES)
    return AcknowledgmentLine(
        line_number=draw(LINE_NUMBER),
        status=status,
        item=draw(opt(ITEMS)) if fmt == "ubl" else None,
        quantity=quantity,
        promised_date=promised,
        unit_price=price,
        substitute=substitute,
        reason=draw(opt(TEXT)),
    )


@st.composite
def acknowledgments(draw: st.DrawFn, fmt: Fmt) -> POAcknowledgment:
    currency = draw(opt(CURRENCY))
    return POAcknowledgment(
        document_id=draw(TEXT),
        po_number=draw(TEXT),
        status=draw(st.sampled_from(get_args(AckStatus))),
        issue_date=draw(opt(DATES)),
        supplier=draw(PARTIES),
        buyer=draw(opt(PARTIES)),
        currency=currency,
        lines=tuple(draw(st.lists(acknowledgment_lines(fmt, currency), max_size=4))),
        notes=draw(NOTES),
    )


SHIPPED = st.builds(ShippedItem, line_number=opt(LINE_NUMBER), item=ITEMS, quantity=QUANTITIES)


@st.composite
def ship_notices(draw: st.DrawFn, fmt: Fmt) -> ShipNotice:
    ssccs = iter(draw(st.lists(digits(18), min_size=6, max_size=6, unique=True)))
    orders = []
    for po_number in draw(st.lists(TEXT, min_size=1, max_size=3, unique=True)):
        packs = tuple(
            Pack(
                sscc=next(ssccs),
                packaging_code=draw(opt(CODE)),
                items=tuple(draw(st.lists(SHIPPED, min_size=1, max_size=2))),
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        # cXML carries an order-level portion without items (a header-only ASN); a UBL
        # DespatchLine is one item, so an order without any has no place there.
        least = 0 if packs or fmt == "cxml" else 1
        items = tuple(draw(st.lists(SHIPPED, min_size=least, max_size=2)))
        orders.append(ShipmentOrder(po_number=po_number, packs=packs, items=items))
    carrier = draw(opt(carriers()))
    return ShipNotice(
        document_id=draw(TEXT),
        issue_date=draw(opt(DATES)),
        supplier=draw(PARTIES),
        buyer=draw(opt(PARTIES)),
        shipped_at=draw(opt(TIMES)),
        estimated_delivery=draw(opt(DATES)),
        carrier=carrier,
        tracking_number=draw(opt(TEXT)),
        bill_of_lading=draw(opt(TEXT)),
        ship_from=draw(opt(PARTIES)),
        ship_to=draw(opt(PARTIES)),
        orders=tuple(orders),
        notes=draw(NOTES),
    )


@st.composite
def invoices(draw: st.DrawFn, fmt: Fmt) -> Invoice:
    currency = draw(CURRENCY)
    numbers = draw(st.lists(LINE_NUMBER, min_size=1, max_size=3, unique=True))
    lines = tuple(
        InvoiceLine(
            line_number=number,
            po_line_number=draw(opt(LINE_NUMBER)),
            item=draw(ITEMS),
            quantity=draw(QUANTITIES),
            unit_price=draw(money(currency)),
            amount=draw(money(currency)),
        )
        for number in numbers
    )
    days = st.integers(0, 3650)
    terms = draw(
        opt(
            st.builds(
                PaymentTerms,
                description=opt(TEXT) if fmt == "ubl" else st.none(),
                net_days=opt(days),
                discount_percent=opt(st.decimals(0, 100, places=2)),
                discount_days=opt(days),
            )
        )
    )
    kinds = st.sampled_from(["VAT", "VAT:S", "GST:Z"]) if fmt == "ubl" else TEXT
    return Invoice(
        document_id=draw(TEXT),
        invoice_date=draw(DATES),
        supplier=draw(PARTIES),
        buyer=draw(opt(PARTIES)),
        remit_to=draw(opt(PARTIES)),
        currency=currency,
        po_numbers=tuple(draw(st.lists(TEXT, max_size=3, unique=True))),
        terms=terms,
        lines=lines,
        allowances_charges=tuple(
            draw(
                st.lists(
                    st.builds(
                        AllowanceCharge,
                        kind=st.sampled_from(("allowance", "charge")),
                        code=opt(CODE),
                        description=opt(TEXT),
                        amount=money(currency, non_negative=True),
                    ),
                    max_size=2,
                )
            )
        ),
        taxes=tuple(
            draw(
                st.lists(
                    st.builds(
                        TaxLine,
                        kind=kinds,
                        rate=opt(st.decimals(0, 100, places=3)),
                        amount=money(currency),
                    ),
                    max_size=2,
                )
            )
        ),
        totals=InvoiceTotals(
            subtotal=draw(opt(money(currency))),
            tax_total=draw(opt(money(currency))),
            total=draw(money(currency)),
        ),
        notes=draw(NOTES),
    )


STRATEGIES: dict[str, Callable[[Fmt], st.SearchStrategy[Document]]] = {
    "purchase_order": purchase_orders,
    "acknowledgment": acknowledgments,
    "ship_notice": ship_notices,
    "invoice": invoices,
}

# --- (1) round trips ------------------------------------------------------------------------


def round_trip(fmt: Fmt, document: Document) -> None:
    codec = CODECS[fmt]
    decoded = codec.decode(codec.encode(document, ENVELOPE))
    assert decoded.errors == []
    [back] = decoded.documents
    assert back.source is not None and back.source.format == fmt
    assert msgspec.structs.replace(back, source=None) == document


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
@pytest.mark.parametrize("fmt", ["cxml", "ubl"])
def test_writer_then_reader_is_identity(fmt: Fmt, kind: str) -> None:
    @PROPERTY
    @given(STRATEGIES[kind](fmt))
    def check(document: Document) -> None:
        round_trip(fmt, document)

    check()


# --- (2) mutation fuzzing -------------------------------------------------------------------

SAMPLES: dict[Fmt, list[bytes]] = {
    fmt: [path.read_bytes() for path in sorted((FIXTURES / fmt).glob("*.xml"))]
    for fmt in ("cxml", "ubl")
}
NASTY = st.sampled_from(
    [
        "",
        " ",
        "-1",
        "0",
        "-0",
        "1.5",
        "1e999",
        "1E+25",
        "NaN",
        "Infinity",
        "abc",
        "2020-13-45",
        "2025-01-01T25:00:00",
        "99999999999999999999999",
        "x" * 300,
        "<>&",
        "☃",
        "true",
        "5",
        "3",
        "Z",
    ]
) | st.text(max_size=20)


def decode_cleanly(fmt: Fmt, body: bytes) -> None:
    try:
        decoded = CODECS[fmt].decode(body)
    except DocumentError:
        return
    for error in decoded.errors:
        assert isinstance(error, DocumentError)
        assert error.pointer is not None


@pytest.mark.parametrize("fmt", ["cxml", "ubl"])
def test_byte_mutations_fail_cleanly(fmt: Fmt) -> None:
    @PROPERTY
    @given(
        st.sampled_from(SAMPLES[fmt]),
        st.lists(
            st.tuples(
                st.floats(0, 1),
                st.sampled_from(["drop", "insert", "flip", "cut"]),
                st.binary(min_size=1, max_size=3),
            ),
            min_size=1,
            max_size=4,
        ),
    )
    def check(body: bytes, mutations: list[tuple[float, str, bytes]]) -> None:
        data = bytearray(body)
        for where, action, junk in mutations:
            at = int(where * len(data))
            if action == "drop":
                del data[at : at + len(junk)]
            elif action == "insert":
                data[at:at] = junk
            elif action == "flip" and at < len(data):
                data[at] ^= junk[0] or 1
            elif action == "cut":
                del data[at:]
        decode_cleanly(fmt, bytes(data))

    check()


@pytest.mark.parametrize("fmt", ["cxml", "ubl"])
def test_tree_mutations_fail_cleanly(fmt: Fmt) -> None:
    @PROPERTY
    @given(
        st.sampled_from(SAMPLES[fmt]),
        st.lists(
            st.tuples(
                st.floats(0, 1),
                st.sampled_from(["text", "attribute", "remove", "duplicate"]),
                NASTY,
            ),
            min_size=1,
            max_size=5,
        ),
    )
    def check(body: bytes, mutations: list[tuple[float, str, str]]) -> None:
        root = ET.fromstring(body)
        for where, action, value in mutations:
            elements = list(root.iter())
            element = elements[int(where * (len(elements) - 1))]
            if action == "text":
                element.text = value
            elif action == "attribute":
                names = sorted(element.attrib) or ["quantity"]
                element.set(names[int(where * 997) % len(names)], value)
            else:
                parent = next((p for p in elements if element in list(p)), None)
                if parent is None:
                    continue
                if action == "remove":
                    parent.remove(element)
                else:
                    parent.append(element)
        decode_cleanly(fmt, ET.tostring(root))

    check()


@PROPERTY
@given(st.binary(max_size=200))
def test_garbage_fails_cleanly(garbage: bytes) -> None:
    for fmt in CODECS:
        decode_cleanly(fmt, garbage)
        decode_cleanly(fmt, b"<?xml version='1.0'?><cXML>" + garbage)


def test_decimal_text_in_writers_has_no_exponent() -> None:
    order = PurchaseOrder(
        document_id="P",
        supplier=Party(id="S"),
        currency="USD",
        lines=(
            PurchaseOrderLine(
                line_number="1",
                item=ItemRef(sku="X"),
                quantity=Quantity(value=Decimal("1E+2"), uom="EA"),
                unit_price=Money(amount=Decimal("0E-7"), currency="USD"),
            ),
        ),
    )
    for fmt, codec in CODECS.items():
        body = codec.encode(order, ENVELOPE)
        assert b"E+" not in body and b"E-" not in body
        round_trip(fmt, order)
