"""Partner policies: the security team's files that say who a partner is and what it may do.

:func:`load_policies` reads a directory once; :class:`PolicyStore` keeps the last good set in
force and hot-reloads it; :func:`diff_policies` says what a change grants or takes away.
"""

from __future__ import annotations

from wharf.policies.diff import diff_policies
from wharf.policies.loader import load_policies
from wharf.policies.locate import PolicyFileError
from wharf.policies.model import (
    SCOPES,
    CertificateRule,
    Partner,
    PolicySet,
    RateLimit,
    Scope,
    Sla,
    Tolerances,
)
from wharf.policies.store import PolicyStore, StoreStatus

__all__ = (
    "SCOPES",
    "CertificateRule",
    "Partner",
    "PolicyFileError",
    "PolicySet",
    "PolicyStore",
    "RateLimit",
    "Scope",
    "Sla",
    "StoreStatus",
    "Tolerances",
    "diff_policies",
    "load_policies",
)
