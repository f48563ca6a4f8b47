"""Per-supplier item-identifier overrides ("this supplier sends its part number in PO107")."""

from __future__ import annotations

from pathlib import Path

import pytest

from wharf.codecs.x12 import ItemOverrides, X12Codec
from wharf.model import Invoice, PurchaseOrder, ShipNotice

FIXTURES = Path(__file__).parent / "fixtures" / "x12"
PO = (FIXTURES / "850_tilde_crlf_bom_indented.edi").read_bytes()


def _first_line_item(codec: X12Codec, body: bytes = PO) -> tuple[str | None, ...]:
    (po,) = codec.decode(body).documents
    assert isinstance(po, PurchaseOrder)
    item = po.lines[0].item
    return item.buyer_part, item.supplier_part, item.gtin, item.sku


def test_without_overrides_qualifiers_decide() -> None:
    # PO1*1*600*EA*0.12*PE*BP*NW-10042*VP*AC-M8-50*UP*061414100041
    assert _first_line_item(X12Codec()) == ("NW-10042", "AC-M8-50", "061414100041", None)


def test_an_override_wins_over_the_qualifier_and_frees_its_element() -> None:
    # This supplier's "BP" in PO107 is in fact its own part number.
    codec = X12Codec({"item.supplier_part": "PO107"})
    assert _first_line_item(codec) == (None, "NW-10042", "061414100041", None)


def test_several_segments_and_targets() -> None:
    codec = X12Codec({"item.sku": "PO109, IT109", "item.buyer_part": "LIN03"})
    assert _first_line_item(codec) == ("NW-10042", None, "061414100041", "AC-M8-50")
    (invoice, _) = codec.decode(
        (FIXTURES / "810_implied_decimals_two_invoices.edi").read_bytes()).documents
    assert isinstance(invoice, Invoice)
    assert invoice.lines[0].item.sku == "022108955228"
    (notice,) = codec.decode((FIXTURES / "856_sotpi_two_orders.edi").read_bytes()).documents
    assert isinstance(notice, ShipNotice)
    item = notice.orders[0].packs[0].items[0].item
    assert (item.buyer_part, item.supplier_part) == ("NW-10042", "AC-M8-50")


def test_an_empty_override_element_falls_back_to_the_qualifiers() -> None:
    codec = X12Codec({"item.sku": "PO125"})
    assert _first_line_item(codec) == ("NW-10042", "AC-M8-50", "061414100041", None)


def test_an_overridden_gtin_must_still_be_a_gtin() -> None:
    decoded = X12Codec({"item.gtin": "PO109"}).decode(PO)
    (error,) = decoded.errors
    assert (error.pointer, error.segment_id, error.code) == ("/segments/12", "PO1", "7")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"item.colour": "PO107"}, "unknown key 'item.colour'"),
        ({"supplier_part": "PO107"}, "unknown key 'supplier_part'"),
        ({"item.sku": ""}, "'item.sku' needs an element reference"),
        ({"item.sku": "PO105"}, "'item.sku': 'PO105' is not an item identifier element"),
        ({"item.sku": "BEG03"}, "'item.sku': 'BEG03' is not an item identifier element"),
        ({"item.sku": "LIN1"}, "'item.sku': 'LIN1' is not an item identifier element"),
        ({"item.sku": "PO107", "item.gtin": "po107"}, "'item.gtin': PO107 is already claimed"),
    ],
)
def test_bad_overrides_are_refused_at_construction(
    overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match="x12 overrides") as caught:
        X12Codec(overrides)
    assert message in str(caught.value)


def test_parsed_overrides_by_segment() -> None:
    parsed = ItemOverrides.parse({"item.supplier_part": "PO107,IT107", "item.gtin": "LIN05"})
    assert parsed.for_segment("PO1") == (("supplier_part", 7),)
    assert parsed.for_segment("IT1") == (("supplier_part", 7),)
    assert parsed.for_segment("LIN") == (("gtin", 5),)
    assert parsed.for_segment("ACK") == ()
