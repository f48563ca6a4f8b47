"""The mapping file schema: frozen Structs, strict about unknown keys.

A mapping file is TOML. Its tables decode into these Structs (after ``extends`` is resolved and
the ``[fields]`` tree is flattened to one rule per canonical path), so every misspelt key is an
error naming its key path. ``docs/mappings.md`` is the reference for users; keep it in step.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from wharf.model import DocType

__all__ = (
    "RULE_KEYS",
    "ArraySpec",
    "CsvSpec",
    "Encoding",
    "InputFormat",
    "JsonSpec",
    "MappingSpec",
    "RuleSpec",
)

InputFormat = Literal["json", "csv"]
Encoding = Literal["utf-8", "utf-8-sig", "latin-1", "cp1252"]

RULE_KEYS = frozenset({"source", "const", "expr", "lookup", "default", "optional"})
"""A table in ``[fields]`` holding any of these keys is a rule; any other table nests paths."""

_SCALARS = (str, int, Decimal, bool, dt.date)


class _Spec(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class RuleSpec(_Spec, frozen=True):
    """How one canonical field gets its value (exactly one of source, const, expr)."""

    source: str | None = None
    """A CSV column name, or a JSON path such as ``items[].qty``."""
    const: object = None
    """A fixed value (string, number, boolean or date)."""
    expr: str | None = None
    """An expression (see ``wharf.codecs.mapping.expr``)."""
    lookup: str | None = None
    """Name of a table in ``[tables]`` that translates the source's code."""
    default: object = None
    """Used when the value is missing (absent, null, empty) or, for a lookup, unknown."""
    optional: bool = False
    """For CSV: the column may be absent from the header (its cells then count as empty)."""

    def __post_init__(self) -> None:
        given = [k for k in ("source", "const", "expr") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a rule needs exactly one of `source`, `const`, `expr`")
        if self.lookup is not None and self.const is not None:
            raise ValueError("`lookup` translates a `source` or an `expr`, not a `const`")
        for key in ("const", "default"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, _SCALARS):
                raise ValueError(f"`{key}` must be a string, number, boolean or date")


class ArraySpec(_Spec, frozen=True):
    """Where the elements of a canonical list come from.

    JSON: ``source`` is the supplier's array (``items[]``); by default it is inferred from the
    rules beneath. CSV: one element per distinct non-empty value of ``group_by``, or one per row
    (skipping rows where ``rows_without`` is filled in).
    """

    source: str | None = None
    group_by: str | None = None
    rows_without: str | None = None

    def __post_init__(self) -> None:
        if sum(v is not None for v in (self.source, self.group_by, self.rows_without)) > 1:
            raise ValueError("give one of `source`, `group_by`, `rows_without`")


class CsvSpec(_Spec, frozen=True):
    """The supplier's CSV dialect and how rows make documents."""

    delimiter: Annotated[str, msgspec.Meta(min_length=1, max_length=1)] = ","
    quote: Annotated[str, msgspec.Meta(min_length=1, max_length=1)] = '"'
    encoding: Encoding = "utf-8"
    header: bool = True
    """False: the file has no header row; ``columns`` names the columns in order."""
    columns: tuple[str, ...] = ()
    skip_rows: Annotated[int, msgspec.Meta(ge=0, le=100)] = 0
    """Records before the header (titles, export banners) to ignore."""
    decimal_comma: bool = False
    thousands: Literal["", ",", ".", " ", "'"] = ""
    trim: bool = True
    """Strip surrounding whitespace from every cell."""
    group_by: str | None = None
    """One document per distinct value of this column; without it the file is one document."""
    rename: dict[str, str] = msgspec.field(default_factory=dict)
    """Template column name → this supplier's column name."""

    def __post_init__(self) -> None:
        if self.delimiter == self.quote:
            raise ValueError("`delimiter` and `quote` must differ")
        if self.delimiter in "\r\n" or self.quote in "\r\n":
            raise ValueError("`delimiter` and `quote` cannot be line breaks")
        if self.decimal_comma and self.thousands == ",":
            raise ValueError("with `decimal_comma`, `thousands` cannot be ','")
        if not self.header and not self.columns:
            raise ValueError("without a header row, `columns` must name the columns")


class JsonSpec(_Spec, frozen=True):
    """Where the documents are in the supplier's JSON body."""

    documents: str = ""
    """Path of the array of documents (``shipments[]``, ``[]`` for a top-level array);
    empty: the body is one document."""


class MappingSpec(_Spec, frozen=True):
    """A whole mapping file, with ``extends`` already merged in."""

    doc_type: DocType
    input: InputFormat
    name: str | None = None
    description: str | None = None
    extends: str | None = None
    date_format: str | None = None
    """strftime format of the supplier's dates (default ISO 8601, ``2025-03-10``)."""
    datetime_format: str | None = None
    """strftime format of the supplier's timestamps (default ISO 8601)."""
    csv: CsvSpec = msgspec.field(default_factory=CsvSpec)
    json: JsonSpec = msgspec.field(default_factory=JsonSpec)
    tables: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    arrays: dict[str, str | ArraySpec] = msgspec.field(default_factory=dict)
    fields: dict[str, str | RuleSpec] = msgspec.field(default_factory=dict)
    """Canonical path → rule; a bare string is a source path."""
