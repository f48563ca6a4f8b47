"""Validation issues and tolerances: the vocabulary validation and matching report in.

A :class:`ValidationIssue` is typed (``kind``), pointed (an RFC 6901 JSON pointer into the
canonical document, e.g. ``/lines/2/unit_price/amount``), carries the numbers (expected,
actual, difference, percent) and a severity that tells the pipeline what to do:

* ``error`` — the document itself is wrong (its totals do not add up, its dates are
  impossible, its currency is not the PO's): reject it, dead letter / permanent.
* ``exception`` — a business disagreement a buyer must decide (price, quantity or date
  outside tolerance, an unknown item or PO): park it in the exception queue.
* ``warning`` — worth showing in the trace, no action.

Tolerance rule, in exact Decimal: a difference is *within* tolerance when
``|actual - expected| × 100 <= limit × |expected|`` — exactly at the limit is within,
anything over is outside (2.00 % passes a 2 % limit, 2.01 % does not). Comparing
multiplied values avoids dividing, so the decision never depends on rounding; ``percent``
in the issue is only for people (4 places). An expected value of zero tolerates only zero.
Dates: ``|actual - expected|`` in days ``<= date_days``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

import msgspec

__all__ = (
    "AMOUNT_TOLERANCE",
    "IssueKind",
    "Severity",
    "Tolerances",
    "ValidationIssue",
    "percent_off",
    "pointer",
    "within_percent",
)

Severity = Literal["error", "exception", "warning"]

IssueKind = Literal[
    # items and units
    "unknown_item",            # no item on file for the reference (never a guess)
    "item_conflict",           # the reference's identifiers name different items
    "item_mismatch",           # a line's item is not the PO line's item
    "substituted_item",        # the supplier substitutes another item
    "unknown_uom",             # the item has no conversion for the unit
    # purchase-order references
    "unknown_po",
    "unknown_po_line",
    # tolerances
    "quantity_outside_tolerance",
    "price_outside_tolerance",
    "date_outside_tolerance",
    "currency_mismatch",
    "no_reference_price",
    "partial_quantity",
    "not_received",
    # dates
    "date_before_po",
    "date_in_past",
    "impossible_date_range",
    # arithmetic of a document's amounts (tax-sensitive)
    "line_amount_mismatch",
    "subtotal_mismatch",
    "tax_total_mismatch",
    "total_mismatch",
]

AMOUNT_TOLERANCE = Decimal("0.01")
"""How far a stated amount may be from the sum it should equal (rounding of each line)."""

_PLACES = Decimal("0.0001")


class ValidationIssue(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One finding about a canonical document; see the module docstring for severities.

    ``expected``/``actual`` are exact decimal strings (or ISO dates, currency codes) in the
    unit named in ``message``; ``difference`` is actual − expected (days for dates);
    ``percent`` is difference / expected × 100 rounded to 4 places.
    """

    kind: IssueKind
    severity: Severity
    pointer: str
    message: str
    expected: str | None = None
    actual: str | None = None
    difference: Decimal | None = None
    percent: Decimal | None = None
    po_number: str | None = None
    po_line: str | None = None


class Tolerances(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A partner's tolerances: how far quantity and price (percent) and dates (days) may move.

    Defaults are zero: anything that differs from the PO is outside tolerance.
    """

    quantity_percent: Decimal = Decimal(0)
    price_percent: Decimal = Decimal(0)
    date_days: int = 0

    def __post_init__(self) -> None:
        for name in ("quantity_percent", "price_percent"):
            value: Decimal = getattr(self, name)
            if not value.is_finite() or value < 0:
                raise ValueError(f"`{name}` must be a finite decimal >= 0, got {value}")
        if self.date_days < 0:
            raise ValueError(f"`date_days` must be >= 0, got {self.date_days}")


def within_percent(expected: Decimal, actual: Decimal, limit: Decimal) -> bool:
    """True when ``actual`` is within ``limit`` percent of ``expected`` (limit inclusive)."""
    return abs(actual - expected) * 100 <= limit * abs(expected)


def percent_off(expected: Decimal, actual: Decimal) -> Decimal | None:
    """(actual − expected) / expected × 100 to 4 places; None when expected is zero."""
    if expected == 0:
        return None
    return ((actual - expected) * 100 / abs(expected)).quantize(_PLACES)


def pointer(*tokens: str | int) -> str:
    """An RFC 6901 JSON pointer from path tokens (``pointer("lines", 2, "unit_price")``)."""
    return "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)
