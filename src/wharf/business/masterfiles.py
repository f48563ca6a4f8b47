"""Loading master data from a folder of CSV and JSON files, all or nothing.

The file's name says what it holds (``items.csv`` or ``items.json``; both may exist):

=================== ========================================================================
file                columns / members
=================== ========================================================================
ownership           entity, attribute (``*`` = all), owner (empty = nobody) — applied first
suppliers           id, name, edi_qualifier, edi_id, gln, duns
items               sku, gtin, description, base_uom, category (JSON may nest
                    ``uom_conversions`` [{uom, factor}] and ``supplier_parts``
                    [{supplier_id, part_number}])
uom_conversions     sku, uom, factor  (1 uom = factor × the item's base_uom)
supplier_parts      supplier_id, part_number, sku
prices              supplier_id, sku, unit_price, currency, price_uom, valid_from, valid_to
warehouses          id, name, gln, ship_to_ids, docks (CSV lists separated by ``;``;
                    JSON may nest ``zones``)
zone_rules          warehouse_id, zone, dock, sku_prefix, category
customer_orders     order_id, line, customer, sku, quantity, uom, promised_date, po_number,
                    po_line
=================== ========================================================================

A JSON file is an array of objects with the same members. Empty CSV cells mean "not given".
Decimals are read exactly (JSON numbers too). Conversions, supplier parts and zone rules for
a SKU or warehouse that is not in the folder are merged into the stored record.

Every bad row is reported as ``file:row:column: message``: for CSV, ``row`` is the line in
the file (the header is line 1); for JSON, the object's position in the array (from 1) and
``column`` its dotted path. If anything is wrong nothing is written — like a policy file, a
bad master-data drop never half-applies — and :class:`MasterDataLoadError` lists all of it.
Loading the same folder twice changes nothing the second time (every upsert is idempotent).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from wharf.business.records import (
    Change,
    CustomerOrder,
    Entity,
    MasterDataError,
    OwnershipRule,
    PriceEntry,
    Warehouse,
    ZoneRule,
)
from wharf.model import Item, Quantity, Supplier, SupplierPart, UomConversion
from wharf.model.common import Canonical, Gtin, NonEmptyStr, UomCode
from wharf.pointers import dotted, locate

if TYPE_CHECKING:
    from collections.abc import Iterator

    import aiosqlite

    from wharf.business.masterdata import MasterData
    from wharf.storage import Database

__all__ = ("LoadReport", "MasterDataLoadError", "Problem", "load_folder")


class Problem(msgspec.Struct, frozen=True):
    """One bad row: where (file, row, column) and what is wrong."""

    file: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}:{self.column or '-'}: {self.message}"


class MasterDataLoadError(MasterDataError):
    """Raised when a master-data folder has bad rows; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"master data not loaded: {len(problems)} problem(s)\n{lines}")
        self.problems = problems


class LoadReport(msgspec.Struct, frozen=True):
    """What a load changed: ``counts[entity][created|updated|unchanged]``."""

    counts: dict[str, dict[str, int]]

    def total(self, change: Change) -> int:
        return sum(by_change.get(change, 0) for by_change in self.counts.values())


# --- row shapes (flat, as in a CSV; JSON may nest where noted) -----------------------------


class _ItemRow(Canonical):
    sku: NonEmptyStr
    gtin: Gtin | None = None
    description: str | None = None
    base_uom: UomCode
    category: str | None = None
    uom_conversions: tuple[UomConversion, ...] = ()
    supplier_parts: tuple[SupplierPart, ...] = ()


class _ConversionRow(Canonical):
    sku: NonEmptyStr
    uom: UomCode
    factor: Decimal


class _PartRow(Canonical):
    supplier_id: NonEmptyStr
    part_number: NonEmptyStr
    sku: NonEmptyStr


class _WarehouseRow(Canonical):
    id: NonEmptyStr
    name: str | None = None
    gln: str | None = None
    ship_to_ids: tuple[NonEmptyStr, ...] = ()
    docks: tuple[NonEmptyStr, ...] = ()
    zones: tuple[ZoneRule, ...] = ()


