"""Reading supplier values: JSON documents and CSV rows behind one small scope interface.

Rules are compiled once; what differs per input format is only how a source path is read and
pointed at, and how a canonical list finds its elements. A JSON scope is a position in the
supplier's document (the indices of the arrays being walked); a CSV scope is a group of rows
(a document, an order, a pack) whose first row supplies single values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from wharf.codecs.mapping.expr import Path, Problem, Scope

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = (
    "Binding",
    "CsvScope",
    "EachRow",
    "GroupBy",
    "JsonEach",
    "JsonRef",
    "JsonScope",
    "Row",
    "Table",
    "escape",
    "parse_json_path",
)


def escape(token: str) -> str:
    """One RFC 6901 pointer token."""
    return token.replace("~", "~0").replace("/", "~1")


class Binding(Protocol):
    """How a canonical list finds its elements in the current scope."""

    def elements(self, scope: Scope) -> Iterator[tuple[Scope, str]]:
        """Each element's scope and the pointer to it in the supplier's input."""
        ...


# --- JSON -----------------------------------------------------------------------------------

_KEY, _INDEX, _EACH = 0, 1, 2


@dataclass(frozen=True, slots=True)
class JsonRef:
    """A compiled JSON path: steps, and the text of the path up to each ``[]``."""

    text: str
    steps: tuple[tuple[int, str | int], ...]
    each_prefixes: tuple[str, ...]

    def without_last_each(self) -> JsonRef:
        """The array itself (``items[]`` → ``items``), for iterating it."""
        assert self.steps and self.steps[-1][0] == _EACH
        return JsonRef(self.text[:-2], self.steps[:-1], self.each_prefixes[:-1])


def parse_json_path(text: str, *, raw_key: bool = False) -> JsonRef:
    """``items[].qty``, ``header.po``, ``lines[0].id``, ``[]``; raw_key: one literal key."""
    if raw_key:
        return JsonRef(text, ((_KEY, text),), ())
    steps: list[tuple[int, str | int]] = []
    prefixes: list[str] = []
    rendered = ""
    for n, segment in enumerate(text.split(".")):
        key, bracket, rest = segment.partition("[")
        if not key and (n > 0 or not bracket):
            raise ValueError(f"empty name in path {text!r}")
        if key:
            steps.append((_KEY, key))
            rendered += ("." if rendered else "") + key
        rest = bracket + rest
        while rest:
            close = rest.find("]")
            if not rest.startswith("[") or close < 0:
                raise ValueError(f"bad brackets in path {text!r}")
            inner = rest[1:close]
            if inner == "":
                steps.append((_EACH, ""))
                rendered += "[]"
                prefixes.append(rendered)
            elif inner.isdigit():
                steps.append((_INDEX, int(inner)))
                rendered += f"[{inner}]"
            else:
                raise ValueError(f"[{inner}] in {text!r}: use [] for each element or [0], [1]...")
            rest = rest[close + 1 :]
    return JsonRef(rendered, tuple(steps), tuple(prefixes))


class JsonScope:
    """A position in one supplier JSON document."""

    __slots__ = ("base", "indices", "root")

    def __init__(self, root: object, base: str, indices: tuple[int, ...] = ()) -> None:
        self.root = root
        self.base = base
        self.indices = indices

    def read(self, ref: object) -> object:
        assert isinstance(ref, JsonRef)
        current = self.root
        each = 0
        for kind, value in ref.steps:
            if kind == _KEY:
                if not isinstance(current, dict):
                    return None
                current = current.get(value)
            else:
                if not isinstance(current, list):
                    return None
                if kind == _EACH:
                    value = self.indices[each]
                    each += 1
                assert isinstance(value, int)
                current = current[value] if value < len(current) else None
            if current is None:
                return None
        return current

    def pointer(self, ref: object) -> str:
        assert isinstance(ref, JsonRef)
        parts = [self.base]
        each = 0
        for kind, value in ref.steps:
            if kind == _EACH:
                value = self.indices[each]
                each += 1
            parts.append("/" + escape(str(value)))
        return "".join(parts)

    def enter(self, index: int) -> JsonScope:
        return JsonScope(self.root, self.base, (*self.indices, index))


@dataclass(frozen=True, slots=True)
class JsonEach:
    """A canonical list fed by a supplier array: one element per array element."""

    array: Path
    """The array itself (its ref is the ``[]`` path without the final ``[]``)."""

    def elements(self, scope: Scope) -> Iterator[tuple[Scope, str]]:
        assert isinstance(scope, JsonScope)
        found = scope.read(self.array.ref)
        if found is None:
            return
        if not isinstance(found, list):
            raise Problem(f"{self.array.text} should be an array", self.array)
        where = scope.pointer(self.array.ref)
        for index in range(len(found)):
            yield scope.enter(index), f"{where}/{index}"


# --- CSV ------------------------------------------------------------------------------------

Row = tuple[int, list[str]]
"""A record number (header = 0) and its cells, one per header column."""


@dataclass(slots=True)
class Table:
    """A CSV body: column names, their positions, and the data rows."""

    columns: list[str]
    index: dict[str, int]
    rows: list[Row]


class CsvScope:
    """A group of rows; single values are read from the first."""

    __slots__ = ("rows", "table")

    def __init__(self, table: Table, rows: list[Row]) -> None:
        self.table = table
        self.rows = rows

    def read(self, ref: object) -> object:
        assert isinstance(ref, str)
        position = self.table.index.get(ref)
        return None if position is None else self.rows[0][1][position]

    def pointer(self, ref: object) -> str:
        assert isinstance(ref, str)
        return f"/rows/{self.rows[0][0]}/{escape(ref)}"

    def cell(self, row: Row, column: str) -> str:
        position = self.table.index.get(column)
        return "" if position is None else row[1][position]


@dataclass(frozen=True, slots=True)
class GroupBy:
    """One element per distinct non-empty value of a column, in order of first appearance."""

    column: str

    def elements(self, scope: Scope) -> Iterator[tuple[Scope, str]]:
        assert isinstance(scope, CsvScope)
        groups: dict[str, list[Row]] = {}
        for row in scope.rows:
            key = scope.cell(row, self.column)
            if key:
                groups.setdefault(key, []).append(row)
        for rows in groups.values():
            yield CsvScope(scope.table, rows), f"/rows/{rows[0][0]}"


@dataclass(frozen=True, slots=True)
class EachRow:
    """One element per row, skipping rows where ``without`` is filled in."""

    without: str | None = None

    def elements(self, scope: Scope) -> Iterator[tuple[Scope, str]]:
        assert isinstance(scope, CsvScope)
        for row in scope.rows:
            if self.without is not None and scope.cell(row, self.without):
                continue
            yield CsvScope(scope.table, [row]), f"/rows/{row[0]}"
