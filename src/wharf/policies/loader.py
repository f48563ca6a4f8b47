"""Reading a policy directory.

``policies/_defaults.toml`` (optional) holds keys shared by every partner; every other
``*.toml`` not starting with ``_`` is one partner whose id is the file name. A partner's
tables are merged over the defaults key by key (lists are replaced, not appended). Any error
in any file rejects the whole directory: a bad file must never loosen access.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import msgspec

from wharf.errors import PolicyError
from wharf.pointers import dotted, locate
from wharf.policies.model import Partner, PolicySet

__all__ = ("load_policies",)

DEFAULTS_FILE = "_defaults.toml"


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"cannot read: {exc.strerror}", file=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(str(exc), file=str(path)) from exc


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_policies(directory: str | Path) -> PolicySet:
    """Load and check every policy file in ``directory``; raise :class:`PolicyError` on any error."""
    root = Path(directory)
    if not root.is_dir():
        raise PolicyError("not a directory", file=str(root))
    defaults_path = root / DEFAULTS_FILE
    defaults = _read(defaults_path) if defaults_path.is_file() else {}
    partners: dict[str, Partner] = {}
    owners: dict[str, str] = {}
    for path in sorted(root.glob("*.toml")):
        if path.name.startswith("_"):
            continue
        tree = _read(path)
        stated = tree.setdefault("id", path.stem)
        if stated != path.stem:
            raise PolicyError(
                f"id {stated!r} differs from the file name {path.stem!r}", file=str(path), path="id"
            )
        try:
            partner = msgspec.convert(_merge(defaults, tree), type=Partner)
        except msgspec.ValidationError as exc:
            where = locate(exc)
            raise PolicyError(where.message, file=str(path), path=dotted(where.pointer)) from exc
        for index, rule in enumerate(partner.certificates):
            for key in (rule.fingerprint, rule.subject):
                if key is None:
                    continue
                owner = owners.setdefault(key, partner.id)
                if owner != partner.id:
                    raise PolicyError(
                        f"certificate {key} is already granted to partner {owner!r}",
                        file=str(path),
                        path=f"certificates.{index}",
                    )
        partners[partner.id] = partner
    return PolicySet(partners=partners)
