"""Value types shared by every canonical document: codes, quantities, money, parties, references.

Wire rules (canonical JSON, v1):

* Decimals (quantities, money, rates, factors) are written as JSON strings (``"12.50"``) and read
  from either strings or JSON numbers. msgspec parses a JSON number straight from its text into a
  ``Decimal`` when the target type is ``Decimal``, so ``12.345678901234567890`` arrives exact and no
  float is ever involved (no ``float_hook`` is needed: that hook only applies to untyped decoding).
* Non-finite decimals (``"NaN"``, ``"Infinity"``) are rejected: msgspec accepts them as strings.
* ``msgspec.Meta(ge=...)`` is not allowed on ``Decimal`` (msgspec 0.22 raises ``TypeError`` at
  type-build time), so decimal range rules are checked in ``__post_init__``; the ``ValueError``
  raised there reaches the caller as a ``msgspec.ValidationError`` with the struct's ``$`` path.
* Code patterns end in ``$``, which in Python also matches before a final newline; the codes of
  fixed size therefore also carry exact length bounds so ``"USD\\n"`` is rejected.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, dataclass_transform

import msgspec

if TYPE_CHECKING:
    from datetime import date

__all__ = (
    "Address",
    "Canonical",
    "CountryCode",
    "CurrencyCode",
    "Duns",
    "Gln",
    "Gtin",
    "ItemRef",
    "LineNumber",
    "Money",
    "NonEmptyStr",
    "Party",
    "Quantity",
    "Scac",
    "SourceFormat",
    "SourceRef",
    "Sscc",
    "UomCode",
    "check_date_range",
    "check_decimal",
)


class _CanonicalMeta(msgspec.StructMeta):
    # msgspec applies ``kw_only`` only to the fields of the class that sets it, so without this
    # every subclass would have to repeat it. (frozen, forbid_unknown_fields, omit_defaults are
    # inherited by msgspec itself.)
    def __new__(
        mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any
    ) -> _CanonicalMeta:
        kwargs.setdefault("kw_only", True)
        return super().__new__(mcls, name, bases, namespace, **kwargs)


# The transform tells type checkers what the metaclass and msgspec do at runtime: subclasses are
# frozen and keyword-only (mypy does not inherit class-keyword config on its own).
@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(msgspec.field,))
class Canonical(
    msgspec.Struct,
    metaclass=_CanonicalMeta,
    frozen=True,
    forbid_unknown_fields=True,
    kw_only=True,
    omit_defaults=True,
):
    """Base of every canonical Struct: immutable, strict on input, compact on output."""


NonEmptyStr = Annotated[str, msgspec.Meta(min_length=1)]
LineNumber = Annotated[
    str, msgspec.Meta(min_length=1, max_length=20, description="Line id as the sender assigned it")
]
CurrencyCode = Annotated[
    str,
    msgspec.Meta(
        pattern="^[A-Z]{3}$", min_length=3, max_length=3, description="ISO 4217 currency code"
    ),
]
CountryCode = Annotated[
    str,
    msgspec.Meta(
        pattern="^[A-Z]{2}$", min_length=2, max_length=2, description="ISO 3166-1 alpha-2"
    ),
]
UomCode = Annotated[
    str,
    msgspec.Meta(
        pattern="^[A-Z0-9]{1,3}$",
        min_length=1,
        max_length=3,
        description="Unit of measure, UN/ECE Rec 20 or X12 355 code (EA, CS, PK, KGM)",
    ),
]
Gtin = Annotated[
    str,
    msgspec.Meta(
        pattern="^([0-9]{8}|[0-9]{12,14})$",
        min_length=8,
        max_length=14,
        description="GS1 GTIN-8/12/13/14",
    ),
]
Sscc = Annotated[
    str,
    msgspec.Meta(
        pattern="^[0-9]{18}$", min_length=18, max_length=18, description="GS1 SSCC (18 digits)"
    ),
]
Gln = Annotated[
    str,
    msgspec.Meta(
        pattern="^[0-9]{13}$", min_length=13, max_length=13, description="GS1 GLN (13 digits)"
    ),
]
Duns = Annotated[
    str,
    msgspec.Meta(
        pattern="^[0-9]{9}([0-9]{4})?$",
        min_length=9,
        max_length=13,
        description="D-U-N-S number, optionally DUNS+4",
    ),
]
Scac = Annotated[
    str,
    msgspec.Meta(
        pattern="^[A-Z]{2,4}$",
        min_length=2,
        max_length=4,
        description="Standard Carrier Alpha Code",
    ),
]
SourceFormat = Literal["json", "x12", "edifact", "cxml", "ubl", "csv"]


def check_decimal(value: Decimal, name: str, *, non_negative: bool = False) -> None:
    """Raise ValueError if value is not finite, or negative when non_negative."""
    if not value.is_finite():
        raise ValueError(f"`{name}` must be a finite decimal, got {value}")
    if value and not -18 <= value.adjusted() <= 18:
        # Beyond any real quantity or amount, and arithmetic on it would overflow later.
        raise ValueError(f"`{name}` is out of range (at most 18 digits either side of the point)")
    if non_negative and value < 0:
        raise ValueError(f"`{name}` must be >= 0, got {value}")


def check_date_range(start: date, end: date | None, names: tuple[str, str]) -> None:
    """Raise ValueError if end is before start."""
    if end is not None and end < start:
        raise ValueError(f"`{names[1]}` ({end}) is before `{names[0]}` ({start})")


class Quantity(Canonical):
    """An exact, non-negative amount of goods in an explicit unit of measure."""

    value: Decimal
    uom: UomCode

    def __post_init__(self) -> None:
        check_decimal(self.value, "value", non_negative=True)


class Money(Canonical):
    """An exact amount in an ISO 4217 currency (negative allowed, e.g. credits)."""

    amount: Decimal
    currency: CurrencyCode

    def __post_init__(self) -> None:
        check_decimal(self.amount, "amount")


class Address(Canonical):
    """A postal address."""

    lines: tuple[str, ...] = ()
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: CountryCode | None = None


class Party(Canonical):
    """A trading party or location: the sender's id, a name, GS1/D&B ids and an address."""

    id: str | None = None
    name: str | None = None
    gln: Gln | None = None
    duns: Duns | None = None
    address: Address | None = None

    def __post_init__(self) -> None:
        if not (self.id or self.name or self.gln or self.duns or self.address):
            raise ValueError("a party needs at least one of id, name, gln, duns, address")


class ItemRef(Canonical):
    """An item as a document names it; at least one of sku, gtin, supplier_part, buyer_part."""

    sku: str | None = None
    gtin: Gtin | None = None
    supplier_part: str | None = None
    buyer_part: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if not (self.sku or self.gtin or self.supplier_part or self.buyer_part):
            raise ValueError("an item needs at least one of sku, gtin, supplier_part, buyer_part")


class SourceRef(Canonical):
    """Where a canonical document came from, so errors can point into the raw file."""

    format: SourceFormat
    version: str | None = None
    interchange_control: str | None = None
    group_control: str | None = None
    transaction_control: str | None = None
    # Position of the document in the raw source: segment number, CSV line, XPath or JSON pointer.
    position: str | None = None
