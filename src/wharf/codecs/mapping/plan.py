"""Compiling a mapping: rules checked against the model and arranged as the document's tree.

The flat ``[fields]`` table (canonical path → rule) becomes a tree of plans mirroring the
canonical document: objects hold leaves, nested objects and lists; every list knows where its
elements come from (a supplier array, a CSV grouping column, or the rows). Everything that can
be wrong with a mapping — an unknown field, an expression that does not parse, a JSON rule that
reads ``items[]`` under a list bound to ``parts[]``, a default that is not a date — is found here,
once, when the mapping is loaded; decoding a body only evaluates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from wharf.codecs.mapping.expr import (
    Call,
    Const,
    Lookup,
    Node,
    Number,
    NumberFormat,
    Path,
    Problem,
    to_date,
    to_datetime,
    to_text,
)
from wharf.codecs.mapping.grammar import Env, ExpressionError, parse_expression
from wharf.codecs.mapping.shape import LeafKind, Step, object_at, resolve_target
from wharf.codecs.mapping.sources import (
    Binding,
    EachRow,
    GroupBy,
    JsonEach,
    JsonRef,
    parse_json_path,
)
from wharf.codecs.mapping.spec import ArraySpec, InputFormat, MappingSpec, RuleSpec
from wharf.errors import DocumentError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping as ReadOnlyMapping

    from wharf.model import DocType

__all__ = (
    "ArrayPlan",
    "Formats",
    "LeafPlan",
    "Mapping",
    "ObjectPlan",
    "SpecError",
    "Writeback",
    "compile_mapping",
)


class SpecError(Exception):
    """A mapping that cannot work; ``keys`` is the key path in the file."""

    def __init__(self, message: str, *keys: str) -> None:
        super().__init__(message)
        self.message = message
        self.keys = keys


@dataclass(frozen=True, slots=True)
class Formats:
    """Turns supplier values into the kind a canonical leaf takes."""

    numbers: NumberFormat = field(default_factory=NumberFormat)
    date_format: str | None = None
    datetime_format: str | None = None

    def coerce(self, value: object, kind: LeafKind, node: Node | None = None) -> object:
        """The value for a leaf of ``kind``; None when missing; raises Problem when unusable."""
        if kind == "str":
            return to_text(value, node)
        if kind == "decimal":
            return self.numbers.parse(value, node)
        if kind == "date":
            return to_date(value, self.date_format, node)
        if kind == "datetime":
            return to_datetime(value, self.datetime_format, node)
        if kind == "int":
            number = self.numbers.parse(value, node)
            if number is None:
                return None
            if number != number.to_integral_value():
                raise Problem(f"{value!r} is not a whole number", node)
            return int(number)
        if kind == "strs":
            values = value if isinstance(value, list) else [value]
            texts = [to_text(v, node) for v in values]
            return [t for t in texts if t is not None] or None
        # bool
        if isinstance(value, bool) or value is None:
            return value
        text = (to_text(value, node) or "").strip().lower()
        if text in ("true", "yes", "y", "1"):
            return True
        if text in ("false", "no", "n", "0"):
            return False
        raise Problem(f"{value!r} is not true or false", node)

    def render(self, value: object, kind: LeafKind) -> str:
        """A canonical value as the supplier writes it (for the CSV writer)."""
        if isinstance(value, Decimal):
            return self.numbers.format(value)
        if isinstance(value, dt.datetime):
            fmt = self.datetime_format
            return value.strftime(fmt) if fmt else value.isoformat()
        if isinstance(value, dt.date):
            return value.strftime(self.date_format) if self.date_format else value.isoformat()
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, tuple | list):
            return "; ".join(str(v) for v in value)
        return str(value)


@dataclass(frozen=True, slots=True)
class Writeback:
    """How the CSV writer puts a canonical leaf back into the supplier's column."""

    column: str
    render: Callable[[object], str]


@dataclass(slots=True)
class LeafPlan:
    name: str
    target: str
    kind: LeafKind
    node: Node
    default: object
    optional: bool
    origin: Path | None
    """The first source path the rule reads: where errors about this field point."""
    writeback: Writeback | None = None


@dataclass(slots=True)
class ArrayPlan:
    name: str
    path: str
    """Canonical path of the list, without the final ``[]`` (``orders[].packs``)."""
    element: ObjectPlan | LeafPlan
    binding: Binding = field(default_factory=EachRow)
    group_column: str | None = None


