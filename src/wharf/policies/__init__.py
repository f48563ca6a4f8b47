"""Partner policies: the security team's files that say who a partner is and what it may do."""

from __future__ import annotations

from wharf.policies.loader import load_policies
from wharf.policies.model import CertificateRule, Partner, PolicySet

__all__ = ("CertificateRule", "Partner", "PolicySet", "load_policies")
