"""What a policy change does, per partner, in words a reviewer can check.

``wharf policy diff OLD NEW`` and the hot reloader's audit entries both print these lines.
They describe the *effective* policy (after defaults and templates are merged), so a change
to ``_defaults.toml`` shows up under every partner it affects. One line per change::

    acme: scopes removed: invoices:write
    acme: rate_limit: 100 requests + 1000 documents per 60s (burst 100) → 50 requests + ...
    acme: routes.ship_notice: wms.receipts.expected → wms.receipts.expected, erp.purchasing.asn
    globex: certificate added: fingerprint sha256:..., from 2025-06-01T00:00:00+00:00
    initech: partner added (Initech Corp)
    initech: scopes added: ship-notices:write

Every field of :class:`~wharf.policies.model.Partner` is compared; fields without a special
rendering fall back to ``key.path: old → new``, so a field added to the schema later is never
silently left out of the diff.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from wharf.policies.model import Partner, PolicySet, RateLimit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = ("diff_partner", "diff_policies")

_NONE = "(none)"


def diff_policies(old: PolicySet, new: PolicySet) -> list[str]:
    """Every effective change from ``old`` to ``new``, partners in id order."""
    lines: list[str] = []
    for partner_id in sorted(old.partners.keys() | new.partners.keys()):
        lines += diff_partner(old.get(partner_id), new.get(partner_id))
    return lines


def diff_partner(old: Partner | None, new: Partner | None) -> list[str]:
    """The changes to one partner; an added partner lists everything it is granted."""
    if new is None:
        if old is None:
            return []
        return [f"{old.id}: partner removed ({old.name}); its certificates no longer identify it"]
    changes: list[str] = []
    if old is None:
        changes.append(f"partner added ({new.name})")
    for field in msgspec.structs.fields(Partner):
        name = field.name
        if name == "id" or (old is None and name == "name"):
            continue
        # An added partner is compared with the schema's defaults: only what it is given shows.
        before = getattr(old, name) if old is not None else _default(field)
        after = getattr(new, name)
        if before == after or (old is None and name == "oauth_client_id" and after == new.id):
            continue
        render = _SPECIAL.get(name, _generic)
        changes += render(name, before, after)
    return [f"{new.id}: {change}" for change in changes]


def _default(field: msgspec.structs.FieldInfo) -> Any:
    if field.default is not msgspec.NODEFAULT:
        return field.default
    if field.default_factory is not msgspec.NODEFAULT:
        return field.default_factory()
    return None


# -- renderings --------------------------------------------------------------------------------


def _set_change(label: str, before: Iterable[str] | None, after: Iterable[str]) -> list[str]:
    old, new = list(before or ()), list(after)
    added = [v for v in new if v not in old]
    removed = [v for v in old if v not in new]
    out = []
    if added:
        out.append(f"{label} added: {', '.join(added)}")
    if removed:
        out.append(f"{label} removed: {', '.join(removed)}")
    return out


def _scopes(_: str, before: Any, after: Any) -> list[str]:
    return _set_change("scopes", before, after)


def _formats(_: str, before: Any, after: Any) -> list[str]:
    return _set_change("formats", before, after)


def _certificates(_: str, before: Any, after: Any) -> list[str]:
    old = [rule.describe() for rule in before or ()]
    new = [rule.describe() for rule in after]
    return [f"certificate added: {c}" for c in new if c not in old] + [
        f"certificate removed: {c}" for c in old if c not in new
    ]


def _per_key(label: str, before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    old = dict(before or {})
    out = []
    for key in sorted(old.keys() | after.keys()):
        was, now = old.get(key), after.get(key)
        if was != now:
            out.append(f"{label}.{key}: {_value(was)} → {_value(now)}")
    return out


def _routes(_: str, before: Any, after: Any) -> list[str]:
    return _per_key("routes", before, after)


def _versions(_: str, before: Any, after: Any) -> list[str]:
    return _per_key("versions", before, after)


def _x12_overrides(_: str, before: Any, after: Any) -> list[str]:
    return _per_key("x12_overrides", before, after)


def _suspended(_: str, before: Any, after: Any) -> list[str]:
    if after:
        return ["SUSPENDED: every request is refused"]
    return ["no longer suspended"] if before else []


def _rate_limit(name: str, before: Any, after: Any) -> list[str]:
    return [f"{name}: {_limit(before)} → {_limit(after)}"]


def _limit(limit: RateLimit | None) -> str:
    if limit is None:
        return "gateway default"
    text = (
        f"{limit.requests_per_window} requests + {limit.documents_per_window} documents per "
        f"{limit.window_seconds:g}s (burst {limit.capacity('requests')}"
    )
    if limit.documents_burst is not None:
        text += f", documents burst {limit.documents_burst}"
    return text + ")"


def _struct(name: str, before: Any, after: Any) -> list[str]:
    old = msgspec.to_builtins(before) if before is not None else {}
    new = msgspec.to_builtins(after)
    return _per_key(name, old, new)


def _generic(name: str, before: Any, after: Any) -> list[str]:
    if isinstance(after, msgspec.Struct):
        return _struct(name, before, after)
    return [f"{name}: {_value(before)} → {_value(after)}"]


def _value(value: Any) -> str:
    if value is None:
        return _NONE
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "[] (nothing)"
    return str(value)


_SPECIAL: Mapping[str, Callable[[str, Any, Any], list[str]]] = {
    "scopes": _scopes,
    "formats": _formats,
    "certificates": _certificates,
    "routes": _routes,
    "versions": _versions,
    "x12_overrides": _x12_overrides,
    "suspended": _suspended,
    "rate_limit": _rate_limit,
}