@dataclass(slots=True)
class ObjectPlan:
    money: bool = False
    optional: bool = False
    """The canonical field holding this object may be left out."""
    principal: str | None = None
    """The object's first required field: an optional object without it is left out."""
    leaves: list[LeafPlan] = field(default_factory=list)
    objects: dict[str, ObjectPlan] = field(default_factory=dict)
    arrays: dict[str, ArrayPlan] = field(default_factory=dict)

    def all_leaves(self) -> Iterator[LeafPlan]:
        yield from self.leaves
        for sub in self.objects.values():
            yield from sub.all_leaves()
        for array in self.arrays.values():
            if isinstance(array.element, LeafPlan):
                yield array.element
            else:
                yield from array.element.all_leaves()


@dataclass(frozen=True, slots=True)
class Mapping:
    """A loaded, checked mapping: how one supplier's JSON or CSV becomes canonical documents."""

    name: str
    doc_type: DocType
    spec: MappingSpec
    root: ObjectPlan
    formats: Formats
    file: str = "<mapping>"
    columns: ReadOnlyMapping[str, bool] = field(default_factory=dict)
    """CSV: every column the rules read → whether the header must have it."""
    group_by: str | None = None
    """CSV: the (renamed) column whose values tell documents apart."""
    documents: JsonRef | None = None
    """JSON: the array of documents in the body (None: the body is one document)."""

    @property
    def input(self) -> InputFormat:
        return self.spec.input

    def check_doc_type(self, doc_type: DocType | None) -> None:
        """Refuse a body sent to a typed endpoint for documents this mapping does not make."""
        if doc_type is not None and doc_type != self.doc_type:
            raise DocumentError(
                f"this mapping ({self.name}) produces {self.doc_type} documents, not {doc_type}",
                pointer="",
            )


# --- compiling ------------------------------------------------------------------------------


def compile_mapping(spec: MappingSpec, *, name: str, file: str = "<mapping>") -> Mapping:
    """Check ``spec`` against the model and build its plan; raises :class:`SpecError`."""
    csv = spec.input == "csv"
    rename = spec.csv.rename
    numbers = NumberFormat(spec.csv.decimal_comma, spec.csv.thousands) if csv else NumberFormat()
    formats = Formats(numbers, spec.date_format, spec.datetime_format)

    def resolve(text: str, literal: bool) -> object:
        if csv:
            if not literal and ("[" in text or "]" in text):
                raise ValueError(f"{text!r}: CSV columns have no []; quote odd names in backticks")
            return rename.get(text, text)
        return parse_json_path(text, raw_key=literal)

    env = Env(resolve, spec.tables, numbers)
    root = ObjectPlan()
    for target, raw in spec.fields.items():
        rule = RuleSpec(source=raw) if isinstance(raw, str) else raw
        try:
            steps, kind = resolve_target(spec.doc_type, target)
        except ValueError as exc:
            raise SpecError(str(exc), "fields", target) from None
        leaf = _leaf(target, steps, kind, rule, env, formats, csv)
        _insert(root, steps, leaf, spec.doc_type)
    if not root.leaves and not root.objects and not root.arrays:
        raise SpecError("no rules: map at least `document_id`", "fields")
    arrays = {key.removesuffix("[]"): value for key, value in spec.arrays.items()}
    used: set[str] = set()
    _bind(root, "", [], arrays, used, csv, rename)
    for key in arrays.keys() - used:
        raise SpecError(f"{key!r} is not a list that [fields] maps", "arrays", key)

    columns: dict[str, bool] = {}
    group_by = None
    documents = None
    if csv:
        for leaf in root.all_leaves():
            required = not leaf.optional and leaf.default is None
            for path in leaf.node.paths():
                assert isinstance(path.ref, str)
                columns[path.ref] = columns.get(path.ref, False) or required
        _binding_columns(root, columns)
        if spec.csv.group_by:  # "" switches a template's grouping off: one document per file
            group_by = rename.get(spec.csv.group_by, spec.csv.group_by)
            columns[group_by] = True
    elif spec.json.documents:
        try:
            documents = parse_json_path(spec.json.documents)
        except ValueError as exc:
            raise SpecError(str(exc), "json", "documents") from None
        if len(documents.each_prefixes) != 1 or not documents.text.endswith("[]"):
            raise SpecError("must end in [] (e.g. `shipments[]`)", "json", "documents")
    return Mapping(
        name=name,
        doc_type=spec.doc_type,
        spec=spec,
        root=root,
        formats=formats,
        file=file,
        columns=columns,
        group_by=group_by,
        documents=documents,
    )


