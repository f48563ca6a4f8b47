"""The shape of a canonical document, as mapping rules see it: field paths and their kinds.

A mapping names canonical fields by path (``supplier.id``, ``lines[].quantity.value``). The
paths, which of them are lists, and what kind of value each leaf takes (a decimal, a date, a
string...) are read from the canonical Structs themselves with :mod:`msgspec.inspect`, so a
mapping is checked against the model when it is loaded and a new optional field in the model
is mappable without touching this package.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import msgspec.inspect as mi

from wharf.model import DOCUMENT_CLASSES, DocType, Money

__all__ = (
    "ArrayShape",
    "LeafKind",
    "LeafShape",
    "ObjectShape",
    "Shape",
    "Step",
    "TargetError",
    "document_shape",
    "object_at",
    "parse_steps",
    "resolve_target",
)

LeafKind = Literal["str", "decimal", "int", "date", "datetime", "bool", "strs"]
"""``strs`` is a list of strings (``notes``, ``po_numbers``) mapped as one value."""


@dataclass(frozen=True, slots=True)
class LeafShape:
    kind: LeafKind


@dataclass(frozen=True, slots=True)
class ArrayShape:
    element: Shape


@dataclass(frozen=True, slots=True)
class ObjectShape:
    name: str
    fields: dict[str, Shape] = field(default_factory=dict)
    is_money: bool = False
    required: frozenset[str] = frozenset()
    principal: str | None = None
    """The first required field: what the object is about (a quantity's value, a price's amount)."""


Shape: TypeAlias = LeafShape | ArrayShape | ObjectShape


@dataclass(frozen=True, slots=True)
class Step:
    """One segment of a canonical target path: a field name, ``[]`` when it is a list."""

    name: str
    each: bool


_LEAVES: dict[type[mi.Type], LeafKind] = {
    mi.StrType: "str",
    mi.LiteralType: "str",
    mi.DecimalType: "decimal",
    mi.IntType: "int",
    mi.DateType: "date",
    mi.DateTimeType: "datetime",
    mi.BoolType: "bool",
}


def _shape(t: mi.Type) -> Shape:
    while True:
        if isinstance(t, mi.Metadata):
            t = t.type
        elif isinstance(t, mi.UnionType):
            options = [o for o in t.types if not isinstance(o, mi.NoneType)]
            if len(options) != 1:  # pragma: no cover - the model has no such unions
                raise TypeError(f"unsupported union {t}")
            t = options[0]
        else:
            break
    if isinstance(t, mi.StructType):
        fields = {f.name: _shape(f.type) for f in t.fields}
        required = [f.name for f in t.fields if f.required]
        return ObjectShape(
            t.cls.__name__,
            fields,
            is_money=t.cls is Money,
            required=frozenset(required),
            principal=required[0] if required else None,
        )
    if isinstance(t, (mi.VarTupleType, mi.ListType)):
        element = _shape(t.item_type)
        return ArrayShape(element)
    kind = _LEAVES.get(type(t))
    if kind is None:  # pragma: no cover - the model has no other leaf types
        raise TypeError(f"unsupported canonical type {t}")
    return LeafShape(kind)


@functools.cache
def document_shape(doc_type: DocType) -> ObjectShape:
    """The shape of one document type (``doc_type`` and ``source`` are not mappable)."""
    shape = _shape(mi.type_info(DOCUMENT_CLASSES[doc_type]))
    assert isinstance(shape, ObjectShape)
    fields = {k: v for k, v in shape.fields.items() if k not in ("doc_type", "source")}
    return ObjectShape(shape.name, fields, required=shape.required)


def parse_steps(path: str) -> list[Step]:
    """``orders[].packs[].sscc`` → steps; raises ValueError on empty segments."""
    steps: list[Step] = []
    for segment in path.split("."):
        each = segment.endswith("[]")
        name = segment[:-2] if each else segment
        if not name or not name.replace("_", "a").isalnum():
            raise ValueError(f"{segment!r} is not a field name (write names like `lines[]`)")
        steps.append(Step(name, each))
    return steps


class TargetError(ValueError):
    """A target path that does not name a mappable canonical field."""


def resolve_target(doc_type: DocType, path: str) -> tuple[list[Step], LeafKind]:
    """Check a target path against the model; return its steps and the leaf's kind.

    Raises :class:`TargetError` naming the segment that does not fit.
    """
    steps = parse_steps(path)
    shape: Shape = document_shape(doc_type)
    seen: list[str] = []
    for index, step in enumerate(steps):
        last = index == len(steps) - 1
        where = ".".join(seen) or doc_type
        if not isinstance(shape, ObjectShape):
            raise TargetError(
                f"{where} is a value, it has no field {step.name!r} (a rule is a string or a "
                "table of source, const, expr, lookup, default, optional)"
            )
        child = shape.fields.get(step.name)
        if child is None:
            known = ", ".join(shape.fields)
            raise ValueError(f"{where} has no field {step.name!r} (fields: {known})")
        seen.append(step.name + ("[]" if step.each else ""))
        if step.each:
            if not isinstance(child, ArrayShape):
                raise ValueError(f"{'.'.join(seen)}: {step.name} is not a list, drop the []")
            child = child.element
        elif isinstance(child, ArrayShape):
            if isinstance(child.element, LeafShape) and last:
                return steps, "strs"
            raise ValueError(f"{'.'.join(seen)}: {step.name} is a list, write {step.name}[]")
        shape = child
    if isinstance(shape, ObjectShape):
        first = next(iter(shape.fields))
        raise TargetError(f"{path} is an object: map its fields ({path}.{first}, ...)")
    if isinstance(shape, ArrayShape):  # pragma: no cover - lists of lists are not in the model
        raise TargetError(f"{path} is a list of lists")
    return steps, shape.kind


def object_at(doc_type: DocType, steps: list[Step]) -> ObjectShape:
    """The object shape reached by following ``steps`` (which must lead to an object)."""
    shape: Shape = document_shape(doc_type)
    for step in steps:
        assert isinstance(shape, ObjectShape)
        shape = shape.fields[step.name]
        if isinstance(shape, ArrayShape):
            shape = shape.element
    assert isinstance(shape, ObjectShape)
    return shape
