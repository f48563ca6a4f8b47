"""Built-in mapping templates: the standard CSV layouts a supplier mapping can ``extends``.

Each template is an ordinary mapping file (TOML text, kept here rather than as package data so
that it ships with the module). A supplier whose file follows a template with other column names
only needs ``[csv.rename]``; anything else is overridden rule by rule. The CSV writers use the
same templates, so what Wharf writes it reads back unchanged.

Layouts (one row per line; the header's fields are repeated on every row, rows with the same
document id form one document):

* ``inventory_advice_csv`` — ``advice_id, as_of, supplier_id, location, sku, gtin,
  supplier_part, description, quantity, uom, available_date`` (+ optional columns below).
* ``price_catalog_csv`` — ``catalog_id, currency, effective_from, effective_to, supplier_id,
  sku, gtin, supplier_part, description, unit_price, price_uom, min_quantity,
  min_quantity_uom, lead_time_days``; an empty (or absent) ``unit_price`` lists the item
  without a price.
* ``ship_notice_csv`` — ``asn_number, shipped_at, supplier_id, carrier_scac, tracking_number,
  po_number, sscc, packaging_code, line_number, sku, gtin, supplier_part, description,
  quantity, uom``; rows with an ``sscc`` are grouped into packs, rows without one are loose
  items of their order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("TEMPLATES",)

_PARTIES = """\
issue_date = { source = "issue_date", optional = true }
"supplier.id" = "supplier_id"
"supplier.name" = { source = "supplier_name", optional = true }
"buyer.id" = { source = "buyer_id", optional = true }
"""


def _item(prefix: str) -> str:
    return f"""\
"{prefix}.item.sku" = {{ source = "sku", optional = true }}
"{prefix}.item.gtin" = {{ source = "gtin", optional = true }}
"{prefix}.item.supplier_part" = {{ source = "supplier_part", optional = true }}
"{prefix}.item.buyer_part" = {{ source = "buyer_part", optional = true }}
"{prefix}.item.description" = {{ source = "description", optional = true }}
"""


def _shipped(prefix: str) -> str:
    return (
        f'"{prefix}.line_number" = {{ source = "line_number", optional = true }}\n'
        + _item(prefix)
        + f'"{prefix}.quantity.value" = "quantity"\n"{prefix}.quantity.uom" = "uom"\n'
    )


INVENTORY_ADVICE = (
    """\
doc_type = "inventory_advice"
input = "csv"
name = "inventory_advice_csv"
description = "Inventory advice: one row per item and location."

[csv]
group_by = "advice_id"

[fields]
document_id = "advice_id"
as_of = "as_of"
"""
    + _PARTIES
    + _item("lines[]")
    + """\
"lines[].quantity.value" = "quantity"
"lines[].quantity.uom" = "uom"
"lines[].location" = { source = "location", optional = true }
"lines[].available_date" = { source = "available_date", optional = true }
"""
)

PRICE_CATALOG = (
    """\
doc_type = "price_catalog"
input = "csv"
name = "price_catalog_csv"
description = "Price catalog: one row per item; prices are in the catalog's currency."

[csv]
group_by = "catalog_id"

[fields]
document_id = "catalog_id"
currency = "currency"
effective_from = "effective_from"
effective_to = { source = "effective_to", optional = true }
"""
    + _PARTIES
    + _item("lines[]")
    + """\
"lines[].unit_price.amount" = { source = "unit_price", optional = true }
"lines[].price_uom" = { source = "price_uom", optional = true }
"lines[].min_quantity.value" = { source = "min_quantity", optional = true }
"lines[].min_quantity.uom" = { source = "min_quantity_uom", optional = true }
"lines[].lead_time_days" = { source = "lead_time_days", optional = true }
"""
)

SHIP_NOTICE = (
    """\
doc_type = "ship_notice"
input = "csv"
name = "ship_notice_csv"
description = "Ship notice: one row per shipped item; rows with an SSCC are grouped into packs."

[csv]
group_by = "asn_number"

[arrays]
orders = { group_by = "po_number" }
"orders[].packs" = { group_by = "sscc" }
"orders[].items" = { rows_without = "sscc" }

[fields]
document_id = "asn_number"
"""
    + _PARTIES
    + """\
shipped_at = { source = "shipped_at", optional = true }
estimated_delivery = { source = "estimated_delivery", optional = true }
"carrier.scac" = { source = "carrier_scac", optional = true }
"carrier.name" = { source = "carrier_name", optional = true }
tracking_number = { source = "tracking_number", optional = true }
bill_of_lading = { source = "bill_of_lading", optional = true }
"ship_to.id" = { source = "ship_to_id", optional = true }
"ship_to.gln" = { source = "ship_to_gln", optional = true }
"orders[].po_number" = "po_number"
"orders[].packs[].sscc" = { source = "sscc", optional = true }
"orders[].packs[].packaging_code" = { source = "packaging_code", optional = true }
"""
    + _shipped("orders[].packs[].items[]")
    + _shipped("orders[].items[]")
)

TEMPLATES: Mapping[str, str] = {
    "inventory_advice_csv": INVENTORY_ADVICE,
    "price_catalog_csv": PRICE_CATALOG,
    "ship_notice_csv": SHIP_NOTICE,
}
"""Template name → mapping file text."""