def _leaf(
    target: str,
    steps: list[Step],
    kind: LeafKind,
    rule: RuleSpec,
    env: Env,
    formats: Formats,
    csv: bool,
) -> LeafPlan:
    keys = ("fields", target)
    node: Node
    try:
        if rule.source is not None:
            # A CSV source is a column name as written; a JSON source is a path.
            node = Path(rule.source, env.resolve(rule.source, csv))
        elif rule.expr is not None:
            node = parse_expression(rule.expr, env)
        else:
            node = Const(formats.coerce(rule.const, kind))
    except ExpressionError as exc:
        raise SpecError(str(exc), *keys, "expr") from None
    except ValueError as exc:
        raise SpecError(str(exc), *keys, "source") from None
    except Problem as exc:
        raise SpecError(f"not a {kind}: {exc.message}", *keys, "const") from None
    try:
        default = None if rule.default is None else formats.coerce(rule.default, kind)
    except Problem as exc:
        raise SpecError(f"not a {kind}: {exc.message}", *keys, "default") from None
    if rule.lookup is not None:
        table = env.tables.get(rule.lookup)
        if table is None:
            raise SpecError(f"no table {rule.lookup!r} in [tables]", *keys, "lookup")
        node = Lookup(rule.lookup, table, node, fallback=rule.default)
    origin = next(node.paths(), None)
    leaf = LeafPlan(steps[-1].name, target, kind, node, default, rule.optional, origin)
    if csv:
        leaf.writeback = _writeback(node, kind, formats)
    return leaf


def _writeback(node: Node, kind: LeafKind, formats: Formats) -> Writeback | None:
    def plain(value: object) -> str:
        return formats.render(value, kind)

    if isinstance(node, Path):
        assert isinstance(node.ref, str)
        return Writeback(node.ref, plain)
    if isinstance(node, Lookup) and isinstance(node.arg, Path):
        reverse: dict[str, str] = {}
        for code, canonical in node.table.items():
            reverse.setdefault(canonical, code)
        assert isinstance(node.arg.ref, str)
        return Writeback(node.arg.ref, lambda v: reverse.get(plain(v), plain(v)))
    if isinstance(node, Number) and node.places is None and isinstance(node.arg, Path):
        assert isinstance(node.arg.ref, str)
        return Writeback(node.arg.ref, plain)
    if (
        isinstance(node, Call)
        and node.name in ("date", "datetime")
        and len(node.args) == 2
        and isinstance(node.args[0], Path)
        and isinstance(node.args[1], Const)
    ):
        fmt = node.args[1].value
        column = node.args[0].ref
        assert isinstance(fmt, str) and isinstance(column, str)
        return Writeback(column, lambda v: v.strftime(fmt) if isinstance(v, dt.date) else str(v))
    return None


def _insert(root: ObjectPlan, steps: list[Step], leaf: LeafPlan, doc_type: DocType) -> None:
    plan = root
    for index, step in enumerate(steps[:-1]):
        if step.each:
            array = plan.arrays.get(step.name)
            if array is None:
                shape = object_at(doc_type, steps[: index + 1])
                path = ".".join(s.name + ("[]" if s.each else "") for s in steps[: index + 1])
                element = ObjectPlan(money=shape.is_money)
                array = ArrayPlan(step.name, path[:-2], element)
                plan.arrays[step.name] = array
            assert isinstance(array.element, ObjectPlan)
            plan = array.element
        else:
            sub = plan.objects.get(step.name)
            if sub is None:
                shape = object_at(doc_type, steps[: index + 1])
                parent = object_at(doc_type, steps[:index])
                sub = plan.objects[step.name] = ObjectPlan(
                    money=shape.is_money,
                    optional=step.name not in parent.required,
                    principal=shape.principal,
                )
            plan = sub
    last = steps[-1]
    if last.each:
        if any(leaf_.name == last.name for leaf_ in plan.leaves):
            raise SpecError(
                f"map either {last.name} or {last.name}[], not both", "fields", leaf.target
            )
        path = leaf.target[:-2]
        plan.arrays[last.name] = ArrayPlan(last.name, path, leaf)
    else:
        if last.name in plan.arrays:
            raise SpecError(
                f"map either {last.name} or {last.name}[], not both", "fields", leaf.target
            )
        plan.leaves.append(leaf)


