"""The policy schema: one :class:`Partner` per file, gathered into a :class:`PolicySet`.

A partner is identified by its TLS client certificate (SHA-256 fingerprint and/or subject,
several at once so that it can rotate), may send the listed formats, and has each document
type routed to the internal subjects named under ``routes``. A document type with no route is
not accepted from that partner.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec
from cryptography import x509

from wharf.model import DocType

if TYPE_CHECKING:
    from wharf.pki import CertificateInfo

__all__ = ("CertificateRule", "Format", "Partner", "PartnerId", "PolicySet", "Subject")

PartnerId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
"""A partner id is one NATS subject token: lowercase letters, digits, ``-`` and ``_``."""

Subject = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", max_length=255)
]
"""A concrete NATS subject (no wildcards) that a document type is posted to."""

_SUBJECT = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\Z")

Fingerprint = Annotated[str, msgspec.Meta(pattern=r"^sha256:[0-9a-f]{64}$")]

Format = Literal["json", "x12", "edifact", "cxml", "ubl", "csv"]


class _Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class CertificateRule(_Policy, frozen=True):
    """One accepted client certificate: by fingerprint, by subject, or both (both must match)."""

    fingerprint: Fingerprint | None = None
    subject: str | None = None
    """RFC 4514 subject as printed by ``wharf certs issue`` (e.g. ``CN=acme,O=Acme``)."""

    def __post_init__(self) -> None:
        if self.fingerprint is None and self.subject is None:
            raise ValueError("a certificate needs a fingerprint or a subject")
        if self.subject is not None:
            try:
                x509.Name.from_rfc4514_string(self.subject)
            except ValueError as exc:
                raise ValueError(f"subject is not an RFC 4514 name: {exc}") from exc

    def matches(self, cert: CertificateInfo) -> bool:
        """True when the presented certificate satisfies every criterion of this rule."""
        if self.fingerprint is not None and self.fingerprint != cert.fingerprint:
            return False
        if self.subject is not None:
            return x509.Name.from_rfc4514_string(self.subject) == x509.Name.from_rfc4514_string(
                cert.subject
            )
        return True


class Partner(_Policy, frozen=True):
    """One supplier (trading partner) as the security team declared it."""

    id: PartnerId
    name: str
    certificates: Annotated[list[CertificateRule], msgspec.Meta(min_length=1)]
    formats: list[Format] = msgspec.field(default_factory=lambda: ["json"])
    routes: dict[DocType, list[str]] = msgspec.field(default_factory=dict)
    """Document type -> the NATS subjects it is posted to (concrete subjects, no wildcards)."""
    max_body_bytes: int | None = None
    """Overrides the gateway's default body limit for this partner."""
    suspended: bool = False
    """True refuses every request from this partner at once."""

    def __post_init__(self) -> None:
        # Checked here rather than by the type: msgspec cannot name the dict key that failed.
        for doc_type, subjects in self.routes.items():
            for index, subject in enumerate(subjects):
                if not _SUBJECT.match(subject) or len(subject) > 255:
                    raise ValueError(
                        f"routes.{doc_type}[{index}]: {subject!r} is not a concrete NATS subject "
                        "(tokens of letters, digits, '-' and '_' separated by dots; no wildcards)"
                    )


class PolicySet(msgspec.Struct, frozen=True):
    """All partners in force, with lookups by id and by certificate."""

    partners: Mapping[str, Partner]

    def get(self, partner_id: str) -> Partner | None:
        return self.partners.get(partner_id)

    def partner_for(self, cert: CertificateInfo) -> Partner | None:
        """The partner whose certificate rules match ``cert`` (rules never overlap)."""
        for partner in self.partners.values():
            if any(rule.matches(cert) for rule in partner.certificates):
                return partner
        return None
