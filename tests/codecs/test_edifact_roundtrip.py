"""Canonical → EDIFACT → canonical is the identity; mutated input never crashes the reader.

The strategies build the canonical documents the EDIFACT writer promises to carry unchanged.
What EDIFACT cannot hold is left out of them, on purpose and documented in the codec: a party
with both a GLN and a DUNS (one NAD id plus one RFF+API), a substitute's description, timestamps
with a time zone or below the second, and texts that are not word-wrappable (names longer than 35
characters are split at single spaces into C080 components, free texts at 512).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from wharf.codecs.base import Codec, Envelope, Writer
from wharf.codecs.edifact import EdifactCodec
from wharf.errors import DocumentError
from wharf.model import (
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
    PriceCatalog,
    PurchaseOrder,
    PurchaseOrderLine,
    Quantity,
    ShipmentOrder,
    ShipNotice,
    ShippedItem,
    TaxLine,
)
from wharf.model.documents import AcknowledgmentLine

if TYPE_CHECKING:
    from wharf.model import Document

FIXTURES = Path(__file__).parent / "fixtures" / "edifact"
ENVELOPE = Envelope(
    sender_id="WHARF",
    receiver_id="5412345000020",
    receiver_qualifier="14",
    control_number=1007,
    created=dt.datetime(2025, 4, 2, 7, 30, tzinfo=dt.UTC),
)
CHEAP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies -----------------------------------------------------------------------------

# Letters, marks, digits, punctuation, symbols: no spaces (words are joined by single spaces),
# no controls, surrogates or unassigned code points (U+FDD0... noncharacters park escapes).
_chars = st.characters(categories=["L", "M", "N", "P", "S"], max_codepoint=0x2FFF)
word = st.text(_chars, min_size=1, max_size=12)
token = st.text(_chars, min_size=1, max_size=20)
latin = st.text(
    st.characters(categories=["L", "N", "P", "S"], max_codepoint=0xFF), min_size=1, max_size=20
)
ident = st.one_of(token, latin, st.sampled_from(["PO-1", "A+B:C'D?E*F", "ÄÖÜ ß", "x"]))
phrase = st.lists(word, min_size=1, max_size=8).map(" ".join)
text = st.one_of(phrase, ident)


def digits(n: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=n, max_size=n)


gtin = st.one_of(digits(8), digits(12), digits(13), digits(14))
codes = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=1)
uom = st.sampled_from(["EA", "PCE", "KGM", "CS", "PK", "C62", "MTR", "X1"])
currency = st.sampled_from(["EUR", "USD", "DKK", "GBP"])
dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2199, 12, 31))
times = st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
    lambda t: t.replace(microsecond=0)
)
amounts = st.decimals(
    min_value=Decimal(-1000000),
    max_value=Decimal(1000000),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
positive = st.decimals(
    min_value=Decimal(0),
    max_value=Decimal(100000000000),
    places=3,
    allow_nan=False,
    allow_infinity=False,
)
line_number = st.text(_chars, min_size=1, max_size=20)


PURPOSES: list[Literal["original", "change", "cancel"]] = ["original", "change", "cancel"]
ACK_STATUSES: list[Literal["accepted", "accepted_with_changes", "rejected"]] = [
    "accepted",
    "accepted_with_changes",
    "rejected",
]
LINE_STATUSES: list[
    Literal[
        "accepted",
        "changed_quantity",
        "changed_date",
        "changed_price",
        "substituted",
        "rejected",
        "backordered",
    ]
] = [
    "accepted",
    "changed_quantity",
    "changed_date",
    "changed_price",
    "substituted",
    "rejected",
    "backordered",
]


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def parties(draw: st.DrawFn) -> Party:
    gln = draw(opt(digits(13)))
    duns = None if gln else draw(opt(st.one_of(digits(9), digits(13))))
    address = draw(
        opt(
            st.builds(
                Address,
                lines=st.lists(text, max_size=3).map(tuple),
                city=opt(text),
                region=opt(ident),
                postal_code=opt(ident),
                country=opt(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)),
            ).filter(lambda a: a != Address())
        )
    )
    pid, name = draw(opt(ident)), draw(opt(text))
    if not (pid or name or gln or duns or address):
        pid = "P1"
    return Party(id=pid, name=name, gln=gln, duns=duns, address=address)


@st.composite
def items(draw: st.DrawFn, *, description: bool = True) -> ItemRef:
    sku, code, supplier_part = draw(opt(ident)), draw(opt(gtin)), draw(opt(ident))
    buyer_part = draw(opt(ident))
    if not (sku or code or supplier_part or buyer_part):
        supplier_part = "SP-1"
    return ItemRef(
        sku=sku,
        gtin=code,
        supplier_part=supplier_part,
        buyer_part=buyer_part,
        description=draw(opt(text)) if description else None,
    )


quantities = st.builds(Quantity, value=positive, uom=uom)
notes = st.lists(text, max_size=3).map(tuple)


@st.composite
def purchase_orders(draw: st.DrawFn) -> PurchaseOrder:
    cur = draw(opt(currency))
    numbers = draw(st.lists(line_number, min_size=0, max_size=4, unique=True))
    purpose = draw(st.sampled_from(PURPOSES))
    if not numbers and purpose != "cancel":
        numbers = ["1"]
    lines = tuple(
        PurchaseOrderLine(
            line_number=n,
            item=draw(items()),
            quantity=draw(quantities),
            unit_price=Money(amount=draw(amounts), currency=cur)
            if cur and draw(st.booleans())
            else None,
            requested_date=draw(opt(dates)),
            notes=draw(notes),
        )
        for n in numbers
    )
    return PurchaseOrder(
        document_id=draw(ident),
        purpose=purpose,
        issue_date=draw(opt(dates)),
        supplier=draw(parties()),
        buyer=draw(opt(parties())),
        currency=cur,
        ship_to=draw(opt(parties())),
        bill_to=draw(opt(parties())),
        requested_date=draw(opt(dates)),
        lines=lines,
        notes=draw(notes),
    )


@st.composite
def acknowledgments(draw: st.DrawFn) -> POAcknowledgment:
    cur = draw(opt(currency))
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        status = draw(st.sampled_from(LINE_STATUSES))
        if status == "changed_price" and cur is None:
            status = "accepted"
        lines.append(
            AcknowledgmentLine(
                line_number=draw(line_number),
                status=status,
                item=draw(opt(items())),
                quantity=draw(quantities if status == "changed_quantity" else opt(quantities)),
                promised_date=draw(dates if status == "changed_date" else opt(dates)),
                unit_price=(
                    Money(amount=draw(amounts), currency=cur)
                    if cur and (status == "changed_price" or draw(st.booleans()))
                    else None
                ),
                substitute=draw(items(description=False) if status == "substituted" else st.none()),
                reason=draw(opt(text)),
            )
        )
    return POAcknowledgment(
        document_id=draw(ident),
        po_number=draw(ident),
        status=draw(st.sampled_from(ACK_STATUSES)),
        issue_date=draw(opt(dates)),
        supplier=draw(parties()),
        buyer=draw(opt(parties())),
        currency=cur,
        lines=tuple(lines),
        notes=draw(notes),
    )


shipped = st.builds(ShippedItem, line_number=opt(line_number), item=items(), quantity=quantities)


@st.composite
def ship_notices(draw: st.DrawFn) -> ShipNotice:
    orders = []
    for po in draw(st.lists(ident, min_size=1, max_size=3, unique=True)):
        packs = draw(
            st.lists(
                st.builds(
                    Pack,
                    sscc=opt(digits(18)),
                    packaging_code=opt(st.sampled_from(["CT", "PX", "CTN25", "BX"])),
                    items=st.lists(shipped, min_size=1, max_size=3).map(tuple),
                ),
                max_size=2,
            )
        )
        # At least one item: DESADV names the PO per LIN (RFF+ON), so an order without items
        # (which the model allows since header-only ASNs) is not written.
        loose = draw(st.lists(shipped, min_size=0 if packs else 1, max_size=3))
        orders.append(ShipmentOrder(po_number=po, packs=tuple(packs), items=tuple(loose)))
    scac = draw(opt(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=4)))
    name = draw(opt(text))
    carrier = Carrier(scac=scac, name=name) if scac or name else None
    return ShipNotice(
        document_id=draw(ident),
        issue_date=draw(opt(dates)),
        supplier=draw(parties()),
        buyer=draw(opt(parties())),
        shipped_at=draw(opt(times)),
        estimated_delivery=draw(opt(dates)),
        carrier=carrier,
        tracking_number=draw(opt(ident)),
        bill_of_lading=draw(opt(ident)),
        ship_from=draw(opt(parties())),
        ship_to=draw(opt(parties())),
        orders=tuple(orders),
        notes=draw(notes),
    )


@st.composite
def invoices(draw: st.DrawFn) -> Invoice:
    cur = draw(currency)

    def money() -> Money:
        return Money(amount=draw(amounts), currency=cur)

    lines = tuple(
        InvoiceLine(
            line_number=n,
            po_line_number=draw(opt(line_number)),
            item=draw(items()),
            quantity=draw(quantities),
            unit_price=money(),
            amount=money(),
        )
        for n in draw(st.lists(line_number, min_size=1, max_size=4, unique=True))
    )
    terms = draw(
        opt(
            st.builds(
                PaymentTerms,
                description=opt(text),
                net_days=opt(st.integers(0, 3650)),
                discount_percent=opt(
                    st.decimals(min_value=0, max_value=100, places=2, allow_nan=False)
                ),
                discount_days=opt(st.integers(0, 3650)),
            )
        )
    )
    allowances = draw(
        st.lists(
            st.builds(
                AllowanceCharge,
                kind=st.sampled_from(["allowance", "charge"]),
                code=opt(st.sampled_from(["FC", "ABH", "D240", "C310"])),
                description=opt(text),
                amount=st.decimals(min_value=0, max_value=10000, places=2).map(
                    lambda a: Money(amount=a, currency=cur)
                ),
            ),
            max_size=3,
        )
    )
    taxes = draw(
        st.lists(
            st.builds(
                TaxLine,
                kind=st.sampled_from(["VAT", "GST", "sales tax"]),
                rate=opt(st.decimals(min_value=0, max_value=100, places=2)),
                amount=st.just(None).map(lambda _: money()),
            ),
            max_size=3,
        )
    )
    return Invoice(
        document_id=draw(ident),
        invoice_date=draw(dates),
        supplier=draw(parties()),
        buyer=draw(opt(parties())),
        remit_to=draw(opt(parties())),
        currency=cur,
        po_numbers=tuple(draw(st.lists(ident, max_size=3, unique=True))),
        terms=terms,
        lines=lines,
        allowances_charges=tuple(allowances),
        taxes=tuple(taxes),
        totals=InvoiceTotals(
            subtotal=draw(opt(st.just(None).map(lambda _: money()))),
            tax_total=draw(opt(st.just(None).map(lambda _: money()))),
            total=money(),
        ),
        notes=draw(notes),
    )


documents = st.one_of(purchase_orders(), acknowledgments(), ship_notices(), invoices())
versions = st.sampled_from([None, "D96A", "D01B", "D01B:EAN010"])

# --- round trip -----------------------------------------------------------------------------


def round_trip(doc: Document, version: str | None) -> Document:
    # The strategies must only produce valid canonical documents.
    msgspec.convert(msgspec.to_builtins(doc), type(doc))
    codec = EdifactCodec()
    body = codec.encode(doc, dataclasses.replace(ENVELOPE, version=version))
    decoded = codec.decode(body)
    assert decoded.errors == [], [e.detail for e in decoded.errors]
    assert decoded.reply is not None and decoded.reply.accepted
    (back,) = decoded.documents
    assert back.source is not None and back.source.format == "edifact"
    return back


@CHEAP
@given(doc=documents, version=versions)
def test_canonical_to_edifact_to_canonical_is_identity(doc: Document, version: str | None) -> None:
    back = round_trip(doc, version)
    assert msgspec.structs.replace(back, source=None) == doc


def test_the_codec_is_a_codec_and_a_writer() -> None:
    codec: Codec = EdifactCodec()
    writer: Writer = EdifactCodec()
    assert codec.format == writer.format == "edifact"


def test_writer_output_shape() -> None:
    po = PurchaseOrder(
        document_id="PO+1",
        issue_date=dt.date(2025, 3, 1),
        supplier=Party(gln="5412345000020", id="ACME"),
        currency="EUR",
        lines=(
            PurchaseOrderLine(
                line_number="1",
                item=ItemRef(gtin="05412345000051", supplier_part="A:B"),
                quantity=Quantity(value=Decimal("12.50"), uom="EA"),
                unit_price=Money(amount=Decimal("1E+1"), currency="EUR"),
            ),
        ),
    )
    body = EdifactCodec().encode(po, dataclasses.replace(ENVELOPE, version="D01B", test=True))
    assert body.decode("latin-1").split("'") == [
        "UNA:+.? ",
        "UNB+UNOC:3+WHARF:ZZ+5412345000020:14+250402:0730+1007++++++1",
        "UNH+1+ORDERS:D:01B:UN",
        "BGM+220+PO?+1+9",
        "DTM+137:20250301:102",
        "NAD+SU+5412345000020::9",
        "RFF+API:ACME",
        "CUX+2:EUR:9",
        "LIN+1++05412345000051:SRV",
        "PIA+1+A?:B:SA",
        "QTY+21:12.50:EA",
        "PRI+AAA:10",
        "UNS+S",
        "CNT+2:1",
        "UNT+13+1",
        "UNZ+1+1007",
        "",
    ]


def test_text_beyond_latin1_is_written_as_unoy() -> None:
    po = PurchaseOrder(
        document_id="PO-Łódź",
        supplier=Party(name="Zürich → Łódź"),
        lines=(
            PurchaseOrderLine(
                line_number="1",
                item=ItemRef(sku="X*1"),
                quantity=Quantity(value=Decimal(1), uom="EA"),
            ),
        ),
    )
    body = EdifactCodec().encode(po, ENVELOPE)
    assert body.startswith(b"UNA:+.?*'UNB+UNOY:4+WHARF:ZZ+5412345000020:14+20250402:0730")
    assert b"PIA+5+X?*1:IN" in body
    back = round_trip(po, None)
    assert msgspec.structs.replace(back, source=None) == po


def test_other_document_types_and_directories_are_refused() -> None:
    catalog = PriceCatalog(
        document_id="C1",
        supplier=Party(id="S"),
        currency="EUR",
        effective_from=dt.date(2025, 1, 1),
        lines=(),
    )
    with pytest.raises(ValueError, match="PriceCatalog"):
        EdifactCodec().encode(catalog, ENVELOPE)
    po = PurchaseOrder(document_id="P", purpose="cancel", supplier=Party(id="S"))
    with pytest.raises(ValueError, match="D93A"):
        EdifactCodec().encode(po, dataclasses.replace(ENVELOPE, version="D93A"))


# --- mutation fuzzing -----------------------------------------------------------------------

SEEDS = [p.read_bytes() for p in sorted(FIXTURES.iterdir())]


def decode_never_crashes(body: bytes) -> None:
    try:
        decoded = EdifactCodec().decode(body)
    except DocumentError:
        return
    for part in decoded.parts:
        if part.error is not None:
            assert isinstance(part.error, DocumentError)
            assert part.error.code, part.error.detail
    if decoded.reply is not None:
        EdifactCodec().decode(decoded.reply.body)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        if not body:
            break
        at = draw(st.integers(0, len(body) - 1))
        action = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]))
        if action == "flip":
            body[at] = draw(st.sampled_from(list(b"+:'?*,.\r\n \x1d\xff\xc3A0-")))
        elif action == "delete":
            del body[at : at + draw(st.integers(1, 8))]
        elif action == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=6))
        elif action == "truncate":
            del body[at:]
        else:
            body[at:at] = body[at : at + draw(st.integers(1, 40))]
    return bytes(body)


@CHEAP
@given(body=mutated())
def test_mutated_interchanges_raise_only_document_errors(body: bytes) -> None:
    decode_never_crashes(body)


@CHEAP
@given(body=st.binary(max_size=300))
def test_garbage_raises_only_document_errors(body: bytes) -> None:
    decode_never_crashes(body)
    decode_never_crashes(b"UNB+UNOC:3+S+R+250101:0000+1'UNH+1+ORDERS:D:96A:UN'" + body)


@CHEAP
@given(doc=documents, cut=st.integers(min_value=0, max_value=4000))
def test_truncated_writer_output_raises_only_document_errors(doc: Document, cut: int) -> None:
    body = EdifactCodec().encode(doc, ENVELOPE)
    decode_never_crashes(body[: cut % (len(body) + 1)])


@pytest.mark.parametrize(
    "segment",
    [
        "QTY+21:99999999999999999999999999999999999999",
        "PRI+AAA:1:::0",
        "PRI+AAA:1:::00000000000000000000000000000.0000000000000000001",
        "DTM+2:99999999:102",
        "DTM+2:00000000:102",
        "QTY+21:" + "9" * 5000,
    ],
)
def test_extreme_values_are_errors_or_numbers_not_crashes(segment: str) -> None:
    body = (
        "UNB+UNOC:3+S+R+250101:0000+1'UNH+1+ORDERS:D:96A:UN'BGM+220+PO+9'NAD+SU+SUP::92'"
        f"CUX+2:EUR'LIN+1++X1:SA'QTY+21:1'{segment}'UNT+9+1'UNZ+1+1'"
    )
    decode_never_crashes(body.encode())
