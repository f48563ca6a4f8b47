"""Master-data records, the errors about them, exact unit conversion, and the item catalog.

The records are what :class:`~wharf.business.masterdata.MasterData` stores and loads:
price-list entries, warehouses with dock/zone rules, open customer orders that wait for a
PO line, and attribute-ownership rules. :class:`ItemCatalog` is the in-memory read model
that synchronous validation resolves item references with, and :func:`convert` the one
place units are converted: exactly, from factors on file, or not at all.
"""

from __future__ import annotations

import decimal
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import msgspec

from wharf.errors import WharfError
from wharf.model import Item, ItemRef, Quantity
from wharf.model.common import (
    Canonical,
    CurrencyCode,
    NonEmptyStr,
    UomCode,
    check_date_range,
    check_decimal,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = (
    "DEFAULT_OWNERS",
    "Change",
    "ConversionError",
    "CustomerOrder",
    "Entity",
    "ItemCatalog",
    "ItemMatch",
    "Location",
    "MasterDataError",
    "OwnershipError",
    "OwnershipRule",
    "PriceEntry",
    "Warehouse",
    "ZoneRule",
    "convert",
)

Entity = Literal["supplier", "item", "price", "warehouse", "customer_order"]
Change = Literal["created", "updated", "unchanged"]

DEFAULT_OWNERS: tuple[tuple[Entity, str, str | None], ...] = (
    ("supplier", "*", "erp"),
    ("item", "*", "erp"),
    ("price", "*", "erp"),
    ("customer_order", "*", "erp"),
)
"""(entity, attribute, owner) rules a new database starts with; ``*`` covers every attribute."""


# --- errors -------------------------------------------------------------------------------


class MasterDataError(WharfError):
    """Raised when master data is missing, inconsistent, or may not be written."""


class OwnershipError(MasterDataError):
    """Raised when a system that does not own an attribute tries to set or change it."""

    def __init__(self, *, entity: str, key: str, attribute: str, owner: str, source: str) -> None:
        super().__init__(
            f"{entity} {key!r}: attribute `{attribute}` is owned by {owner!r}; "
            f"{source!r} may not set or change it"
        )
        self.entity, self.key, self.attribute = entity, key, attribute
        self.owner, self.source = owner, source


class ConversionError(MasterDataError):
    """Raised when a quantity cannot be converted exactly between two units of an item."""

    def __init__(self, message: str, *, sku: str, from_uom: str, to_uom: str) -> None:
        super().__init__(message)
        self.sku, self.from_uom, self.to_uom = sku, from_uom, to_uom


# --- records ------------------------------------------------------------------------------


class PriceEntry(Canonical):
    """A supplier's agreed price for an item per ``price_uom``, valid from/to (inclusive)."""

    supplier_id: NonEmptyStr
    sku: NonEmptyStr
    unit_price: Decimal
    currency: CurrencyCode
    price_uom: UomCode
    valid_from: date
    valid_to: date | None = None

    def __post_init__(self) -> None:
        check_decimal(self.unit_price, "unit_price", non_negative=True)
        check_date_range(self.valid_from, self.valid_to, ("valid_from", "valid_to"))

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class ZoneRule(Canonical):
    """Put items in ``zone`` (received at ``dock``) by SKU prefix, by category, or by default."""

    zone: NonEmptyStr
    dock: str | None = None
    sku_prefix: str | None = None
    category: str | None = None

    def __post_init__(self) -> None:
        if self.sku_prefix and self.category:
            raise ValueError("a zone rule matches a sku_prefix or a category, not both")


class Warehouse(Canonical):
    """A receiving location: the ship-to ids and GLN documents name it by, docks, zone rules."""

    id: NonEmptyStr
    name: str | None = None
    gln: str | None = None
    ship_to_ids: tuple[NonEmptyStr, ...] = ()
    docks: tuple[NonEmptyStr, ...] = ()
    zones: tuple[ZoneRule, ...] = ()

    def __post_init__(self) -> None:
        for index, rule in enumerate(self.zones):
            if rule.dock is not None and rule.dock not in self.docks:
                raise ValueError(f"zones[{index}].dock {rule.dock!r} is not one of docks")


class CustomerOrder(Canonical):
    """An open customer order line that waits for a purchase order line."""

    order_id: NonEmptyStr
    line: NonEmptyStr = "1"
    customer: NonEmptyStr
    sku: NonEmptyStr
    quantity: Quantity
    promised_date: date
    po_number: NonEmptyStr
    po_line: str | None = None


class OwnershipRule(Canonical):
    """``owner`` (None: nobody) owns ``attribute`` (``*``: all) of ``entity``."""

    entity: Entity
    attribute: NonEmptyStr
    owner: str | None = None


class Location(Canonical):
    """Where an item is received in a warehouse, and which rule said so."""

    warehouse_id: str
    zone: str | None = None
    dock: str | None = None
    rule: str = "none"


class ItemMatch(msgspec.Struct, frozen=True, kw_only=True):
    """The item an ``ItemRef`` resolves to (``via`` which identifier), or why it does not.

    ``conflict`` lists the SKUs when the reference's identifiers name different items.
    """

    item: Item | None = None
    via: str | None = None
    conflict: tuple[str, ...] = ()


# --- conversions --------------------------------------------------------------------------

# Enough digits for any real quantity times any factor; Inexact is trapped, so never rounds.
_EXACT = decimal.Context(prec=60, traps=[decimal.Inexact, decimal.InvalidOperation,
                                         decimal.DivisionByZero, decimal.Overflow])


def convert(qty: Decimal, from_uom: str, to_uom: str, item: Item) -> Decimal:
    """``qty`` in ``from_uom`` expressed in ``to_uom`` for ``item``, exactly.

    Raises :class:`ConversionError` if the item has no factor for either unit (never guesses
    one) or if the result is not an exact decimal (5 EA is not a whole number of 12-EA cases:
    0.41666… is refused rather than rounded).
    """
    if from_uom == to_uom:
        return qty
    missing = [uom for uom in (from_uom, to_uom) if item.factor(uom) is None]
    if missing:
        known = ", ".join([item.base_uom, *(c.uom for c in item.uom_conversions)])
        raise ConversionError(
            f"item {item.sku} has no conversion for {' and '.join(missing)} (known: {known})",
            sku=item.sku, from_uom=from_uom, to_uom=to_uom,
        )
    from_factor, to_factor = item.factor(from_uom), item.factor(to_uom)
    assert from_factor is not None and to_factor is not None
    try:
        return _EXACT.divide(_EXACT.multiply(qty, from_factor), to_factor)
    except decimal.Inexact:
        raise ConversionError(
            f"{qty} {from_uom} of item {item.sku} is not an exact quantity of {to_uom} "
            f"(1 {from_uom} = {from_factor} {item.base_uom}, 1 {to_uom} = {to_factor} "
            f"{item.base_uom})",
            sku=item.sku, from_uom=from_uom, to_uom=to_uom,
        ) from None


# --- an in-memory read model for synchronous validation -----------------------------------


class ItemCatalog:
    """The items (and supplier prices) one document needs, indexed for synchronous lookups."""

    def __init__(self, items: Iterable[Item] = (), prices: Iterable[PriceEntry] = ()) -> None:
        self._items: dict[str, Item] = {}
        self._parts: dict[tuple[str, str], str] = {}
        self._gtins: dict[str, str] = {}
        self._prices: dict[tuple[str, str], list[PriceEntry]] = {}
        for item in items:
            self._items[item.sku] = item
            if item.gtin:
                self._gtins[item.gtin] = item.sku
            for part in item.supplier_parts:
                self._parts[(part.supplier_id, part.part_number)] = item.sku
        for entry in prices:
            self._prices.setdefault((entry.supplier_id, entry.sku), []).append(entry)

    def item(self, sku: str) -> Item | None:
        return self._items.get(sku)

    def resolve(self, ref: ItemRef, supplier: str) -> ItemMatch:
        """The item ``ref`` names for ``supplier``: by supplier part, GTIN, then SKU/buyer part.

        Every identifier the reference carries must agree; identifiers that resolve to
        nothing are ignored only if another one resolves (a GTIN we do not know next to a
        known supplier part number is not a reason to refuse the line).
        """
        found: dict[str, str] = {}
        if ref.supplier_part is not None:
            sku = self._parts.get((supplier, ref.supplier_part))
            if sku is not None:
                found.setdefault(sku, "supplier_part")
        if ref.gtin is not None and ref.gtin in self._gtins:
            found.setdefault(self._gtins[ref.gtin], "gtin")
        for via, value in (("sku", ref.sku), ("buyer_part", ref.buyer_part)):
            if value is not None and value in self._items:
                found.setdefault(value, via)
        if len(found) > 1:
            return ItemMatch(conflict=tuple(sorted(found)))
        if not found:
            return ItemMatch()
        sku, via = next(iter(found.items()))
        return ItemMatch(item=self._items[sku], via=via)

    def price(self, supplier: str, sku: str, on: date) -> PriceEntry | None:
        """The price valid on ``on``: of those, the one with the latest ``valid_from``."""
        valid = [e for e in self._prices.get((supplier, sku), ()) if e.valid_on(on)]
        return max(valid, key=lambda e: e.valid_from, default=None)
