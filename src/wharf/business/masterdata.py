"""Master data in SQLite: what documents are checked against, and who may change it.

Validation must never guess, so every lookup here either finds exactly one answer or says
why not: a supplier part number resolves through the supplier's own cross-reference, a GTIN
through the item that carries it, and a unit conversion only through a factor that is on file
(``convert`` refuses an unknown unit or a result that is not exact). Decimal throughout.

Each record is stored whole as canonical JSON next to the columns it is looked up by, so
reading it back is lossless. Upserts are idempotent (``unchanged`` when nothing differs) and
guarded by **attribute ownership**: an ``md_owners`` row says which system owns an attribute
(``item.description`` → ``erp``; ``item.*`` for every attribute of items). An upsert whose
``source`` is not the owner is refused with :class:`OwnershipError` if it would set or change
an owned attribute — the ERP stays authoritative for what it owns, whoever else writes.
The defaults give the ERP suppliers, items, prices and customer orders; warehouses are unowned.

An item upsert is the whole truth about the item: its unit conversions and supplier part
numbers replace the stored ones. A supplier part number or GTIN belongs to one item at a time.
Files are loaded by :mod:`wharf.business.masterfiles` (``MasterData.load_folder``).

Customer orders name purchase orders, so at rest (:mod:`wharf.business.vault`) their body is
sealed and they are found by the PO number's pseudonym (``po_key``); the rest of master data
(suppliers, items, prices, warehouses) is reference data kept in plain text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from wharf.business.masterfiles import LoadReport, load_folder
from wharf.business.records import (
    DEFAULT_OWNERS,
    Change,
    CustomerOrder,
    Entity,
    ItemCatalog,
    Location,
    MasterDataError,
    OwnershipError,
    OwnershipRule,
    PriceEntry,
    Warehouse,
)
from wharf.business.vault import Vault
from wharf.model import Item, ItemRef, Party, Supplier

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

    import aiosqlite

    from wharf.security.sealing import Sealer
    from wharf.storage import Database

__all__ = ("SCHEMA", "MasterData")

# --- the store ----------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS md_owners (
    entity TEXT NOT NULL, attribute TEXT NOT NULL, owner TEXT,
    PRIMARY KEY (entity, attribute)
);
CREATE TABLE IF NOT EXISTS md_suppliers (
    id TEXT PRIMARY KEY, edi_qualifier TEXT, edi_id TEXT, gln TEXT, duns TEXT,
    body TEXT NOT NULL, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS md_suppliers_edi ON md_suppliers (edi_qualifier, edi_id);
CREATE INDEX IF NOT EXISTS md_suppliers_gln ON md_suppliers (gln);
CREATE TABLE IF NOT EXISTS md_items (
    sku TEXT PRIMARY KEY, gtin TEXT, category TEXT,
    body TEXT NOT NULL, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS md_items_gtin ON md_items (gtin) WHERE gtin IS NOT NULL;
CREATE TABLE IF NOT EXISTS md_supplier_parts (
    supplier_id TEXT NOT NULL, part_number TEXT NOT NULL, sku TEXT NOT NULL,
    PRIMARY KEY (supplier_id, part_number)
);
CREATE INDEX IF NOT EXISTS md_supplier_parts_sku ON md_supplier_parts (sku);
CREATE TABLE IF NOT EXISTS md_prices (
    supplier_id TEXT NOT NULL, sku TEXT NOT NULL, valid_from TEXT NOT NULL,
    body TEXT NOT NULL, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (supplier_id, sku, valid_from)
);
CREATE TABLE IF NOT EXISTS md_warehouses (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS md_warehouse_parties (
    party TEXT PRIMARY KEY, warehouse_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS md_customer_orders (
    order_id TEXT NOT NULL, line TEXT NOT NULL, po_key TEXT NOT NULL, po_line TEXT,
    body BLOB NOT NULL, updated_by TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (order_id, line)
);
CREATE INDEX IF NOT EXISTS md_customer_orders_po ON md_customer_orders (po_key, po_line);
"""

_ENCODER = msgspec.json.Encoder(decimal_format="string")
_T = TypeVar("_T")


