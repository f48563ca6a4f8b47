"""Master data: loading the demo folder, lookups, exact conversions, ownership, bad rows."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from wharf.business import (
    ConversionError,
    MasterData,
    MasterDataError,
    MasterDataLoadError,
    OwnershipError,
    PriceEntry,
    Warehouse,
    ZoneRule,
    convert,
)
from wharf.model import Item, ItemRef, Party, Supplier, SupplierPart, UomConversion
from wharf.storage import Database

from .fixtures.documents import MASTERDATA
from .fixtures.keys import SEALER

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "wharf.db")
    try:
        yield database
    finally:
        await database.aclose()


@pytest.fixture
async def master(db: Database) -> MasterData:
    store = await MasterData.open(db, SEALER)
    await store.load_folder(MASTERDATA)
    return store


async def test_demo_folder_loads_and_reloading_changes_nothing(db: Database) -> None:
    store = await MasterData.open(db, SEALER)
    first = await store.load_folder(MASTERDATA)
    assert first.counts["item"] == {"created": 20}
    assert first.counts["supplier"] == {"created": 2}
    assert first.total("created") == 51
    second = await store.load_folder(MASTERDATA)
    assert second.total("created") == second.total("updated") == 0
    assert second.total("unchanged") == 51


async def test_lookup_by_supplier_part_gtin_and_edi_id(master: MasterData) -> None:
    bolt = await master.item_for_part("acme", "HX-100")
    assert bolt is not None and bolt.sku == "FST-1001"
    assert bolt.factor("CS") == Decimal(12)
    # A part number is the supplier's own: globex does not call anything HX-100.
    assert await master.item_for_part("globex", "HX-100") is None
    assert bolt.gtin is not None
    by_gtin = await master.item_by_gtin(bolt.gtin)
    assert by_gtin is not None and by_gtin.sku == "FST-1001"
    supplier = await master.supplier_by_edi("ZZ", "ACMEFAST")
    assert supplier is not None and supplier.id == "acme"


async def test_catalog_resolves_references_without_guessing(master: MasterData) -> None:
    refs = [ItemRef(supplier_part="HX-100"), ItemRef(supplier_part="NOPE-1"),
            ItemRef(sku="TL-2001", supplier_part="HX-100")]
    catalog = await master.catalog_for(refs, "acme")
    found = catalog.resolve(refs[0], "acme")
    assert found.item is not None and found.item.sku == "FST-1001" and found.via == "supplier_part"
    assert catalog.resolve(refs[1], "acme").item is None
    conflict = catalog.resolve(refs[2], "acme")
    assert conflict.item is None and conflict.conflict == ("FST-1001", "TL-2001")
    listed = catalog.price("acme", "FST-1001", date(2026, 11, 2))
    assert listed is not None and listed.unit_price == Decimal("0.42")


async def test_price_list_validity_windows(master: MasterData) -> None:
    old = await master.price("acme", "FST-1001", date(2026, 6, 30))
    new = await master.price("acme", "FST-1001", date(2026, 7, 1))
    assert old is not None and old.unit_price == Decimal("0.40")
    assert new is not None and new.unit_price == Decimal("0.42")
    assert await master.price("acme", "FST-1001", date(2025, 12, 31)) is None


def test_convert_cases_to_eaches_exactly() -> None:
    item = Item(sku="FST-1001", base_uom="EA",
                uom_conversions=(UomConversion(uom="CS", factor=Decimal(12)),
                                 UomConversion(uom="PL", factor=Decimal(576))))
    assert convert(Decimal(3), "CS", "EA", item) == Decimal(36)
    assert convert(Decimal(30), "EA", "CS", item) == Decimal("2.5")
    assert convert(Decimal(2), "PL", "CS", item) == Decimal(96)
    assert convert(Decimal("1.5"), "CS", "CS", item) == Decimal("1.5")
    with pytest.raises(ConversionError, match=r"5 EA .* not an exact quantity of CS"):
        convert(Decimal(5), "EA", "CS", item)
    with pytest.raises(ConversionError, match=r"no conversion for BX \(known: EA, CS, PL\)"):
        convert(Decimal(1), "BX", "EA", item)


async def test_warehouse_dock_and_zone_rules(master: MasterData) -> None:
    east = await master.warehouse_for(Party(id="0010"))
    assert east is not None and east.id == "DC-EAST"
    by_gln = await master.warehouse_for(Party(gln=east.gln))
    assert by_gln is not None and by_gln.id == "DC-EAST"
    hazmat = await master.locate(east, "CH-4001")
    assert (hazmat.zone, hazmat.dock, hazmat.rule) == ("HAZ", "D3", "sku_prefix:CH-")
    bulky = await master.locate(east, "BLK-5001")
    assert (bulky.zone, bulky.dock) == ("BULK", "D2")
    other = await master.locate(east, "EL-3001")
    assert (other.zone, other.rule) == ("RESERVE", "default")
    orders = await master.customer_orders("PO-1", "1")
    assert [(o.order_id, o.quantity.value) for o in orders] == [("SO-5001", Decimal(24)), ("SO-5002", Decimal(120))]


async def test_erp_owned_attribute_refused_from_another_system(master: MasterData) -> None:
    bolt = await master.item("FST-1001")
    assert bolt is not None
    changed = Item(sku=bolt.sku, gtin=bolt.gtin, description="Bolt (renamed by PIM)",
                   base_uom=bolt.base_uom, supplier_parts=bolt.supplier_parts,
                   uom_conversions=bolt.uom_conversions)
    with pytest.raises(OwnershipError, match=r"item 'FST-1001': attribute `description` is "
                                             r"owned by 'erp'; 'pim' may not"):
        await master.upsert_item(changed, category="fasteners", source="pim")
    # The same values from a non-owner change nothing and are accepted.
    assert await master.upsert_item(bolt, category="fasteners", source="pim") == "unchanged"
    assert await master.upsert_item(changed, category="fasteners", source="erp") == "updated"
    stored = await master.item("FST-1001")
    assert stored is not None and stored.description == "Bolt (renamed by PIM)"
    # Handing the attribute to the PIM lets it write exactly that attribute.
    await master.set_owner("item", "description", "pim")
    again = Item(sku=bolt.sku, gtin=bolt.gtin, description="Hex bolt", base_uom="EA",
                 supplier_parts=bolt.supplier_parts, uom_conversions=bolt.uom_conversions)
    assert await master.upsert_item(again, category="fasteners", source="pim") == "updated"
    with pytest.raises(OwnershipError, match="`category`"):
        await master.upsert_item(again, category="tools", source="pim")


async def test_unowned_entity_and_new_records(master: MasterData) -> None:
    # Nobody owns warehouses in the demo; a new supplier from a non-owner is refused.
    dock = Warehouse(id="DC-NORTH", ship_to_ids=("0030",), docks=("N1",),
                     zones=(ZoneRule(zone="ALL", dock="N1"),))
    assert await master.upsert_warehouse(dock, source="wms") == "created"
    with pytest.raises(OwnershipError, match="supplier 'initech'"):
        await master.upsert_supplier(Supplier(id="initech", name="Initech"), source="crm")
    price = PriceEntry(supplier_id="acme", sku="FST-1001", unit_price=Decimal("0.45"),
                       currency="USD", price_uom="EA", valid_from=date(2027, 1, 1))
    assert await master.upsert_price(price, source="erp") == "created"
    assert await master.upsert_price(price, source="erp") == "unchanged"


async def test_part_number_and_ship_to_belong_to_one_record(master: MasterData) -> None:
    thief = Item(sku="NEW-1", base_uom="EA",
                 supplier_parts=(SupplierPart(supplier_id="acme", part_number="HX-100"),))
    with pytest.raises(MasterDataError, match="HX-100 already belongs to item FST-1001"):
        await master.upsert_item(thief, source="erp")
    with pytest.raises(MasterDataError, match="'0010' already names warehouse DC-EAST"):
        await master.upsert_warehouse(Warehouse(id="DC-X", ship_to_ids=("0010",)), source="x")


async def test_bad_rows_are_all_reported_and_nothing_is_written(
    db: Database, tmp_path: Path
) -> None:
    folder = tmp_path / "drop"
    shutil.copytree(MASTERDATA, folder)
    with (folder / "items.csv").open("a") as f:
        f.write("BAD-1,12345,Broken gtin,EA,tools\n")          # line 22: gtin pattern
        f.write("BAD-2,,No unit,,tools\n")                     # line 23: base_uom missing
    with (folder / "prices.csv").open("a") as f:
        f.write("acme,FST-1001,abc,USD,EA,2027-01-01,\n")      # line 24: not a decimal
        f.write("acme,GHOST-1,1.00,USD,EA,2027-01-01,\n")      # line 25: unknown sku
    (folder / "zone_rules.json").write_text('[{"warehouse_id": "DC-EAST", "zone": "X", '
                                            '"dock": "D9"}]')
    store = await MasterData.open(db, SEALER)
    with pytest.raises(MasterDataLoadError) as caught:
        await store.load_folder(folder)
    found = {str(p).split(": ", 1)[0] for p in caught.value.problems}
    assert {"items.csv:22:gtin", "items.csv:23:base_uom", "prices.csv:24:unit_price"} <= found
    # Syntax is checked first; fix those and the cross-reference problems come out.
    lines = (folder / "items.csv").read_text().splitlines()[:-2]
    (folder / "items.csv").write_text("\n".join(lines) + "\n")
    lines = (folder / "prices.csv").read_text().splitlines()
    (folder / "prices.csv").write_text("\n".join(lines[:-2] + lines[-1:]) + "\n")
    with pytest.raises(MasterDataLoadError) as caught:
        await store.load_folder(folder)
    messages = [str(p) for p in caught.value.problems]
    assert "prices.csv:24:sku: unknown SKU 'GHOST-1'" in messages
    assert "zone_rules.json:1:dock: warehouse DC-EAST has no dock 'D9' (docks: D1, D2, D3)" \
        in messages
    # All or nothing: the good rows of the bad folder were not written either.
    assert await store.item("FST-1001") is None
    assert await store.supplier("acme") is None
