"""Master data the validator checks documents against: suppliers and items."""

from __future__ import annotations

from decimal import Decimal

from wharf.model.common import Canonical, Duns, Gln, Gtin, NonEmptyStr, UomCode, check_decimal

__all__ = ("Item", "Supplier", "SupplierPart", "UomConversion")


class Supplier(Canonical):
    """A supplier and the identities it uses on the wire (EDI qualifier/id, GLN, DUNS)."""

    id: NonEmptyStr
    name: NonEmptyStr
    # X12 ISA05/ISA06 or EDIFACT UNB sender qualifier and id.
    edi_qualifier: str | None = None
    edi_id: str | None = None
    gln: Gln | None = None
    duns: Duns | None = None


class SupplierPart(Canonical):
    """A supplier's part number for an item."""

    supplier_id: NonEmptyStr
    part_number: NonEmptyStr


class UomConversion(Canonical):
    """1 uom == factor × base_uom (e.g. 1 CS == 12 EA)."""

    uom: UomCode
    factor: Decimal

    def __post_init__(self) -> None:
        check_decimal(self.factor, "factor", non_negative=True)
        if self.factor == 0:
            raise ValueError("`factor` must be > 0")


class Item(Canonical):
    """A distributor item: its SKU, base unit, supplier part numbers and unit conversions."""

    sku: NonEmptyStr
    gtin: Gtin | None = None
    description: str | None = None
    base_uom: UomCode
    supplier_parts: tuple[SupplierPart, ...] = ()
    uom_conversions: tuple[UomConversion, ...] = ()

    def __post_init__(self) -> None:
        uoms = [conversion.uom for conversion in self.uom_conversions]
        if self.base_uom in uoms or len(set(uoms)) != len(uoms):
            raise ValueError("each uom may be converted once and never the base_uom")

    def factor(self, uom: str) -> Decimal | None:
        """How many base units one ``uom`` is; ``None`` if the item has no such unit."""
        if uom == self.base_uom:
            return Decimal(1)
        for conversion in self.uom_conversions:
            if conversion.uom == uom:
                return conversion.factor
        return None
