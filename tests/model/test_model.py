"""The canonical model: round trips, exact decimals, strictness, business rules, helpers."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

import wharf.model
from wharf.model import (
    DOC_TYPES,
    DOCUMENT_CLASSES,
    AcknowledgmentLine,
    Address,
    AllowanceCharge,
    Carrier,
    CatalogLine,
    DocType,
    Document,
    InventoryAdvice,
    InventoryLine,
    Invoice,
    InvoiceLine,
    InvoiceTotals,
    Item,
    ItemRef,
    LeadTimeChange,
    LeadTimeLine,
    Money,
    Pack,
    Party,
    PaymentTerms,
    POAcknowledgment,
    PriceCatalog,
    PurchaseOrder,
    PurchaseOrderLine,
    Quantity,
    RebateClaim,
    RebateLine,
    ReturnAuthorization,
    ReturnLine,
    ShipmentOrder,
    ShipNotice,
    ShippedItem,
    SourceRef,
    SupplierPart,
    TaxLine,
    UomConversion,
    decode_document,
    doc_type_of,
    document_key,
    encode_document,
    po_numbers,
)

ACME = Party(id="ACME", name="Acme Fasteners Inc.", gln="0614141000012", duns="123456789")
WHARF = Party(id="DIST-01", name="Northwind Distribution")
DC = Party(
    name="Northwind DC Memphis",
    gln="0614141999996",
    address=Address(
        lines=("4000 Distribution Pkwy",),
        city="Memphis",
        region="TN",
        postal_code="38118",
        country="US",
    ),
)
BOLT = ItemRef(sku="NW-10042", gtin="00614141000418", supplier_part="AC-M8-50", description="M8")
NUT = ItemRef(sku="NW-10043", supplier_part="AC-M8-N")


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def qty(value: str, uom: str = "EA") -> Quantity:
    return Quantity(value=Decimal(value), uom=uom)


def samples() -> list[Document]:
    """One realistic document of every type, in DOC_TYPES order."""
    x12 = SourceRef(
        format="x12",
        version="004010",
        interchange_control="000000905",
        group_control="905",
        transaction_control="0001",
        position="ST@3",
    )
    return [
        PurchaseOrder(
            document_id="PO-45001",
            issue_date=date(2025, 3, 3),
            supplier=ACME,
            buyer=WHARF,
            currency="USD",
            ship_to=DC,
            bill_to=WHARF,
            lines=(
                PurchaseOrderLine(
                    line_number="1", item=BOLT, quantity=qty("1200"), unit_price=usd("0.0815")
                ),
                PurchaseOrderLine(
                    line_number="2",
                    item=NUT,
                    quantity=qty("10", "CS"),
                    unit_price=usd("14.50"),
                    requested_date=date(2025, 3, 17),
                ),
            ),
            source=SourceRef(format="json", position="/"),
        ),
        POAcknowledgment(
            document_id="ACK-77",
            po_number="PO-45001",
            status="accepted_with_changes",
            issue_date=date(2025, 3, 4),
            supplier=ACME,
            currency="USD",
            lines=(
                AcknowledgmentLine(line_number="1", status="accepted", quantity=qty("1200")),
                AcknowledgmentLine(line_number="2", status="changed_price", unit_price=usd("15")),
                AcknowledgmentLine(
                    line_number="2",
                    status="backordered",
                    quantity=qty("4", "CS"),
                    promised_date=date(2025, 4, 1),
                ),
                AcknowledgmentLine(
                    line_number="3", status="substituted", substitute=NUT, reason="discontinued"
                ),
            ),
            source=x12,
        ),
        ShipNotice(
            document_id="ASN-1001",
            issue_date=date(2025, 3, 10),
            supplier=ACME,
            shipped_at=datetime(2025, 3, 10, 16, 30, tzinfo=UTC),
            estimated_delivery=date(2025, 3, 12),
            carrier=Carrier(scac="ODFL", name="Old Dominion"),
            tracking_number="1Z999AA10123456784",
            bill_of_lading="BOL-558812",
            ship_from=Party(name="Acme Plant 2", address=Address(city="Dayton", country="US")),
            ship_to=DC,
            orders=(
                ShipmentOrder(
                    po_number="PO-45001",
                    packs=(
                        Pack(
                            sscc="006141410000000017",
                            packaging_code="CTN25",
                            items=(ShippedItem(line_number="1", item=BOLT, quantity=qty("600")),),
                        ),
                        Pack(
                            sscc="006141410000000024",
                            packaging_code="CTN25",
                            items=(ShippedItem(line_number="1", item=BOLT, quantity=qty("600")),),
                        ),
                    ),
                    items=(ShippedItem(line_number="2", item=NUT, quantity=qty("6", "CS")),),
                ),
            ),
            source=x12,
        ),
        Invoice(
            document_id="INV-9001",
            invoice_date=date(2025, 3, 11),
            supplier=ACME,
            buyer=WHARF,
            remit_to=Party(name="Acme Lockbox", address=Address(postal_code="60693")),
            currency="USD",
            po_numbers=("PO-45001",),
            terms=PaymentTerms(
                description="2% 10 Net 30",
                net_days=30,
                discount_percent=Decimal(2),
                discount_days=10,
            ),
            lines=(
                InvoiceLine(
                    line_number="1",
                    po_line_number="1",
                    item=BOLT,
                    quantity=qty("1200"),
                    unit_price=usd("0.0815"),
                    amount=usd("97.80"),
                ),
                InvoiceLine(
                    line_number="2",
                    po_line_number="2",
                    item=NUT,
                    quantity=qty("6", "CS"),
                    unit_price=usd("15.00"),
                    amount=usd("90.00"),
                ),
            ),
            allowances_charges=(
                AllowanceCharge(
                    kind="charge", code="D240", description="Freight", amount=usd("25")
                ),
                AllowanceCharge(kind="allowance", code="C310", amount=usd("5.00")),
            ),
            taxes=(TaxLine(kind="sales", rate=Decimal("9.25"), amount=usd("17.39")),),
            totals=InvoiceTotals(
                subtotal=usd("187.80"), tax_total=usd("17.39"), total=usd("225.19")
            ),
        ),
        InventoryAdvice(
            document_id="INV-ADV-3",
            supplier=ACME,
            as_of=datetime(2025, 3, 10, 6, 0, tzinfo=UTC),
            lines=(
                InventoryLine(item=BOLT, quantity=qty("50000"), location="DAYTON"),
                InventoryLine(item=NUT, quantity=qty("0", "CS"), available_date=date(2025, 4, 2)),
            ),
        ),
        PriceCatalog(
            document_id="CAT-2025-Q2",
            supplier=ACME,
            currency="USD",
            effective_from=date(2025, 4, 1),
            effective_to=date(2025, 6, 30),
            lines=(
                CatalogLine(
                    item=BOLT,
                    unit_price=usd("8.15"),
                    price_uom="C",
                    min_quantity=qty("1000"),
                    lead_time_days=5,
                ),
                CatalogLine(item=NUT, unit_price=usd("15.00"), price_uom="CS"),
            ),
        ),
        LeadTimeChange(
            document_id="LT-12",
            supplier=ACME,
            effective_date=date(2025, 4, 1),
            lines=(LeadTimeLine(item=BOLT, old_lead_time_days=5, new_lead_time_days=12),),
            notes=("steel shortage",),
        ),
        RebateClaim(
            document_id="RB-2025-03",
            supplier=ACME,
            buyer=WHARF,
            currency="USD",
            agreement_id="AGR-7",
            period_start=date(2025, 3, 1),
            period_end=date(2025, 3, 31),
            lines=(RebateLine(item=BOLT, quantity=qty("24000"), claimed_amount=usd("48.00")),),
        ),
        ReturnAuthorization(
            document_id="RMA-314",
            supplier=ACME,
            po_number="PO-45001",
            invoice_number="INV-9001",
            return_to=Party(name="Acme Returns", address=Address(city="Dayton", country="US")),
            lines=(
                ReturnLine(
                    line_number="1",
                    item=NUT,
                    quantity=qty("2", "CS"),
                    reason="damaged in transit",
                    disposition="credit",
                ),
            ),
        ),
    ]


MINIMAL_SHIP_NOTICE: dict[str, object] = {
    "doc_type": "ship_notice",
    "document_id": "ASN-1",
    "supplier": {"id": "ACME"},
    "orders": [
        {
            "po_number": "PO-1",
            "items": [{"item": {"sku": "X1"}, "quantity": {"value": "1", "uom": "EA"}}],
        }
    ],
}


def ship_notice_json(**changes: object) -> dict[str, object]:
    """A fresh, mutable copy of the minimal ship notice with top-level members replaced."""
    doc: dict[str, object] = json.loads(json.dumps(MINIMAL_SHIP_NOTICE))
    doc.update(changes)
    return doc


def decode(obj: object) -> Document:
    return decode_document(json.dumps(obj).encode())


def packed_ship_notice(item_quantity: object) -> dict[str, object]:
    item = {"line_number": "1", "item": {"sku": "X1"}, "quantity": item_quantity}
    return ship_notice_json(orders=[{"po_number": "PO-1", "packs": [{"items": [item]}]}])


# --- round trips ----------------------------------------------------------------------------


def test_samples_cover_every_doc_type() -> None:
    assert tuple(doc_type_of(doc) for doc in samples()) == DOC_TYPES


@pytest.mark.parametrize("doc", samples(), ids=DOC_TYPES)
def test_round_trip(doc: Document) -> None:
    data = encode_document(doc)
    assert data.startswith(b'{"doc_type":"%s",' % doc_type_of(doc).encode())
    assert decode_document(data) == doc
    assert decode_document(data, doc_type=doc_type_of(doc)) == doc
    assert encode_document(decode_document(data)) == data


def test_tags_match_struct_config() -> None:
    assert tuple(DOCUMENT_CLASSES) == DOC_TYPES
    for tag, cls in DOCUMENT_CLASSES.items():
        assert cls.__struct_config__.tag_field == "doc_type"
        assert cls.__struct_config__.tag == tag


def test_encoding_omits_defaults() -> None:
    data = encode_document(decode(MINIMAL_SHIP_NOTICE))
    assert json.loads(data) == MINIMAL_SHIP_NOTICE


def test_documents_are_frozen() -> None:
    doc = samples()[0]
    with pytest.raises(AttributeError):
        doc.document_id = "other"  # type: ignore[misc]


# --- decimals -------------------------------------------------------------------------------


def test_decimal_from_string_and_number_is_exact() -> None:
    exact = Decimal("12.345678901234567890")
    for raw in (b'"12.345678901234567890"', b"12.345678901234567890"):
        data = json.dumps(packed_ship_notice({"value": 0, "uom": "EA"})).encode()
        data = data.replace(b'"value": 0', b'"value": ' + raw)
        doc = decode_document(data)
        assert isinstance(doc, ShipNotice)
        assert doc.orders[0].packs[0].items[0].quantity.value == exact
        assert b'"value":"12.345678901234567890"' in encode_document(doc)


def test_decimal_keeps_scale_and_encodes_as_string() -> None:
    money = msgspec.json.decode(b'{"amount": 12.50, "currency": "USD"}', type=Money)
    assert str(money.amount) == "12.50"
    assert msgspec.json.encode(money) == b'{"amount":"12.50","currency":"USD"}'


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_non_finite_decimal_rejected(raw: str) -> None:
    with pytest.raises(msgspec.ValidationError, match="finite"):
        decode(packed_ship_notice({"value": raw, "uom": "EA"}))


# --- strictness and business rules ----------------------------------------------------------


def test_unknown_field_rejected_with_path() -> None:
    doc = packed_ship_notice({"value": "1", "uom": "EA", "unit": "EA"})
    with pytest.raises(msgspec.ValidationError) as info:
        decode(doc)
    assert str(info.value) == (
        "Object contains unknown field `unit` - at `$.orders[0].packs[0].items[0].quantity`"
    )


def test_bad_uom_reported_with_full_path() -> None:
    with pytest.raises(msgspec.ValidationError) as info:
        decode(packed_ship_notice({"value": "1", "uom": "each"}))
    assert str(info.value).endswith("- at `$.orders[0].packs[0].items[0].quantity.uom`")


def _invoice_json(**changes: object) -> dict[str, object]:
    doc: dict[str, object] = json.loads(encode_document(samples()[3]))
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        pytest.param(
            packed_ship_notice({"value": "-1", "uom": "EA"}),
            "`value` must be >= 0, got -1 - at `$.orders[0].packs[0].items[0].quantity`",
            id="negative-quantity",
        ),
        pytest.param(
            _invoice_json(currency="usd"),
            "Expected `str` matching regex '^[A-Z]{3}$' - at `$.currency`",
            id="lowercase-currency",
        ),
        pytest.param(
            _invoice_json(currency="USD\n"),
            "Expected `str` of length <= 3 - at `$.currency`",
            id="currency-trailing-newline",
        ),
        pytest.param(
            _invoice_json(lines=[]),
            "Expected `array` of length >= 1 - at `$.lines`",
            id="invoice-without-lines",
        ),
        pytest.param(
            ship_notice_json(orders=[]),
            "Expected `array` of length >= 1 - at `$.orders`",
            id="ship-notice-without-orders",
        ),
        pytest.param(
            ship_notice_json(orders=[{"packs": []}]),
            "Object missing required field `po_number` - at `$.orders[0]`",
            id="order-without-po-number",
        ),
        pytest.param(
            ship_notice_json(
                orders=[
                    {
                        "po_number": "PO-1",
                        "items": [
                            {"item": {"description": "bolt"}, "quantity": {"value": 1, "uom": "EA"}}
                        ],
                    }
                ]
            ),
            "an item needs at least one of sku, gtin, supplier_part, buyer_part"
            " - at `$.orders[0].items[0].item`",
            id="item-without-identifier",
        ),
        pytest.param(
            ship_notice_json(supplier={}),
            "a party needs at least one of id, name, gln, duns, address - at `$.supplier`",
            id="empty-party",
        ),
        pytest.param(
            ship_notice_json(document_id=""),
            "Expected `str` of length >= 1 - at `$.document_id`",
            id="empty-document-id",
        ),
        pytest.param(
            ship_notice_json(carrier={"scac": "ODFL1"}),
            "Expected `str` of length <= 4 - at `$.carrier.scac`",
            id="bad-scac",
        ),
        pytest.param(
            ship_notice_json(
                orders=[
                    {
                        "po_number": "PO-1",
                        "packs": [
                            {
                                "sscc": "12345678901234567",
                                "items": [
                                    {"item": {"sku": "X"}, "quantity": {"value": 1, "uom": "EA"}}
                                ],
                            }
                        ],
                    }
                ]
            ),
            "Expected `str` of length >= 18 - at `$.orders[0].packs[0].sscc`",
            id="short-sscc",
        ),
        pytest.param(
            _invoice_json(totals={"total": {"amount": "1", "currency": "EUR"}}),
            "totals.total is in EUR, the document in USD",
            id="currency-mismatch",
        ),
        pytest.param(
            _invoice_json(terms={"discount_percent": "101"}),
            "`discount_percent` must be <= 100 - at `$.terms`",
            id="discount-over-100",
        ),
    ],
)
def test_constraint_failures(doc: dict[str, object], message: str) -> None:
    with pytest.raises(msgspec.ValidationError) as info:
        decode(doc)
    assert str(info.value) == message


def test_gtin_lengths() -> None:
    for gtin in ("12345678", "123456789012", "1234567890123", "12345678901234"):
        assert ItemRef(gtin=gtin).gtin == gtin
        msgspec.json.decode(msgspec.json.encode({"gtin": gtin}), type=ItemRef)
    for bad in ("1234567", "1234567890", "123456789012345", "1234567A"):
        with pytest.raises(msgspec.ValidationError, match=r"\$\.gtin"):
            msgspec.json.decode(msgspec.json.encode({"gtin": bad}), type=ItemRef)


def test_value_rules_also_apply_on_construction() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        qty("-0.01")
    with pytest.raises(ValueError, match="at least one of sku"):
        ItemRef(description="no id")


def test_ack_line_status_requires_its_change() -> None:
    with pytest.raises(ValueError, match="requires `quantity`"):
        AcknowledgmentLine(line_number="1", status="changed_quantity")
    with pytest.raises(ValueError, match="requires `substitute`"):
        AcknowledgmentLine(line_number="1", status="substituted")
    AcknowledgmentLine(line_number="1", status="rejected")


def test_purchase_order_lines_required_unless_cancel() -> None:
    with pytest.raises(ValueError, match="needs lines"):
        PurchaseOrder(document_id="PO-1", supplier=ACME)
    cancel = PurchaseOrder(document_id="PO-1", purpose="cancel", supplier=ACME)
    assert decode_document(encode_document(cancel)) == cancel
    line = PurchaseOrderLine(line_number="1", item=BOLT, quantity=qty("1"))
    with pytest.raises(ValueError, match="duplicate line_number '1'"):
        PurchaseOrder(document_id="PO-1", supplier=ACME, lines=(line, line))
    priced = PurchaseOrderLine(line_number="1", item=BOLT, quantity=qty("1"), unit_price=usd("1"))
    with pytest.raises(
        ValueError,
        match=r"`currency` is required: the document has an amount at lines\[0\]\.unit_price",
    ):
        PurchaseOrder(document_id="PO-1", supplier=ACME, lines=(priced,))


def test_an_order_level_ship_notice_has_orders_without_packs_or_items() -> None:
    doc = decode(ship_notice_json(orders=[{"po_number": "PO-1"}, {"po_number": "PO-2"}]))
    assert isinstance(doc, ShipNotice)
    assert [(o.po_number, o.packs, o.items) for o in doc.orders] == [
        ("PO-1", (), ()),
        ("PO-2", (), ()),
    ]
    assert json.loads(encode_document(doc))["orders"] == [{"po_number": "PO-1"}, {"po_number": "PO-2"}]
    assert po_numbers(doc) == ("PO-1", "PO-2")


def _catalog_json(*lines: dict[str, object]) -> dict[str, object]:
    doc: dict[str, object] = json.loads(encode_document(samples()[5]))
    doc["lines"] = list(lines)
    return doc


def test_a_catalog_line_may_come_without_a_price() -> None:
    doc = decode(_catalog_json({"item": {"sku": "BOOK-1"}}, {"item": {"sku": "BOOK-2"},
                                                              "price_uom": "EA"}))
    assert isinstance(doc, PriceCatalog)
    assert [(line.unit_price, line.price_uom) for line in doc.lines] == [(None, None), (None, "EA")]
    assert decode_document(encode_document(doc)) == doc
    assert json.loads(encode_document(doc))["lines"][0] == {"item": {"sku": "BOOK-1"}}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        pytest.param(
            {"item": {"sku": "X"}, "unit_price": {"amount": "1", "currency": "USD"}},
            "`unit_price` needs its `price_uom` - at `$.lines[0]`",
            id="price-without-unit",
        ),
        pytest.param(
            {"item": {"sku": "X"}, "unit_price": {"amount": "-1", "currency": "USD"},
             "price_uom": "EA"},
            "`unit_price` must be >= 0, got -1 - at `$.lines[0]`",
            id="negative-price",
        ),
        pytest.param(
            {"item": {"sku": "X"}, "unit_price": {"amount": "1", "currency": "EUR"},
             "price_uom": "EA"},
            "lines[0].unit_price is in EUR, the document in USD",
            id="price-in-another-currency",
        ),
    ],
)
def test_a_catalog_price_needs_its_unit_and_stays_non_negative(
    line: dict[str, object], message: str
) -> None:
    with pytest.raises(msgspec.ValidationError) as info:
        decode(_catalog_json(line))
    assert str(info.value) == message


def test_date_ranges() -> None:
    with pytest.raises(ValueError, match="`period_end`"):
        RebateClaim(
            document_id="RB-1",
            supplier=ACME,
            currency="USD",
            agreement_id="AGR",
            period_start=date(2025, 3, 31),
            period_end=date(2025, 3, 1),
            lines=(RebateLine(item=BOLT, quantity=qty("1"), claimed_amount=usd("1")),),
        )


# --- typed decoding -------------------------------------------------------------------------


def test_typed_decode_may_omit_doc_type() -> None:
    body = ship_notice_json()
    del body["doc_type"]
    data = json.dumps(body).encode()
    doc = decode_document(data, doc_type="ship_notice")
    assert isinstance(doc, ShipNotice)
    assert doc == decode(MINIMAL_SHIP_NOTICE)
    with pytest.raises(msgspec.ValidationError, match="missing required field `doc_type`"):
        decode_document(data)


def test_typed_decode_rejects_other_tag() -> None:
    data = json.dumps(ship_notice_json(doc_type="invoice")).encode()
    with pytest.raises(msgspec.ValidationError) as info:
        decode_document(data, doc_type="ship_notice")
    assert str(info.value) == "Invalid value 'invoice' - at `$.doc_type`"


def test_unknown_doc_type_and_malformed_json() -> None:
    with pytest.raises(msgspec.ValidationError, match="Invalid value 'order'"):
        decode(ship_notice_json(doc_type="order"))
    with pytest.raises(msgspec.DecodeError):
        decode_document(b'{"doc_type": "ship_notice",')


# --- helpers --------------------------------------------------------------------------------


def test_document_key_and_po_numbers() -> None:
    by_type = {doc_type_of(doc): doc for doc in samples()}
    assert document_key(by_type["ship_notice"]) == "ship_notice:ASN-1001"
    assert document_key(by_type["purchase_order"]) == "purchase_order:PO-45001"
    referring: tuple[DocType, ...] = ("purchase_order", "acknowledgment", "ship_notice", "invoice")
    for tag in referring:
        assert po_numbers(by_type[tag]) == ("PO-45001",)
    assert po_numbers(by_type["return_authorization"]) == ("PO-45001",)
    others: tuple[DocType, ...] = (
        "inventory_advice",
        "price_catalog",
        "lead_time_change",
        "rebate_claim",
    )
    for tag in others:
        assert po_numbers(by_type[tag]) == ()


def test_po_numbers_of_multi_order_ship_notice() -> None:
    item = {"item": {"sku": "X"}, "quantity": {"value": "1", "uom": "EA"}}
    orders = [{"po_number": po, "items": [item]} for po in ("PO-2", "PO-1", "PO-2")]
    assert po_numbers(decode(ship_notice_json(orders=orders))) == ("PO-2", "PO-1")


def test_item_master() -> None:
    item = Item(
        sku="NW-10043",
        base_uom="EA",
        supplier_parts=(SupplierPart(supplier_id="ACME", part_number="AC-M8-N"),),
        uom_conversions=(UomConversion(uom="CS", factor=Decimal(100)),),
    )
    assert msgspec.json.decode(msgspec.json.encode(item), type=Item) == item
    assert item.factor("CS") == 100
    assert item.factor("EA") == 1
    assert item.factor("PK") is None
    with pytest.raises(ValueError, match="> 0"):
        UomConversion(uom="CS", factor=Decimal(0))
    with pytest.raises(ValueError, match="never the base_uom"):
        Item(sku="X", base_uom="EA", uom_conversions=(UomConversion(uom="EA", factor=Decimal(1)),))


def test_public_api() -> None:
    expected = {
        *(cls.__name__ for cls in DOCUMENT_CLASSES.values()),
        "DOCUMENT_CLASSES",
        "DOC_TYPES",
        "DocType",
        "Document",
        "decode_document",
        "encode_document",
        "doc_type_of",
        "document_key",
        "po_numbers",
        "json_schema",
        "schema_components",
    }
    assert expected <= set(wharf.model.__all__)
    assert len(set(wharf.model.__all__)) == len(wharf.model.__all__)
    for name in wharf.model.__all__:
        assert getattr(wharf.model, name) is not None


def test_documented_example_decodes() -> None:
    doc_path = Path(__file__).parents[2] / "docs" / "canonical-model.md"
    example = doc_path.read_text().split("```json\n", 1)[1].split("```", 1)[0]
    doc = decode_document(example.encode())
    assert document_key(doc) == "ship_notice:ASN-1001"
    assert decode_document(encode_document(doc)) == doc


def test_structs_are_keyword_only() -> None:
    with pytest.raises(TypeError, match="positional"):
        Quantity(Decimal(1), "EA")  # type: ignore[call-arg]
