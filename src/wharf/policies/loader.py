"""Reading a policy directory: defaults, templates, one file per partner, pointed errors.

Layout (see ``docs/policies.md``)::

    policies/
      _defaults.toml          merged under every partner (optional)
      _template.edi.toml      a template; a partner opts in with  template = "edi"
      acme.toml               partner "acme" (the id is the file name)
      emea/globex.toml        partners may be grouped in folders
      _mappings/acme.toml     anything under a name starting with "_" is not a partner

A partner's effective policy is ``defaults ← template ← partner file``, merged table by table
(a later layer's key wins; arrays are replaced, never appended, so a list of scopes never
grows by inheritance). Keys that only make sense for one partner (``id``, ``name``,
``certificates``, ``oauth_client_id``, ``template``) are refused in defaults and templates.

Every error names ``file:line: key.path``; the file is the layer that wrote the offending
value (an error in an inherited route points into ``_defaults.toml``). All files are checked
and every error is reported; any error rejects the whole directory, since a bad file must
never loosen access.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args, get_origin

import msgspec

from wharf.errors import PolicyError
from wharf.policies.locate import KeyLines, KeyPath, PolicyFileError, key_lines, render_path
from wharf.policies.model import FORMATS, SCOPES, Partner, PolicySet, PolicyValueError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ("DEFAULTS_FILE", "load_policies", "partner_files")

DEFAULTS_FILE = "_defaults.toml"
TEMPLATE_GLOB = "_template.*.toml"
PARTNER_ONLY = ("id", "name", "certificates", "oauth_client_id", "template")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\Z")
_TOML_AT = re.compile(r"^(?P<message>.*) \(at line (?P<line>\d+), column \d+\)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Source:
    """One parsed file: its text, its tree and where each key is written."""

    path: Path
    tree: dict[str, Any]
    lines: KeyLines

    def error(self, message: str, path: KeyPath = ()) -> PolicyFileError:
        line = self.lines.line_of(path) or 1
        return PolicyFileError(message, file=str(self.path), line=line,
                               path=render_path(path) or None)


def _skipped(relative: Path) -> bool:
    return any(part.startswith(("_", ".")) for part in relative.parts)


def partner_files(directory: str | Path) -> list[Path]:
    """The partner files under ``directory`` (recursively; ``_*`` and ``.*`` names skipped)."""
    root = Path(directory)
    return sorted(p for p in root.rglob("*.toml") if not _skipped(p.relative_to(root)))


def load_policies(directory: str | Path) -> PolicySet:
    """Load and check every policy file in ``directory``.

    Raises :class:`~wharf.policies.locate.PolicyFileError` (a :class:`PolicyError`) naming
    the first problem, with every other one in ``errors``.
    """
    root = Path(directory)
    if not root.is_dir():
        raise PolicyFileError("not a directory", file=str(root))
    loader = _Loader(root)
    policies = loader.load()
    if loader.errors:
        raise PolicyFileError.gather(sorted(_unique(loader.errors), key=_position))
    return policies


def _position(error: PolicyError) -> tuple[str, int]:
    return error.file, getattr(error, "line", None) or 0


def _unique(errors: Iterable[PolicyError]) -> list[PolicyError]:
    seen: set[tuple[str, int | None, str | None]] = set()
    out: list[PolicyError] = []
    for error in errors:
        key = (error.file, getattr(error, "line", None), error.path)
        if key not in seen:
            seen.add(key)
            out.append(error)
    return out


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.errors: list[PolicyError] = []
        self.templates: dict[str, _Source | None] = {}

    def load(self) -> PolicySet:
        defaults_path = self.root / DEFAULTS_FILE
        defaults = self._layer(defaults_path) if defaults_path.is_file() else None
        for path in sorted(self.root.glob(TEMPLATE_GLOB)):
            name = path.name.removeprefix("_template.").removesuffix(".toml")
            if not _TEMPLATE_NAME.match(name):
                self.errors.append(PolicyFileError(
                    f"template name {name!r} must be lowercase letters, digits, '-' and '_'",
                    file=str(path),
                ))
                continue
            self.templates[name] = self._layer(path)
        partners: dict[str, Partner] = {}
        sources: dict[str, _Source] = {}
        first_file: dict[str, Path] = {}
        for path in partner_files(self.root):
            source = self._read(path)
            if source is None:
                continue
            first = first_file.setdefault(path.stem, path)
            if first != path:
                self.errors.append(source.error(
                    f"partner id {path.stem!r} is already defined in {first}", ("id",)
                ))
                continue
            partner = self._partner(source, defaults)
            if partner is not None:
                partners[partner.id] = partner
                sources[partner.id] = source
        self._check_unique_grants(partners, sources)
        self._check_mappings(partners, sources)
        return PolicySet(
            partners, directory=str(self.root),
            sources={pid: str(src.path) for pid, src in sources.items()},
        )

    # -- files -------------------------------------------------------------------------------

    def _read(self, path: Path) -> _Source | None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.errors.append(PolicyFileError(f"cannot read: {exc}", file=str(path)))
            return None
        try:
            tree = tomllib.loads(text, parse_float=Decimal)
        except tomllib.TOMLDecodeError as exc:
            match = _TOML_AT.match(str(exc))
            line = int(match["line"]) if match else None
            message = match["message"] if match else str(exc)
            self.errors.append(PolicyFileError(message, file=str(path), line=line))
            return None
        try:
            lines = key_lines(text)
        except (ValueError, IndexError):  # a construct the scanner does not know: no lines
            lines = KeyLines({})
        return _Source(path, tree, lines)

    def _layer(self, path: Path) -> _Source | None:
        """A defaults or template file: partner-only keys and unknown keys refused here."""
        source = self._read(path)
        if source is None:
            return None
        known = {f.name for f in msgspec.structs.fields(Partner)}
        ok = True
        for key in source.tree:
            if key in PARTNER_ONLY:
                self.errors.append(source.error(
                    f"{key!r} belongs in a partner's own file, not in defaults or templates",
                    (key,),
                ))
                ok = False
            elif key not in known:
                self.errors.append(source.error(_unknown_field(key, known), (key,)))
                ok = False
        return source if ok else None

    # -- one partner -------------------------------------------------------------------------

    def _partner(self, source: _Source, defaults: _Source | None) -> Partner | None:
        stem = source.path.stem
        stated = source.tree.get("id", stem)
        if stated != stem:
            self.errors.append(source.error(
                f"id {stated!r} differs from the file name {stem!r}", ("id",)
            ))
            return None
        layers = [defaults] if defaults is not None else []
        template = source.tree.get("template")
        if template is not None:
            found = self._template(source, template)
            if found is None:
                return None
            layers.append(found)
        layers.append(source)
        tree = {"id": stem}
        for layer in layers:
            tree = _merge(tree, layer.tree)
        try:
            return msgspec.convert(tree, type=Partner)
        except msgspec.ValidationError as exc:
            self.errors.append(_located(exc, tree, layers, source))
            return None

    def _template(self, source: _Source, name: object) -> _Source | None:
        if isinstance(name, str) and name in self.templates:
            found = self.templates[name]
            if found is None:  # the template itself is broken; that error is reported
                self.errors.append(source.error(f"template {name!r} has errors", ("template",)))
            return found
        known = ", ".join(sorted(self.templates)) or "none"
        self.errors.append(source.error(
            f"unknown template {name!r}: no _template.{name}.toml in {self.root} "
            f"(templates: {known})", ("template",),
        ))
        return None

    # -- across partners ---------------------------------------------------------------------

    def _check_unique_grants(
        self, partners: dict[str, Partner], sources: dict[str, _Source]
    ) -> None:
        owners: dict[tuple[str, str], tuple[str, str]] = {}
        clients: dict[str, str] = {}
        for pid, partner in partners.items():
            source = sources[pid]
            for index, rule in enumerate(partner.certificates):
                for field, value in (("fingerprint", rule.fingerprint), ("subject", rule.subject)):
                    if value is None:
                        continue
                    key = (field, _normal_subject(value) if field == "subject" else value)
                    path: KeyPath = ("certificates", index, field)
                    where = f"{source.path}:{source.lines.line_of(path) or 1}"
                    owner, first = owners.setdefault(key, (pid, where))
                    if owner != pid:
                        self.errors.append(source.error(
                            f"certificate {value} is already granted to partner {owner!r} "
                            f"({first}); one certificate identifies one partner", path,
                        ))
            other = clients.setdefault(partner.client_id, pid)
            if other != pid:
                self.errors.append(source.error(
                    f"OAuth client id {partner.client_id!r} already belongs to partner {other!r}",
                    ("oauth_client_id",),
                ))

    def _check_mappings(self, partners: dict[str, Partner], sources: dict[str, _Source]) -> None:
        partner_paths = {p.resolve() for p in partner_files(self.root)}
        for pid, partner in partners.items():
            if partner.mapping is None:
                continue
            source = sources[pid]
            path = self.root / partner.mapping
            if not path.is_file():
                self.errors.append(source.error(
                    f"mapping file {partner.mapping!r} not found in {self.root}", ("mapping",)
                ))
            elif path.resolve() in partner_paths:
                self.errors.append(source.error(
                    f"{partner.mapping!r} would also be read as a partner file; keep mappings "
                    "under a folder whose name starts with '_' (e.g. _mappings/)", ("mapping",),
                ))
            else:
                self._check_mapping(path)

    def _check_mapping(self, path: Path) -> None:
        # Imported here: the mapping compiler is only needed when a partner names a mapping.
        from wharf.codecs.mapping import load_mapping

        try:
            load_mapping(path)
        except PolicyError as exc:
            # The mapping loader puts the line in ``file`` ("x.toml:14"); split it back out.
            match = re.match(r"^(?P<file>.*):(?P<line>\d+)\Z", exc.file)
            file, line = (match["file"], int(match["line"])) if match else (exc.file, None)
            self.errors.append(PolicyFileError(exc.detail, file=file, line=line, path=exc.path))


def _normal_subject(subject: str) -> str:
    from wharf.policies.model import _name  # the same normalisation PolicySet uses

    try:
        return _name(subject).rfc4514_string()
    except ValueError:
        return subject


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        old = merged.get(key)
        merged[key] = _merge(old, value) if isinstance(value, dict) and isinstance(old, dict) else value
    return merged


# -- turning a msgspec error into file:line: key.path: message ---------------------------------

_AT = re.compile(r"^(?P<message>.*?)(?: - at (?P<key>`key` in )?`\$(?P<path>[^`]*)`)?$", re.DOTALL)
_TOKEN = re.compile(r"\.(?P<attr>[A-Za-z_][A-Za-z0-9_-]*)|\[(?P<index>\d+|\.\.\.)\]")
_FIELD = re.compile(r"^Object (?P<what>missing required|contains unknown) field `(?P<name>[^`]+)`$")
_ENUM = re.compile(r"^Invalid enum value (?P<value>'.*')$", re.DOTALL)
_ELLIPSIS = "..."

_LITERAL_NAMES = {SCOPES: "scope", FORMATS: "format"}


def _split(exc: msgspec.ValidationError) -> tuple[str, list[str | int], bool]:
    match = _AT.match(str(exc))
    assert match is not None  # the pattern matches any string
    tokens: list[str | int] = []
    for part in _TOKEN.finditer(match["path"] or ""):
        if part["attr"] is not None:
            tokens.append(part["attr"])
        else:
            tokens.append(_ELLIPSIS if part["index"] == _ELLIPSIS else int(part["index"]))
    return match["message"], tokens, bool(match["key"])


def _located(
    exc: msgspec.ValidationError,
    tree: dict[str, Any],
    layers: Sequence[_Source],
    source: _Source,
) -> PolicyFileError:
    message, tokens, is_key = _split(exc)
    tokens = _resolve_dict_keys(tree, tokens, str(exc))
    cause = exc.__cause__
    if isinstance(cause, PolicyValueError):
        message, tokens = str(cause), [*tokens, *cause.path]
    elif (field := _FIELD.match(message)) is not None:
        name = field["name"]
        if field["what"] == "contains unknown":
            message = _unknown_field(name, _field_names(tokens))
        else:
            message = f"missing required field `{name}`"
        tokens.append(name)
    elif (enum := _ENUM.match(message)) is not None:
        value = enum["value"][1:-1]
        if is_key:
            tokens.append(value)
            choices = _literal_choices(_type_at(tokens[:-1]), key=True)
        else:
            choices = _literal_choices(_type_at(tokens), key=False)
        message = _unknown_value(value, choices)
    elif is_key:
        message += " (a key)"
    path = tuple(tokens)
    owner = _owner(layers, path)
    error = owner.error(message, path)
    if owner is not source:
        error = PolicyFileError(
            f"{error.detail} (inherited by {source.path.name})",
            file=error.file, line=error.line, path=error.path,
        )
    return error


def _resolve_dict_keys(tree: dict[str, Any], tokens: list[str | int], raw: str) -> list[str | int]:
    """msgspec prints a dict key as ``[...]``: find the key by retrying with one key at a time."""
    for index, token in enumerate(tokens):
        if token != _ELLIPSIS:
            continue
        container = _get(tree, tuple(tokens[:index]))
        if not isinstance(container, dict):
            return tokens[:index]
        for key, value in container.items():
            trial = _replace(tree, tuple(tokens[:index]), {key: value})
            try:
                msgspec.convert(trial, type=Partner)
            except msgspec.ValidationError as again:
                if str(again) == raw:
                    return _resolve_dict_keys(
                        trial, [*tokens[:index], key, *tokens[index + 1 :]], raw
                    )
        return tokens[:index]
    return tokens


def _get(tree: object, path: KeyPath) -> object:
    node = tree
    for token in path:
        if isinstance(node, list) and isinstance(token, int) and 0 <= token < len(node):
            node = node[token]
            continue
        if not isinstance(node, dict) or token not in node:
            raise LookupError(token)
        node = node[token]
    return node


def _has(tree: object, path: KeyPath) -> bool:
    try:
        _get(tree, path)
    except LookupError:
        return False
    return True


def _replace(tree: Any, path: KeyPath, value: object) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(tree, list):
        copy = list(tree)
        copy[int(head)] = _replace(tree[int(head)], rest, value)
        return copy
    return {**tree, head: _replace(tree[head], rest, value)}


def _owner(layers: Sequence[_Source], path: KeyPath) -> _Source:
    """The layer that wrote the value at ``path`` in the merged tree (the highest one that
    has the deepest table on the way, or the leaf itself: arrays are never merged)."""
    owner = layers[-1]
    for depth in range(1, len(path) + 1):
        prefix = path[:depth]
        holders = [layer for layer in layers if _has(layer.tree, prefix)]
        if not holders:
            break
        owner = holders[-1]
        if not isinstance(_get(owner.tree, prefix), dict):
            break
    return owner


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is not None and type(None) in get_args(tp):
            tp = next(a for a in get_args(tp) if a is not type(None))
        else:
            return tp


def _type_at(tokens: Sequence[str | int]) -> Any:
    """The declared type at a path of :class:`Partner`, or ``None`` when it cannot be told."""
    tp: Any = Partner
    for token in tokens:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
            fields = {f.name: f.type for f in msgspec.structs.fields(tp)}
            if not isinstance(token, str) or token not in fields:
                return None
            tp = fields[token]
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return None
    return _unwrap(tp)


def _field_names(tokens: Sequence[str | int]) -> list[str]:
    tp = _type_at(tokens)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return [f.name for f in msgspec.structs.fields(tp)]
    return []


def _literal_choices(tp: Any, *, key: bool) -> tuple[str, ...]:
    if key and get_origin(tp) is dict:
        tp = _unwrap(get_args(tp)[0])
    if get_origin(tp) is Literal:
        return tuple(str(a) for a in get_args(tp))
    return ()


def _unknown_field(name: str, known: Iterable[str]) -> str:
    message = f"unknown field `{name}`"
    close = difflib.get_close_matches(name, list(known), n=1)
    return message + (f" (did you mean `{close[0]}`?)" if close else "")


def _unknown_value(value: str, choices: Sequence[str]) -> str:
    if not choices:
        return f"invalid value {value!r}"
    kind = next((n for c, n in _LITERAL_NAMES.items() if set(c) == set(choices)), None)
    kind = kind or ("document type" if "ship_notice" in choices else "value")
    close = difflib.get_close_matches(value, list(choices), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{value!r} is not a known {kind}{hint} (one of: {', '.join(choices)})"
