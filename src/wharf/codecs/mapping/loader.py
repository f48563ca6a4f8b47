"""Reading a mapping file: TOML, ``extends``, one rule per canonical path, pointed errors.

A mapping may extend a built-in template (``extends = "ship_notice_csv"``) or another mapping
file (``extends = "base.toml"``, relative to the file). The base is read first and the
mapping's tables are merged over it key by key; ``[fields]`` is merged per canonical path, so
overriding one rule leaves the others in place, whether either side writes paths as quoted
keys (``"lines[].quantity.value" = "qty"``) or as nested tables (``[fields."lines[]".quantity]``).

Every error is a :class:`~wharf.errors.PolicyError` naming the file, the key path and, when it
can be found in the text, the line (``acme.toml:14``).
"""

from __future__ import annotations

import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from wharf.codecs.mapping.plan import Mapping, SpecError, compile_mapping
from wharf.codecs.mapping.spec import RULE_KEYS, ArraySpec, MappingSpec, RuleSpec
from wharf.codecs.mapping.templates import TEMPLATES
from wharf.errors import PolicyError
from wharf.pointers import dotted, locate

__all__ = ("load_mapping", "parse_mapping")


def load_mapping(path: str | Path) -> Mapping:
    """Load and check the mapping file at ``path``; raises :class:`PolicyError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read: {exc}", file=str(path)) from exc
    return parse_mapping(text, file=str(path), name=path.stem, base=path.parent)


def parse_mapping(
    text: str, *, file: str = "<mapping>", name: str | None = None, base: Path | None = None
) -> Mapping:
    """Load a mapping from its TOML text (``base`` resolves a relative ``extends``)."""
    tree = _read(text, file)
    merged = _extend(tree, file, text, base, {file})
    spec = _convert(merged, file, text)
    try:
        return compile_mapping(spec, name=spec.name or name or "mapping", file=file)
    except SpecError as exc:
        raise _error(exc.message, file, text, exc.keys) from None


def _read(text: str, file: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(str(exc), file=file) from None


def _extend(
    tree: dict[str, Any], file: str, text: str, base: Path | None, seen: set[str]
) -> dict[str, Any]:
    tree = dict(tree)
    fields = tree.get("fields", {})
    if not isinstance(fields, dict):
        raise _error("must be a table", file, text, ("fields",))
    tree["fields"] = _flatten(fields, "")
    arrays = tree.get("arrays", {})
    if isinstance(arrays, dict):
        tree["arrays"] = {key.removesuffix("[]"): value for key, value in arrays.items()}
    parent = tree.pop("extends", None)
    if parent is None:
        return tree
    if not isinstance(parent, str):
        raise _error("must be a template name or a file", file, text, ("extends",))
    if parent in TEMPLATES:
        origin, parent_text, parent_base = f"<template {parent}>", TEMPLATES[parent], None
    elif parent.endswith(".toml"):
        parent_path = (base or Path()) / parent
        origin, parent_base = str(parent_path), parent_path.parent
        if origin in seen:
            raise _error(f"extends itself through {parent}", file, text, ("extends",))
        try:
            parent_text = parent_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise _error(f"cannot read {parent}: {exc}", file, text, ("extends",)) from None
    else:
        known = ", ".join(TEMPLATES)
        message = f"unknown template {parent!r} (built in: {known}; or a .toml file)"
        raise _error(message, file, text, ("extends",))
    parent_tree = _read(parent_text, origin)
    inherited = _extend(parent_tree, origin, parent_text, parent_base, {*seen, origin})
    inherited.pop("name", None)
    inherited.pop("description", None)
    return _merge(inherited, tree)


def _flatten(tree: dict[str, Any], prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict) and not value.keys() & RULE_KEYS:
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


# A rule or a list binding is replaced as a whole, never merged key by key: an overriding
# `{ expr = ... }` must not keep the template's `source`.
_PER_KEY = ("fields", "arrays")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            merged[key] = {**old, **value} if key in _PER_KEY else _merge(old, value)
        else:
            merged[key] = value
    return merged


def _convert(tree: dict[str, Any], file: str, text: str) -> MappingSpec:
    # Rules, tables and arrays are converted one by one so that an error names its key
    # (msgspec cannot say which dict key a nested error is under).
    fields: dict[str, str | RuleSpec] = {}
    for target, raw in tree.pop("fields", {}).items():
        fields[target] = _one(raw, str | RuleSpec, file, text, ("fields", target))
    arrays: dict[str, str | ArraySpec] = {}
    raw_arrays = tree.pop("arrays", {})
    if not isinstance(raw_arrays, dict):
        raise _error("must be a table", file, text, ("arrays",))
    for target, raw in raw_arrays.items():
        arrays[target] = _one(raw, str | ArraySpec, file, text, ("arrays", target))
    tables: dict[str, dict[str, str]] = {}
    raw_tables = tree.pop("tables", {})
    if not isinstance(raw_tables, dict):
        raise _error("must be a table", file, text, ("tables",))
    for table, raw in raw_tables.items():
        if not isinstance(raw, dict):
            raise _error("must be a table of code = value", file, text, ("tables", table))
        for code, value in raw.items():
            if not isinstance(value, str):
                raise _error("must be a string", file, text, ("tables", table, code))
        tables[table] = raw
    try:
        spec = msgspec.convert(tree, type=MappingSpec)
    except msgspec.ValidationError as exc:
        where = locate(exc)
        keys = tuple(dotted(where.pointer).split(".")) if where.pointer else ()
        raise _error(where.message, file, text, keys) from None
    return msgspec.structs.replace(spec, fields=fields, arrays=arrays, tables=tables)


def _one(raw: object, kind: Any, file: str, text: str, keys: tuple[str, ...]) -> Any:
    try:
        return msgspec.convert(raw, type=kind)
    except msgspec.ValidationError as exc:
        where = locate(exc)
        inner = tuple(dotted(where.pointer).split(".")) if where.pointer else ()
        message = where.message
        if message.startswith("Expected `str | object`"):
            message = "expected a source path (string) or a rule table"
        raise _error(message, file, text, keys + inner) from None


def _key(token: str) -> str:
    return token if re.fullmatch(r"[A-Za-z0-9_-]+", token) else f'"{token}"'


def _error(message: str, file: str, text: str, keys: tuple[str, ...]) -> PolicyError:
    line = _line_of(text, keys)
    where = f"{file}:{line}" if line else file
    return PolicyError(message, file=where, path=".".join(_key(k) for k in keys) or None)


def _line_of(text: str, keys: tuple[str, ...]) -> int | None:
    """Best effort: the line where the key path's last key is written, searching in order."""
    lines = text.splitlines()
    start, found = 0, None
    for key in keys:
        tokens = [key, *key.split(".")[-1:]] if "." in key else [key]
        hit = None
        for token in tokens:
            pattern = re.compile(
                r"(^|[\s{,.\[\"'])" + re.escape(token) + r"[\"']?\s*(=|\.|\]|\"|$)"
            )
            for number in range(start, len(lines)):
                stripped = lines[number].split("#", 1)[0]
                if pattern.search(stripped):
                    hit = number
                    break
            if hit is not None:
                break
        if hit is None:
            continue
        start, found = hit, hit + 1
    return found