class _ZoneRow(Canonical):
    warehouse_id: NonEmptyStr
    zone: NonEmptyStr
    dock: str | None = None
    sku_prefix: str | None = None
    category: str | None = None


class _OrderRow(Canonical):
    order_id: NonEmptyStr
    line: NonEmptyStr = "1"
    customer: NonEmptyStr
    sku: NonEmptyStr
    quantity: Decimal
    uom: UomCode
    promised_date: date
    po_number: NonEmptyStr
    po_line: str | None = None


_ROW_TYPES: dict[str, type[msgspec.Struct]] = {
    "ownership": OwnershipRule,
    "suppliers": Supplier,
    "items": _ItemRow,
    "uom_conversions": _ConversionRow,
    "supplier_parts": _PartRow,
    "prices": PriceEntry,
    "warehouses": _WarehouseRow,
    "zone_rules": _ZoneRow,
    "customer_orders": _OrderRow,
}
# CSV cells that hold a list (``a;b``).
_LIST_COLUMNS = frozenset({"ship_to_ids", "docks"})

_R = TypeVar("_R", bound=msgspec.Struct)


@dataclass
class _Parsed:
    """Rows read from the folder, each with its location, and the problems found so far."""

    rows: dict[str, list[tuple[Problem, Any]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def of(self, kind: str, type_: type[_R]) -> Iterator[tuple[Problem, _R]]:
        for where, row in self.rows.get(kind, ()):
            assert isinstance(row, type_)
            yield where, row


# --- reading ------------------------------------------------------------------------------


def _convert(raw: Any, type_: type[msgspec.Struct], where: Problem, parsed: _Parsed) -> None:
    try:
        row = msgspec.convert(raw, type_, strict=False)
    except msgspec.ValidationError as exc:
        located = locate(exc)
        parsed.problems.append(Problem(where.file, where.row, dotted(located.pointer),
                                       located.message))
        return
    parsed.rows.setdefault(Path(where.file).stem, []).append((where, row))


def _read_csv(path: Path, type_: type[msgspec.Struct], parsed: _Parsed) -> None:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for record in reader:
        where = Problem(path.name, reader.line_num, "", "")
        if None in record:
            parsed.problems.append(_at(where, "-", "row has more cells than the header"))
            continue
        raw: dict[str, Any] = {}
        for column, cell in record.items():
            value = (cell or "").strip()
            if not value:
                continue
            raw[column] = [v.strip() for v in value.split(";") if v.strip()] \
                if column in _LIST_COLUMNS else value
        _convert(raw, type_, where, parsed)


def _read_json(path: Path, type_: type[msgspec.Struct], parsed: _Parsed) -> None:
    try:
        raws = msgspec.json.decode(path.read_bytes(), type=list[msgspec.Raw])
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        parsed.problems.append(Problem(path.name, 0, "-",
                                       f"not a JSON array of objects: {exc}"))
        return
    decoder = msgspec.json.Decoder(type_)
    for index, raw in enumerate(raws, start=1):
        where = Problem(path.name, index, "", "")
        try:
            row = decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            located = locate(exc)
            parsed.problems.append(Problem(path.name, index, dotted(located.pointer),
                                           located.message))
            continue
        parsed.rows.setdefault(path.stem, []).append((where, row))


def _read_folder(folder: Path) -> _Parsed:
    parsed = _Parsed()
    if not folder.is_dir():
        parsed.problems.append(Problem(str(folder), 0, "-", "not a directory"))
        return parsed
    for path in sorted(folder.iterdir()):
        if path.suffix not in (".csv", ".json"):
            continue
        type_ = _ROW_TYPES.get(path.stem)
        if type_ is None:
            parsed.problems.append(Problem(
                path.name, 0, "-",
                f"unknown master-data file (expected one of: {', '.join(_ROW_TYPES)})"))
            continue
        (_read_csv if path.suffix == ".csv" else _read_json)(path, type_, parsed)
    return parsed


def _at(where: Problem, column: str, message: str) -> Problem:
    return Problem(where.file, where.row, column, message)


# --- assembling and writing ---------------------------------------------------------------


class _Writer:
    """Applies parsed rows through MasterData's guarded upserts inside one transaction.

    It calls MasterData's ``_upsert_*(conn, ...)`` forms: the same checks as the public
    upserts, on the load's own transaction (the public ones would each open another).
    """

    def __init__(self, master: MasterData, conn: aiosqlite.Connection, source: str,
                 parsed: _Parsed) -> None:
        self.master, self.conn, self.source, self.parsed = master, conn, source, parsed
        self.counts: dict[str, dict[str, int]] = {}

    def count(self, entity: Entity, change: Change) -> None:
        by_change = self.counts.setdefault(entity, {})
        by_change[change] = by_change.get(change, 0) + 1

    async def apply(self, where: Problem, entity: Entity, column: str, write: Any) -> None:
        try:
            self.count(entity, await write)
        except MasterDataError as exc:
            self.parsed.problems.append(_at(where, column, str(exc)))

    async def stored_item(self, sku: str) -> tuple[Item, str | None] | None:
        async with self.conn.execute("SELECT body, category FROM md_items WHERE sku = ?",
                                     (sku,)) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return msgspec.json.decode(row[0], type=Item), row[1]

    async def exists(self, table: str, column: str, value: str) -> bool:
        async with self.conn.execute(f"SELECT 1 FROM {table} WHERE {column} = ?",
                                     (value,)) as cursor:
            return await cursor.fetchone() is not None


async def _write_items(w: _Writer) -> set[str]:
    p = w.parsed
    rows = {row.sku: (where, row) for where, row in p.of("items", _ItemRow)}
    conversions: dict[str, dict[str, UomConversion]] = {}
    parts: dict[str, dict[tuple[str, str], SupplierPart]] = {}
    origin: dict[str, Problem] = {}
    for where, conv in p.of("uom_conversions", _ConversionRow):
        try:
            conversion = UomConversion(uom=conv.uom, factor=conv.factor)
        except ValueError as exc:
            p.problems.append(_at(where, "factor", str(exc)))
            continue
        conversions.setdefault(conv.sku, {})[conv.uom] = conversion
        origin.setdefault(conv.sku, where)
    for where, part in p.of("supplier_parts", _PartRow):
        key = (part.supplier_id, part.part_number)
        parts.setdefault(part.sku, {})[key] = SupplierPart(supplier_id=part.supplier_id,
                                                           part_number=part.part_number)
        origin.setdefault(part.sku, where)
    skus: set[str] = set()
    for sku in [*rows, *(s for s in {*conversions, *parts} if s not in rows)]:
        if sku in rows:
            where, row = rows[sku]
            base = Item(sku=row.sku, gtin=row.gtin, description=row.description,
                        base_uom=row.base_uom, uom_conversions=row.uom_conversions,
                        supplier_parts=row.supplier_parts)
            category = row.category
        else:
            where = origin[sku]
            stored = await w.stored_item(sku)
            if stored is None:
                p.problems.append(_at(where, "sku", f"unknown SKU {sku!r}: not in items "
                                                    "and not in master data"))
                continue
            base, category = stored
        merged_conv = {c.uom: c for c in base.uom_conversions} | conversions.get(sku, {})
        merged_parts = {(s.supplier_id, s.part_number): s for s in base.supplier_parts} \
            | parts.get(sku, {})
        try:
            item = msgspec.structs.replace(base, uom_conversions=tuple(merged_conv.values()),
                                           supplier_parts=tuple(merged_parts.values()))
            Item.__post_init__(item)
        except ValueError as exc:
            p.problems.append(_at(where, "uom", f"item {sku}: {exc}"))
            continue
        skus.add(sku)
        await w.apply(where, "item", "sku",
                      w.master._upsert_item(w.conn, item, category, w.source))
    return skus


async def _write_warehouses(w: _Writer) -> None:
    p = w.parsed
    rows = {row.id: (where, row) for where, row in p.of("warehouses", _WarehouseRow)}
    extra: dict[str, list[tuple[Problem, ZoneRule]]] = {}
    for where, zone in p.of("zone_rules", _ZoneRow):
        try:
            rule = ZoneRule(zone=zone.zone, dock=zone.dock, sku_prefix=zone.sku_prefix,
                            category=zone.category)
        except ValueError as exc:
            p.problems.append(_at(where, "category", str(exc)))
            continue
        extra.setdefault(zone.warehouse_id, []).append((where, rule))
    for wid in [*rows, *(x for x in extra if x not in rows)]:
        if wid in rows:
            where, row = rows[wid]
            base = Warehouse(id=row.id, name=row.name, gln=row.gln, ship_to_ids=row.ship_to_ids,
                             docks=row.docks, zones=row.zones)
        else:
            where = extra[wid][0][0]
            stored = await w.master.warehouse(wid)
            if stored is None:
                p.problems.append(_at(where, "warehouse_id", f"unknown warehouse {wid!r}"))
                continue
            base = stored
        zones = list(base.zones)
        for rule_at, rule in extra.get(wid, ()):
            if rule.dock is not None and rule.dock not in base.docks:
                p.problems.append(_at(rule_at, "dock", f"warehouse {wid} has no dock "
                                                       f"{rule.dock!r} (docks: "
                                                       f"{', '.join(base.docks) or 'none'})"))
            elif rule not in zones:
                zones.append(rule)
        try:
            warehouse = Warehouse(id=base.id, name=base.name, gln=base.gln,
                                  ship_to_ids=base.ship_to_ids, docks=base.docks,
                                  zones=tuple(zones))
        except ValueError as exc:
            p.problems.append(_at(where, "dock", f"warehouse {wid}: {exc}"))
            continue
        await w.apply(where, "warehouse", "id",
                      w.master._upsert_warehouse(w.conn, warehouse, w.source))


async def _apply(w: _Writer) -> None:
    p = w.parsed
    for _, rule in p.of("ownership", OwnershipRule):
        await w.master._set_owner(w.conn, rule)
    suppliers = set()
    for where, supplier in p.of("suppliers", Supplier):
        suppliers.add(supplier.id)
        await w.apply(where, "supplier", "id",
                      w.master._upsert_supplier(w.conn, supplier, w.source))
    skus = await _write_items(w)
    await _write_warehouses(w)

    async def known_sku(sku: str) -> bool:
        return sku in skus or await w.exists("md_items", "sku", sku)

    for where, price in p.of("prices", PriceEntry):
        if not (price.supplier_id in suppliers
                or await w.exists("md_suppliers", "id", price.supplier_id)):
            p.problems.append(_at(where, "supplier_id", f"unknown supplier {price.supplier_id!r}"))
        elif not await known_sku(price.sku):
            p.problems.append(_at(where, "sku", f"unknown SKU {price.sku!r}"))
        else:
            await w.apply(where, "price", "unit_price",
                          w.master._upsert_price(w.conn, price, w.source))
    for where, row in p.of("customer_orders", _OrderRow):
        if not await known_sku(row.sku):
            p.problems.append(_at(where, "sku", f"unknown SKU {row.sku!r}"))
            continue
        order = CustomerOrder(
            order_id=row.order_id, line=row.line, customer=row.customer, sku=row.sku,
            quantity=Quantity(value=row.quantity, uom=row.uom), promised_date=row.promised_date,
            po_number=row.po_number, po_line=row.po_line)
        await w.apply(where, "customer_order", "order_id",
                      w.master._upsert_customer_order(w.conn, order, w.source))


class _Rollback(Exception):
    """Leaves the load's transaction so that nothing of a bad folder is written."""


async def load_folder(master: MasterData, db: Database, folder: str | Path, *,
                      source: str = "erp") -> LoadReport:
    """Load ``folder`` into ``master`` (see the module docstring); all or nothing."""
    parsed = _read_folder(Path(folder))
    if parsed.problems:
        raise MasterDataLoadError(parsed.problems)
    writer: _Writer | None = None
    try:
        async with db.transaction() as conn:
            writer = _Writer(master, conn, source, parsed)
            await _apply(writer)
            if parsed.problems:
                raise _Rollback
    except _Rollback:
        raise MasterDataLoadError(parsed.problems) from None
    return LoadReport(counts=writer.counts)