def _decode(body: str, type_: type[_T]) -> _T:
    return msgspec.json.decode(body, type=type_)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _one(conn: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> Any:
    async with conn.execute(sql, tuple(params)) as cursor:
        return await cursor.fetchone()


async def _all(conn: aiosqlite.Connection, sql: str, params: Iterable[Any]) -> list[Any]:
    async with conn.execute(sql, tuple(params)) as cursor:
        return list(await cursor.fetchall())


class MasterData:
    """Master data in Wharf's SQLite file (tables ``md_*``)."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self._db = db
        self._vault = vault

    @classmethod
    async def open(cls, db: Database, sealer: Sealer) -> MasterData:
        """Create the ``md_*`` tables if needed and seed the default ownership rules once;
        ``sealer`` keeps customer orders (which name POs) sealed."""
        await Vault.require_column(db, "md_customer_orders", "po_key")
        vault = await Vault.load(db, sealer)
        await db.migrate(SCHEMA)
        async with db.transaction() as conn:
            await conn.executemany(
                "INSERT OR IGNORE INTO md_owners (entity, attribute, owner) VALUES (?, ?, ?)",
                DEFAULT_OWNERS,
            )
        return cls(db, vault)

    # -- ownership --------------------------------------------------------------------------

    async def set_owner(self, entity: Entity, attribute: str, owner: str | None) -> None:
        """Declare who owns ``entity.attribute`` (``*`` for all; ``None`` for nobody)."""
        async with self._db.transaction() as conn:
            await self._set_owner(conn, OwnershipRule(entity=entity, attribute=attribute,
                                                      owner=owner))

    async def owners(self) -> list[OwnershipRule]:
        rows = await self._db.fetchall(
            "SELECT entity, attribute, owner FROM md_owners ORDER BY entity, attribute")
        return [OwnershipRule(entity=r[0], attribute=r[1], owner=r[2]) for r in rows]

    @staticmethod
    async def _set_owner(conn: aiosqlite.Connection, rule: OwnershipRule) -> None:
        await conn.execute(
            "INSERT INTO md_owners (entity, attribute, owner) VALUES (?, ?, ?) "
            "ON CONFLICT (entity, attribute) DO UPDATE SET owner = excluded.owner",
            (rule.entity, rule.attribute, rule.owner),
        )

    @staticmethod
    async def _check_owner(
        conn: aiosqlite.Connection, entity: Entity, key: str,
        old: Mapping[str, Any] | None, new: Mapping[str, Any], source: str,
    ) -> None:
        rules = {r[0]: r[1] for r in await _all(
            conn, "SELECT attribute, owner FROM md_owners WHERE entity = ?", (entity,))}
        for attribute in sorted({*new, *(old or {})}):
            value, before = new.get(attribute), None if old is None else old.get(attribute)
            if value == before or (old is None and value in (None, [], ())):
                continue
            owner = rules.get(attribute, rules.get("*"))
            if owner is not None and owner != source:
                raise OwnershipError(entity=entity, key=key, attribute=attribute, owner=owner,
                                     source=source)

    async def _put(
        self, conn: aiosqlite.Connection, entity: Entity, key: str, table: str,
        where: Mapping[str, Any], record: msgspec.Struct, extra: Mapping[str, Any], source: str,
    ) -> Change:
        """Write one record guarded by ownership; ``extra`` holds derived columns."""
        cond = " AND ".join(f"{column} = ?" for column in where)
        row = await _one(conn, f"SELECT body FROM {table} WHERE {cond}", where.values())
        body = _ENCODER.encode(record).decode()
        # Compare JSON views (lists, decimal strings) so equal records compare equal.
        new_view: dict[str, Any] = {**msgspec.json.decode(body), **extra}
        old_view: dict[str, Any] | None = None
        if row is not None:
            old_view = msgspec.json.decode(self._body(table, where.values(), row[0]))
            old_view.update(await self._extra_view(conn, entity, key))
        await self._check_owner(conn, entity, key, old_view, new_view, source)
        if old_view is not None and old_view == new_view:
            return "unchanged"
        stored: str | bytes = body
        if table in _SEALED:
            stored = self._vault.seal(body, table, *where.values(), "body")
        columns = {**where, **self._columns(record), **{k: v for k, v in extra.items()
                                                        if k in _COLUMNS[table]},
                   "body": stored, "updated_by": source, "updated_at": _now()}
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in where)
        await conn.execute(
            f"INSERT INTO {table} ({names}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join(where)}) DO UPDATE SET {updates}",
            tuple(columns.values()),
        )
        return "created" if row is None else "updated"

    def _body(self, table: str, key: Iterable[Any], body: object) -> str:
        """A stored body as JSON text, opened if ``table`` keeps bodies sealed."""
        if table in _SEALED:
            return self._vault.text(body, table, *key, "body")
        return str(body)

    def _columns(self, record: msgspec.Struct) -> dict[str, Any]:
        """Lookup columns derived from the record itself."""
        if isinstance(record, Supplier):
            return {"edi_qualifier": record.edi_qualifier, "edi_id": record.edi_id,
                    "gln": record.gln, "duns": record.duns}
        if isinstance(record, CustomerOrder):
            return {"po_key": self._vault.po(record.po_number)}
        return {}

    @staticmethod
    async def _extra_view(conn: aiosqlite.Connection, entity: Entity, key: str) -> dict[str, Any]:
        if entity == "item":  # the same derived columns ``_upsert_item`` passes as ``extra``
            row = await _one(conn, "SELECT category, gtin FROM md_items WHERE sku = ?", (key,))
            return {"category": row[0], "gtin": row[1]} if row else {"category": None, "gtin": None}
        return {}

    # -- upserts ----------------------------------------------------------------------------

    async def upsert_supplier(self, supplier: Supplier, *, source: str) -> Change:
        """Insert or update a supplier; ``source`` names the system writing (e.g. ``erp``)."""
        async with self._db.transaction() as conn:
            return await self._upsert_supplier(conn, supplier, source)

    async def _upsert_supplier(
        self, conn: aiosqlite.Connection, supplier: Supplier, source: str
    ) -> Change:
        return await self._put(conn, "supplier", supplier.id, "md_suppliers",
                               {"id": supplier.id}, supplier, {}, source)

    async def upsert_item(self, item: Item, *, category: str | None = None,
                          source: str) -> Change:
        """Insert or replace an item with its conversions and supplier part numbers.

        Raises :class:`MasterDataError` if one of its supplier part numbers or its GTIN
        belongs to another item, :class:`OwnershipError` if ``source`` may not write it.
        """
        async with self._db.transaction() as conn:
            return await self._upsert_item(conn, item, category, source)

    async def _upsert_item(
        self, conn: aiosqlite.Connection, item: Item, category: str | None, source: str
    ) -> Change:
        if item.gtin is not None:
            row = await _one(conn, "SELECT sku FROM md_items WHERE gtin = ? AND sku != ?",
                             (item.gtin, item.sku))
            if row is not None:
                raise MasterDataError(
                    f"item {item.sku}: GTIN {item.gtin} already belongs to item {row[0]}")
        for part in item.supplier_parts:
            row = await _one(
                conn, "SELECT sku FROM md_supplier_parts WHERE supplier_id = ? "
                "AND part_number = ? AND sku != ?", (part.supplier_id, part.part_number, item.sku))
            if row is not None:
                raise MasterDataError(
                    f"item {item.sku}: supplier part {part.supplier_id}/{part.part_number} "
                    f"already belongs to item {row[0]}")
        change = await self._put(conn, "item", item.sku, "md_items", {"sku": item.sku}, item,
                                 {"category": category, "gtin": item.gtin}, source)
        if change != "unchanged":
            await conn.execute("DELETE FROM md_supplier_parts WHERE sku = ?", (item.sku,))
            await conn.executemany(
                "INSERT INTO md_supplier_parts (supplier_id, part_number, sku) VALUES (?, ?, ?)",
                [(p.supplier_id, p.part_number, item.sku) for p in item.supplier_parts],
            )
        return change

    async def upsert_price(self, entry: PriceEntry, *, source: str) -> Change:
        """Insert or update one price-list entry (key: supplier, SKU, valid_from)."""
        async with self._db.transaction() as conn:
            return await self._upsert_price(conn, entry, source)

    async def _upsert_price(
        self, conn: aiosqlite.Connection, entry: PriceEntry, source: str
    ) -> Change:
        return await self._put(
            conn, "price", f"{entry.supplier_id}/{entry.sku}@{entry.valid_from}",
            "md_prices", {"supplier_id": entry.supplier_id, "sku": entry.sku,
                          "valid_from": entry.valid_from.isoformat()}, entry, {}, source)

    async def upsert_warehouse(self, warehouse: Warehouse, *, source: str) -> Change:
        """Insert or replace a warehouse; its ship-to ids and GLN must not name another one."""
        async with self._db.transaction() as conn:
            return await self._upsert_warehouse(conn, warehouse, source)

    async def _upsert_warehouse(
        self, conn: aiosqlite.Connection, warehouse: Warehouse, source: str
    ) -> Change:
        parties = [*warehouse.ship_to_ids, *([warehouse.gln] if warehouse.gln else [])]
        for party in parties:
            row = await _one(conn, "SELECT warehouse_id FROM md_warehouse_parties "
                             "WHERE party = ? AND warehouse_id != ?", (party, warehouse.id))
            if row is not None:
                raise MasterDataError(
                    f"warehouse {warehouse.id}: ship-to {party!r} already names warehouse {row[0]}")
        change = await self._put(conn, "warehouse", warehouse.id, "md_warehouses",
                                 {"id": warehouse.id}, warehouse, {}, source)
        if change != "unchanged":
            await conn.execute("DELETE FROM md_warehouse_parties WHERE warehouse_id = ?",
                               (warehouse.id,))
            await conn.executemany(
                "INSERT INTO md_warehouse_parties (party, warehouse_id) VALUES (?, ?)",
                [(party, warehouse.id) for party in dict.fromkeys(parties)],
            )
        return change

    async def upsert_customer_order(self, order: CustomerOrder, *, source: str) -> Change:
        """Insert or update an open customer order line (key: order id, line)."""
        async with self._db.transaction() as conn:
            return await self._upsert_customer_order(conn, order, source)

    async def _upsert_customer_order(
        self, conn: aiosqlite.Connection, order: CustomerOrder, source: str
    ) -> Change:
        return await self._put(
            conn, "customer_order", f"{order.order_id}/{order.line}", "md_customer_orders",
            {"order_id": order.order_id, "line": order.line}, order,
            {"po_number": order.po_number, "po_line": order.po_line}, source)

    async def load_folder(self, path: str | Path, *, source: str = "erp") -> LoadReport:
        """Load every master-data file in ``path`` in one transaction; see ``masterfiles``.

        Raises :class:`~wharf.business.masterfiles.MasterDataLoadError` listing every bad row
        (``file:row:column: message``); then nothing is written.
        """
        return await load_folder(self, self._db, path, source=source)

    # -- lookups ----------------------------------------------------------------------------

    async def supplier(self, supplier_id: str) -> Supplier | None:
        row = await self._db.fetchone("SELECT body FROM md_suppliers WHERE id = ?", (supplier_id,))
        return None if row is None else _decode(row[0], Supplier)

    async def supplier_by_edi(self, qualifier: str, edi_id: str) -> Supplier | None:
        """The supplier behind an EDI sender qualifier and id (ISA05/ISA06, UNB 0007/0004)."""
        row = await self._db.fetchone(
            "SELECT body FROM md_suppliers WHERE edi_qualifier = ? AND edi_id = ?",
            (qualifier, edi_id))
        return None if row is None else _decode(row[0], Supplier)

    async def item(self, sku: str) -> Item | None:
        row = await self._db.fetchone("SELECT body FROM md_items WHERE sku = ?", (sku,))
        return None if row is None else _decode(row[0], Item)

    async def category(self, sku: str) -> str | None:
        row = await self._db.fetchone("SELECT category FROM md_items WHERE sku = ?", (sku,))
        return None if row is None else row[0]

    async def item_by_gtin(self, gtin: str) -> Item | None:
        row = await self._db.fetchone("SELECT body FROM md_items WHERE gtin = ?", (gtin,))
        return None if row is None else _decode(row[0], Item)

    async def item_for_part(self, supplier_id: str, part_number: str) -> Item | None:
        """The item ``supplier_id`` calls ``part_number``; None if unknown (never a guess)."""
        row = await self._db.fetchone(
            "SELECT i.body FROM md_supplier_parts p JOIN md_items i ON i.sku = p.sku "
            "WHERE p.supplier_id = ? AND p.part_number = ?", (supplier_id, part_number))
        return None if row is None else _decode(row[0], Item)

    async def prices(self, supplier_id: str, sku: str) -> list[PriceEntry]:
        rows = await self._db.fetchall(
            "SELECT body FROM md_prices WHERE supplier_id = ? AND sku = ? ORDER BY valid_from",
            (supplier_id, sku))
        return [_decode(r[0], PriceEntry) for r in rows]

    async def price(self, supplier_id: str, sku: str, on: date) -> PriceEntry | None:
        """The supplier's price for ``sku`` valid on ``on`` (latest valid_from wins)."""
        return ItemCatalog(prices=await self.prices(supplier_id, sku)).price(supplier_id, sku, on)

    async def warehouse(self, warehouse_id: str) -> Warehouse | None:
        row = await self._db.fetchone("SELECT body FROM md_warehouses WHERE id = ?",
                                      (warehouse_id,))
        return None if row is None else _decode(row[0], Warehouse)

    async def warehouse_for(self, ship_to: Party) -> Warehouse | None:
        """The warehouse a document's ship-to names, by party id first, then GLN."""
        for party in (ship_to.id, ship_to.gln):
            if party is None:
                continue
            row = await self._db.fetchone(
                "SELECT w.body FROM md_warehouse_parties p JOIN md_warehouses w "
                "ON w.id = p.warehouse_id WHERE p.party = ?", (party,))
            if row is not None:
                return _decode(row[0], Warehouse)
        return None

    async def locate(self, warehouse: Warehouse, sku: str) -> Location:
        """Dock and zone for ``sku``: longest SKU prefix rule, else category, else default."""
        category = await self.category(sku)
        prefixed = [r for r in warehouse.zones if r.sku_prefix and sku.startswith(r.sku_prefix)]
        if prefixed:
            rule = max(prefixed, key=lambda r: len(r.sku_prefix or ""))
            return Location(warehouse_id=warehouse.id, zone=rule.zone, dock=rule.dock,
                            rule=f"sku_prefix:{rule.sku_prefix}")
        for rule in warehouse.zones:
            if category is not None and rule.category == category:
                return Location(warehouse_id=warehouse.id, zone=rule.zone, dock=rule.dock,
                                rule=f"category:{category}")
        for rule in warehouse.zones:
            if rule.sku_prefix is None and rule.category is None:
                return Location(warehouse_id=warehouse.id, zone=rule.zone, dock=rule.dock,
                                rule="default")
        return Location(warehouse_id=warehouse.id,
                        dock=warehouse.docks[0] if warehouse.docks else None)

    async def customer_orders(self, po_number: str, po_line: str | None = None
                              ) -> list[CustomerOrder]:
        """Open customer orders waiting for ``po_number`` (or one of its lines)."""
        key = self._vault.po(po_number)
        if po_line is None:
            rows = await self._db.fetchall(
                "SELECT order_id, line, body FROM md_customer_orders WHERE po_key = ? "
                "ORDER BY order_id, line", (key,))
        else:
            rows = await self._db.fetchall(
                "SELECT order_id, line, body FROM md_customer_orders WHERE po_key = ? "
                "AND po_line = ? ORDER BY order_id, line", (key, po_line))
        return [_decode(self._body("md_customer_orders", r[:2], r[2]), CustomerOrder)
                for r in rows]

    async def customer_orders_by_sku(self) -> dict[str, list[CustomerOrder]]:
        """Every open customer order line, by item, whatever PO it waits on (bodies are
        sealed, so the SKU cannot be searched in SQL: read them once per document)."""
        rows = await self._db.fetchall(
            "SELECT order_id, line, body FROM md_customer_orders ORDER BY order_id, line")
        by_sku: dict[str, list[CustomerOrder]] = {}
        for row in rows:
            order = _decode(self._body("md_customer_orders", row[:2], row[2]), CustomerOrder)
            by_sku.setdefault(order.sku, []).append(order)
        return by_sku

    async def catalog_for(self, refs: Iterable[ItemRef], supplier_id: str) -> ItemCatalog:
        """An :class:`ItemCatalog` with every item ``refs`` could name, and their prices."""
        skus: set[str] = set()
        for ref in refs:
            for candidate in (ref.sku, ref.buyer_part):
                if candidate is not None:
                    skus.add(candidate)
            if ref.supplier_part is not None:
                row = await self._db.fetchone(
                    "SELECT sku FROM md_supplier_parts WHERE supplier_id = ? AND part_number = ?",
                    (supplier_id, ref.supplier_part))
                if row is not None:
                    skus.add(row[0])
            if ref.gtin is not None:
                row = await self._db.fetchone("SELECT sku FROM md_items WHERE gtin = ?",
                                              (ref.gtin,))
                if row is not None:
                    skus.add(row[0])
        items = [item for sku in sorted(skus) if (item := await self.item(sku)) is not None]
        prices = [p for item in items for p in await self.prices(supplier_id, item.sku)]
        return ItemCatalog(items, prices)


_COLUMNS: Mapping[str, frozenset[str]] = {
    "md_suppliers": frozenset(),
    "md_items": frozenset({"category", "gtin"}),
    "md_prices": frozenset(),
    "md_warehouses": frozenset(),
    "md_customer_orders": frozenset({"po_line"}),
}
"""Columns of ``extra`` (see ``_put``) that are stored as they are."""
_SEALED = frozenset({"md_customer_orders"})
"""Tables whose bodies are sealed, bound to (table, key columns..., "body")."""
