"""Which certificates stop working soon: ``wharf certs expiring --days 30``.

A policy only names certificates by fingerprint or subject, so the certificates themselves
come from PEM files: the dev PKI's folder (``<pki.dir>``, whose ``partners/`` holds what
``wharf certs issue`` wrote) or any files the security team points at. Each certificate found
is matched to the partner whose rule names it. Two things expire:

- a certificate's own ``notAfter`` (``reason = "certificate"``), and
- a policy rule's ``not_after`` window (``reason = "policy"``), which ends a partner's access
  with that certificate even though the certificate itself is still valid; these are listed
  whether or not the PEM file is at hand.

Already expired ones are listed too (``days_left`` < 0): they are the urgent ones.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import msgspec
from cryptography import x509

from wharf.errors import PkiError
from wharf.pki import describe

if TYPE_CHECKING:
    from collections.abc import Iterable

    from wharf.policies.model import PolicySet

__all__ = ("ExpiringCertificate", "expiring_certificates", "read_pem_certificates")


class ExpiringCertificate(msgspec.Struct, frozen=True, kw_only=True):
    """One certificate (or one policy grant of it) that ends within the horizon."""

    partner: str | None
    """The partner a policy rule grants it to (``None``: no rule names it)."""
    reason: Literal["certificate", "policy"]
    not_after: dt.datetime
    days_left: float
    fingerprint: str | None = None
    subject: str | None = None
    serial: str | None = None
    """Hex serial number (what a CRL or the revoked-serials file lists)."""
    file: str | None = None
    """The PEM file it was read from (``None`` for a policy window without the file)."""


def read_pem_certificates(sources: Iterable[str | Path]) -> list[tuple[Path, x509.Certificate]]:
    """Every certificate in the given PEM files and folders (``*.pem``, recursively).

    Files holding no certificate (private keys) are skipped; a file that claims to hold one
    but cannot be parsed raises :class:`PkiError` naming it.
    """
    found: list[tuple[Path, x509.Certificate]] = []
    for source in sources:
        root = Path(source)
        files = sorted(root.rglob("*.pem")) if root.is_dir() else [root]
        for path in files:
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise PkiError(f"{path}: cannot read: {exc.strerror}") from exc
            if b"-----BEGIN CERTIFICATE-----" not in data:
                continue
            try:
                found += [(path, cert) for cert in x509.load_pem_x509_certificates(data)]
            except ValueError as exc:
                raise PkiError(f"{path}: not a PEM certificate: {exc}") from exc
    return found


def expiring_certificates(
    policies: PolicySet,
    sources: Iterable[str | Path],
    days: float,
    *,
    now: dt.datetime | None = None,
) -> list[ExpiringCertificate]:
    """Certificates and policy grants ending within ``days`` of ``now``, soonest first."""
    now = now or dt.datetime.now(dt.UTC)
    horizon = now + dt.timedelta(days=days)
    out: list[ExpiringCertificate] = []
    seen: set[str] = set()
    for path, cert in read_pem_certificates(sources):
        info = describe(cert)
        if info.fingerprint in seen:
            continue
        seen.add(info.fingerprint)
        owners = sorted({partner.id for partner, _ in policies.rules_for(info)})
        if info.not_after <= horizon:
            out.append(ExpiringCertificate(
                partner=owners[0] if owners else None, reason="certificate",
                not_after=info.not_after, days_left=_days(info.not_after - now),
                fingerprint=info.fingerprint, subject=info.subject, serial=f"{info.serial:x}",
                file=str(path),
            ))
    out.extend(
        ExpiringCertificate(
            partner=partner.id, reason="policy", not_after=rule.not_after,
            days_left=_days(rule.not_after - now), fingerprint=rule.fingerprint,
            subject=rule.subject,
        )
        for partner in policies.partners.values()
        for rule in partner.certificates
        if rule.not_after is not None and rule.not_after <= horizon
    )
    return sorted(out, key=lambda e: (e.not_after, e.partner or "", e.reason))


def _days(delta: dt.timedelta) -> float:
    return round(delta.total_seconds() / 86_400, 2)
