"""Applying a compiled mapping to one supplier document, and pointing errors back at it.

The plan is evaluated into a plain dict shaped like canonical JSON, which then goes through
``wharf.model.decode_document`` — so a mapped document passes exactly the validation a
canonical JSON document does. When that validation fails, msgspec names a canonical path
(``$.lines[3].quantity.uom``); the supplier needs to know which of *their* fields is wrong, so
the document is built a second time recording, for every canonical position, the source it was
read from (a JSON pointer into their JSON, ``/rows/<n>/<column>`` into their CSV), and the
error's canonical pointer is translated through that record. The record is only kept on the
error path: the good path builds once and tracks nothing.
"""

from __future__ import annotations

import msgspec

from wharf.codecs.mapping.expr import Node, Problem, Scope, is_missing
from wharf.codecs.mapping.plan import LeafPlan, Mapping, ObjectPlan
from wharf.errors import DocumentError
from wharf.model import Document, decode_document
from wharf.pointers import locate

__all__ = ("decode_mapped", "dotted_path")

_ENCODER = msgspec.json.Encoder(decimal_format="string")


class _State:
    __slots__ = ("currency", "mapping", "provenance")

    def __init__(self, mapping: Mapping, provenance: dict[str, str] | None) -> None:
        self.mapping = mapping
        self.provenance = provenance
        self.currency: object = None


def decode_mapped(mapping: Mapping, scope: Scope, *, origin: str, position: str) -> Document:
    """One canonical document from ``scope``; raises a pointed :class:`DocumentError`.

    ``origin`` points at the whole document in the supplier's input (``""``, ``/rows/3``).
    """
    tree = _build(mapping, scope, origin, None)
    tree["source"] = {"format": mapping.spec.input, "version": mapping.name, "position": position}
    try:
        return decode_document(_ENCODER.encode(tree), doc_type=mapping.doc_type)
    except msgspec.ValidationError as exc:
        where = locate(exc)
        provenance: dict[str, str] = {}
        _build(mapping, scope, origin, provenance)
        pointer = _translate(where.pointer, provenance)
        field = dotted_path(where.pointer)
        detail = f"{where.message} (canonical field {field})" if field else where.message
        raise DocumentError(detail, pointer=where.pointer if pointer is None else pointer) from None


def dotted_path(pointer: str) -> str:
    """``/lines/3/quantity/uom`` → ``lines[3].quantity.uom``."""
    out = ""
    for token in pointer.split("/")[1:]:
        if token.isdigit():
            out += f"[{token}]"
        else:
            out += ("." if out else "") + token.replace("~1", "/").replace("~0", "~")
    return out


def _translate(pointer: str, provenance: dict[str, str]) -> str | None:
    found = provenance.get(pointer)
    if found is not None:
        return found
    # A struct-level rule ("an item needs one of sku, gtin...") or a missing field: the first
    # source read beneath it is the best place to look.
    below = pointer + "/"
    for key, value in provenance.items():
        if key.startswith(below):
            return value
    while pointer:
        pointer = pointer.rpartition("/")[0]
        found = provenance.get(pointer)
        if found is not None:
            return found
    return None


def _build(
    mapping: Mapping, scope: Scope, origin: str, provenance: dict[str, str] | None
) -> dict[str, object]:
    state = _State(mapping, provenance)
    if provenance is not None:
        provenance[""] = origin
    return _object(mapping.root, scope, "", state)


def _object(plan: ObjectPlan, scope: Scope, at: str, state: _State) -> dict[str, object]:
    out: dict[str, object] = {}
    real = False
    for leaf in plan.leaves:
        value, defaulted = _leaf(leaf, scope, f"{at}/{leaf.name}", state)
        if value is not None:
            out[leaf.name] = value
            real = real or not defaulted
            if not at and leaf.name == "currency":
                state.currency = value
    for name, sub in plan.objects.items():
        child = _object(sub, scope, f"{at}/{name}", state)
        if child:
            out[name] = child
            real = True
        elif not sub.optional:
            out[name] = child  # so validation says which of its fields is missing
    for name, array in plan.arrays.items():
        here = f"{at}/{name}"
        try:
            elements = list(array.binding.elements(scope))
        except Problem as problem:
            raise DocumentError(
                f"{problem.message} (canonical field {dotted_path(here)})",
                pointer=_pointer(problem.node, scope, here),
            ) from None
        items: list[object] = []
        for element_scope, element_origin in elements:
            element_at = f"{here}/{len(items)}"
            if state.provenance is not None:
                state.provenance[element_at] = element_origin
            if isinstance(array.element, LeafPlan):
                value, _ = _leaf(array.element, element_scope, element_at, state)
                if value is not None:
                    items.append(value)
            else:
                items.append(_object(array.element, element_scope, element_at, state))
        if items:
            out[name] = items
            real = True
    if plan.money and out and "currency" not in out and state.currency is not None:
        # A price without its own currency is in the document's currency.
        out["currency"] = state.currency
    if plan.optional and not (real and (plan.principal is None or plan.principal in out)):
        # An optional object the supplier did not really send is left out: one with only
        # defaults (a `quantity` with just its default uom), or without the value it is about
        # (a `min_quantity` with a unit but no value). One with a value but no unit stays,
        # so that validation reports the missing unit.
        return {}
    return out


def _leaf(leaf: LeafPlan, scope: Scope, at: str, state: _State) -> tuple[object, bool]:
    """The leaf's value, and whether it is the rule's default."""
    if state.provenance is not None and leaf.origin is not None:
        state.provenance[at] = scope.pointer(leaf.origin.ref)
    try:
        value = leaf.node.eval(scope)
        if is_missing(value):
            return leaf.default, True
        return state.mapping.formats.coerce(value, leaf.kind, leaf.node), False
    except Problem as problem:
        raise DocumentError(
            f"{problem.message} (canonical field {dotted_path(at)})",
            pointer=_pointer(problem.node, scope, at),
        ) from None


def _pointer(node: Node | None, scope: Scope, fallback: str) -> str:
    if node is not None:
        path = next(node.paths(), None)
        if path is not None:
            return scope.pointer(path.ref)
    return fallback