def _bind(
    plan: ObjectPlan,
    prefix: str,
    bound: list[str],
    arrays: dict[str, str | ArraySpec],
    used: set[str],
    csv: bool,
    rename: ReadOnlyMapping[str, str],
) -> None:
    depth = len(bound)
    if not csv:
        for leaf in plan.leaves:
            _check_iteration(leaf, bound)
    for name, sub in plan.objects.items():
        _bind(sub, f"{prefix}{name}.", bound, arrays, used, csv, rename)
    for name, array in plan.arrays.items():
        path = prefix + name
        declared = arrays.get(path)
        if declared is not None:
            used.add(path)
        if isinstance(declared, str):
            # Shorthand: JSON "items[]" is the source; CSV "rows" is one element per row,
            # any other string the column to group by.
            if not csv:
                declared = ArraySpec(source=declared)
            else:
                declared = ArraySpec() if declared == "rows" else ArraySpec(group_by=declared)
        if csv:
            if declared is not None and declared.source is not None:
                raise SpecError("CSV lists take `group_by` or `rows_without`", "arrays", path)
            if declared is not None and declared.group_by is not None:
                column = rename.get(declared.group_by, declared.group_by)
                array.binding, array.group_column = GroupBy(column), column
            else:
                without = declared.rows_without if declared is not None else None
                array.binding = EachRow(None if without is None else rename.get(without, without))
            each_prefix = ""
        else:
            if declared is not None and declared.source is None:
                raise SpecError("JSON lists take `source` (a path ending in [])", "arrays", path)
            each_prefix = _json_source(array, path, depth, bound, declared)
            ref = parse_json_path(each_prefix)
            array.binding = JsonEach(Path(each_prefix[:-2], ref.without_last_each()))
        inner = [*bound, each_prefix]
        if isinstance(array.element, ObjectPlan):
            _bind(array.element, path + "[].", inner, arrays, used, csv, rename)
        elif not csv:
            _check_iteration(array.element, inner)


def _json_source(
    array: ArrayPlan, path: str, depth: int, bound: list[str], declared: ArraySpec | None
) -> str:
    if declared is not None:
        assert declared.source is not None
        try:
            ref = parse_json_path(declared.source)
        except ValueError as exc:
            raise SpecError(str(exc), "arrays", path) from None
        if not ref.text.endswith("[]") or len(ref.each_prefixes) != depth + 1:
            inside = bound[-1] if bound else "the document"
            raise SpecError(f"must end in [] and sit inside {inside}", "arrays", path)
        if list(ref.each_prefixes[:depth]) != bound:
            raise SpecError(f"{ref.text} is not inside {bound[-1]}", "arrays", path)
        return ref.text
    leaves = [array.element] if isinstance(array.element, LeafPlan) else array.element.all_leaves()
    found: dict[str, str] = {}
    for leaf in leaves:
        for source in leaf.node.paths():
            assert isinstance(source.ref, JsonRef)
            if len(source.ref.each_prefixes) > depth:
                found.setdefault(source.ref.each_prefixes[depth], leaf.target)
    if not found:
        raise SpecError(
            f"no rule under {path}[] reads a supplier array (a path with []); "
            f'declare it in [arrays], e.g. "{path}" = "items[]"',
            "fields",
            path + "[]",
        )
    if len(found) > 1:
        first, second = list(found.items())[:2]
        raise SpecError(
            f"{path}[] would be fed by both {first[0]} ({first[1]}) and {second[0]} ({second[1]});"
            f" declare which in [arrays]",
            "fields",
            second[1],
        )
    return next(iter(found))


def _check_iteration(leaf: LeafPlan, bound: list[str]) -> None:
    for source in leaf.node.paths():
        assert isinstance(source.ref, JsonRef)
        prefixes = source.ref.each_prefixes
        if len(prefixes) > len(bound):
            extra = prefixes[len(bound)]
            raise SpecError(
                f"{source.text} reads each element of {extra}, but {leaf.target} is a single "
                "value there (put the field under a list: `lines[]....`)",
                "fields",
                leaf.target,
            )
        for mine, theirs in zip(prefixes, bound, strict=False):
            if mine != theirs:
                raise SpecError(
                    f"{source.text} walks {mine}, but the enclosing list is fed by {theirs}",
                    "fields",
                    leaf.target,
                )


def _binding_columns(plan: ObjectPlan, columns: dict[str, bool]) -> None:
    for array in plan.arrays.values():
        if isinstance(array.binding, GroupBy):
            # Required only if a rule needs it: packs grouped by an optional sscc column.
            columns.setdefault(array.binding.column, False)
        elif isinstance(array.binding, EachRow) and array.binding.without is not None:
            columns.setdefault(array.binding.without, False)
        if isinstance(array.element, ObjectPlan):
            _binding_columns(array.element, columns)
