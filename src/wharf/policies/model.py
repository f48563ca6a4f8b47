"""The policy schema: one :class:`Partner` per file, gathered into a :class:`PolicySet`.

A partner is identified by its TLS client certificates (SHA-256 fingerprint and/or subject,
several at once so that it can rotate, each with an optional validity window), is granted
OAuth scopes, may send the listed formats (and versions), has each document type routed to
posting targets (NATS subjects or HTTPS URLs), and carries the business settings the pipeline
needs (tolerances, SLA timers, mapping file, X12 overrides). A document type with no route is
not accepted from that partner.

Schema evolution: fields are only ever added, with defaults, so an older file stays valid.
Unknown keys are errors (``forbid_unknown_fields``): a typo must never silently drop a
restriction. Checks that need more than a type (routing targets, windows, versions) live in
``__post_init__`` and raise :class:`PolicyValueError`, which names the key path below the
struct so that the loader can point at the line.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal, get_args
from urllib.parse import urlsplit

import msgspec
from cryptography import x509

from wharf.errors import AuthError
from wharf.model import DocType
from wharf.security.ratelimit import RateLimit

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from wharf.pki import CertificateInfo

log = logging.getLogger(__name__)

__all__ = (
    "SCOPES",
    "CertificateRule",
    "Format",
    "Partner",
    "PartnerId",
    "PolicySet",
    "PolicyValueError",
    "RateLimit",
    "Scope",
    "Sla",
    "Subject",
    "Tolerances",
)

PartnerId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
"""A partner id is one NATS subject token: lowercase letters, digits, ``-`` and ``_``."""

Subject = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", max_length=255)
]
"""A concrete NATS subject (no wildcards) that a document type is posted to."""

_SUBJECT = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\Z")

Fingerprint = Annotated[str, msgspec.Meta(pattern=r"^sha256:[0-9a-f]{64}$")]

Format = Literal["json", "x12", "edifact", "cxml", "ubl", "csv"]
FORMATS: tuple[Format, ...] = get_args(Format)

Scope = Literal[
    "acknowledgments:write",
    "ship-notices:write",
    "invoices:write",
    "inventory:write",
    "catalog:write",
    "rebate-claims:write",
    "returns:write",
    "purchase-orders:read",
    "traces:read",
]
"""OAuth scopes a partner may be granted (DESIGN.md, Partner API)."""
SCOPES: tuple[Scope, ...] = get_args(Scope)

Version = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]

# What a version string looks like per format; json and csv versions are free-form labels.
_VERSION_SHAPES: Mapping[str, tuple[re.Pattern[str], str]] = {
    "x12": (re.compile(r"^\d{6}[A-Z0-9]{0,6}\Z"), "a GS08 version like '004010' or '005010VICS'"),
    "edifact": (re.compile(r"^D\d{2}[A-Z]\Z"), "a directory like 'D96A' or 'D01B'"),
    "cxml": (re.compile(r"^\d+\.\d+(\.\d+)?\Z"), "a version like '1.2.063'"),
    "ubl": (re.compile(r"^\d+\.\d+\Z"), "a version like '2.1'"),
}
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")

AwareDatetime = Annotated[dt.datetime, msgspec.Meta(tz=True)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]


class PolicyValueError(ValueError):
    """A value that its type allows but the policy does not; ``path`` is relative to the struct.

    msgspec wraps it in a ``ValidationError`` (path of the struct) and keeps it as
    ``__cause__``; the loader joins both paths to find the line.
    """

    def __init__(self, message: str, *path: str | int) -> None:
        super().__init__(message)
        self.path = path


class _Policy(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class CertificateRule(_Policy, frozen=True):
    """One accepted client certificate: by fingerprint, by subject, or both (both must match).

    ``not_before`` / ``not_after`` bound when the policy accepts it, on top of the
    certificate's own validity: during a rotation the old certificate gets a ``not_after``
    and the new one a ``not_before``, and both can be listed at once.
    """

    fingerprint: Fingerprint | None = None
    subject: str | None = None
    """RFC 4514 subject as printed by ``wharf certs issue`` (e.g. ``CN=acme,O=Acme``)."""
    not_before: AwareDatetime | None = None
    """Accepted from this instant (TOML offset datetime, e.g. ``2025-01-01T00:00:00Z``)."""
    not_after: AwareDatetime | None = None
    """Accepted until this instant."""

    def __post_init__(self) -> None:
        if self.fingerprint is None and self.subject is None:
            raise PolicyValueError("a certificate needs a fingerprint or a subject")
        if self.subject is not None:
            try:
                _name(self.subject)
            except ValueError as exc:
                why = f": {exc}" if str(exc) else ""
                raise PolicyValueError(
                    f"{self.subject!r} is not an RFC 4514 name (e.g. 'CN=acme,O=Acme', no "
                    f"space after commas){why}", "subject"
                ) from None
        if self.not_before and self.not_after and self.not_before >= self.not_after:
            raise PolicyValueError("must be later than not_before", "not_after")

    def matches(self, cert: CertificateInfo) -> bool:
        """True when the presented certificate satisfies every criterion of this rule."""
        if self.fingerprint is not None and self.fingerprint != cert.fingerprint:
            return False
        if self.subject is not None:
            try:
                return _name(self.subject) == _name(cert.subject)
            except ValueError:
                return False
        return True

    def in_window(self, now: dt.datetime) -> bool:
        """True when the policy accepts this certificate at ``now`` (its own window only)."""
        return (self.not_before is None or self.not_before <= now) and (
            self.not_after is None or now < self.not_after
        )

    def describe(self) -> str:
        """A one-line summary for diffs and listings."""
        parts = [f"fingerprint {self.fingerprint}"] if self.fingerprint else []
        if self.subject:
            parts.append(f"subject {self.subject}")
        if self.not_before:
            parts.append(f"from {self.not_before.isoformat()}")
        if self.not_after:
            parts.append(f"until {self.not_after.isoformat()}")
        return ", ".join(parts)


@functools.lru_cache(maxsize=4096)
def _name(rfc4514: str) -> x509.Name:
    return x509.Name.from_rfc4514_string(rfc4514)


class Tolerances(_Policy, frozen=True):
    """How far a partner's acknowledgment or invoice may deviate before a buyer must look.

    Percentages are of the PO's value (``2.5`` = 2.5 %); ``date_days`` is how many days a
    promised date may move. The defaults are strict: any deviation is an exception.
    """

    quantity_percent: Decimal = Decimal(0)
    price_percent: Decimal = Decimal(0)
    date_days: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        for name in ("quantity_percent", "price_percent", "date_days"):
            value: Decimal = getattr(self, name)
            if not value.is_finite() or value < 0:
                raise PolicyValueError(f"must be a number >= 0, not {value}", name)


class Sla(_Policy, frozen=True):
    """Service-level timers that raise alerts when a partner is late."""

    ack_due_hours: NonNegative = 24.0
    """A PO acknowledgment is due this many hours after the PO reached the partner."""
    asn_due_before_ship_days: NonNegative = 0.0
    """A ship notice is due this many days before the PO's requested date (0: by that date)."""
    invoice_due_after_ship_days: NonNegative = 30.0
    """An invoice is due this many days after the ship notice."""


class Partner(_Policy, frozen=True):
    """One supplier (trading partner) as the security team declared it."""

    id: PartnerId
    name: str
    certificates: Annotated[list[CertificateRule], msgspec.Meta(min_length=1)]
    template: str | None = None
    """The ``_template.<name>.toml`` this partner inherits from (between defaults and file)."""
    oauth_client_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9._:-]{1,128}$")] | None = None
    """The ``client_id`` for the token endpoint; defaults to the partner id."""
    scopes: list[Scope] = msgspec.field(default_factory=list)
    """Granted OAuth scopes; none by default (least privilege)."""
    identifiers: list[Annotated[str, msgspec.Meta(min_length=1, max_length=64)]] = (
        msgspec.field(default_factory=list)
    )
    """Other ids this supplier names itself by in its documents (X12 ISA06/GS02 sender id,
    EDIFACT UNB sender, GLN, D-U-N-S): a document naming any other supplier is refused."""
    rate_limit: RateLimit | None = None
    """Requests and documents per window; ``None`` leaves the gateway's default."""
    formats: list[Format] = msgspec.field(default_factory=lambda: ["json"])
    versions: dict[Format, list[Version]] = msgspec.field(default_factory=dict)
    """Per format, the versions accepted; a format not listed here takes any version."""
    routes: dict[DocType, list[str]] = msgspec.field(default_factory=dict)
    """Document type -> posting targets: concrete NATS subjects or ``https://`` URLs."""
    validation: Literal["full", "document"] = "full"
    """``full``: every document is checked against master data, its PO and the tolerances
    (outside them a buyer decides); ``document``: only the document itself and the
    sender's identity are checked (a partner being onboarded, or no ERP data yet)."""
    tolerances: Tolerances = msgspec.field(default_factory=Tolerances)
    sla: Sla = msgspec.field(default_factory=Sla)
    mapping: str | None = None
    """A declarative mapping file, relative to the policy directory."""
    x12_overrides: dict[str, str] = msgspec.field(default_factory=dict)
    """Item-identifier overrides for X12 (see :mod:`wharf.codecs.x12.overrides`)."""
    max_body_bytes: Annotated[int, msgspec.Meta(gt=0)] | None = None
    """Overrides the gateway's default body limit for this partner."""
    suspended: bool = False
    """True refuses every request from this partner at once."""

    def __post_init__(self) -> None:
        if self.oauth_client_id is None:
            msgspec.structs.force_setattr(self, "oauth_client_id", self.id)
        _check_unique(self.scopes, "scopes")
        _check_unique(self.formats, "formats")
        self._check_versions()
        for doc_type, targets in self.routes.items():
            for index, target in enumerate(targets):
                _check_target(target, ("routes", doc_type, index))
            _check_unique(targets, "routes", doc_type)
        if self.mapping is not None:
            _check_mapping_path(self.mapping)
        self._check_overrides()

    @property
    def client_id(self) -> str:
        """The OAuth client id (``oauth_client_id``, which defaults to the partner id)."""
        return self.oauth_client_id or self.id

    def is_self(self, supplier_id: str) -> bool:
        """True when a document's supplier id names this partner (its id or an identifier)."""
        claimed = supplier_id.strip().casefold()
        return claimed == self.id or claimed in {i.strip().casefold() for i in self.identifiers}

    def subjects(self, doc_type: DocType) -> list[str]:
        """The NATS subjects a document type is posted to."""
        return [t for t in self.routes.get(doc_type, ()) if not t.startswith("https://")]

    def http_targets(self, doc_type: DocType) -> list[str]:
        """The HTTPS posting targets a document type is posted to."""
        return [t for t in self.routes.get(doc_type, ()) if t.startswith("https://")]

    def accepts(self, fmt: Format, version: str | None = None) -> bool:
        """True when this partner may send ``fmt`` (and, when known, that version of it).

        A version as a codec records it may carry more than the policy lists: an X12 industry
        suffix (``004010VICS``) or an EDIFACT association code (``D96A/EAN008``); its base
        version (``004010``, ``D96A``) counts too.
        """
        if fmt not in self.formats:
            return False
        allowed = self.versions.get(fmt)
        if allowed is None or version is None or version in allowed:
            return True
        base = version.split("/", 1)[0]
        return (base[:6] if fmt == "x12" else base) in allowed

    def _check_versions(self) -> None:
        for fmt, versions in self.versions.items():
            if fmt not in self.formats:
                raise PolicyValueError(
                    f"format {fmt!r} is not in formats {self.formats}; add it there first",
                    "versions", fmt,
                )
            if not versions:
                raise PolicyValueError("list at least one version, or remove the key", "versions", fmt)
            pattern, shape = _VERSION_SHAPES.get(fmt, (_LABEL, "a label of letters and digits"))
            for index, version in enumerate(versions):
                if not pattern.match(version):
                    raise PolicyValueError(
                        f"{version!r} is not {shape}", "versions", fmt, index
                    )
            _check_unique(versions, "versions", fmt)

    def _check_overrides(self) -> None:
        if not self.x12_overrides:
            return
        # Imported here: only partners with overrides need the X12 codec package loaded.
        from wharf.codecs.x12.overrides import ItemOverrides

        if "x12" not in self.formats:
            raise PolicyValueError("X12 overrides need 'x12' in formats", "x12_overrides")
        for key, value in self.x12_overrides.items():
            try:
                ItemOverrides.parse({key: value})
            except ValueError as exc:
                message = str(exc).removeprefix("x12 overrides: ").removeprefix(f"{key!r}: ")
                raise PolicyValueError(message, "x12_overrides", key) from None
        try:
            ItemOverrides.parse(self.x12_overrides)
        except ValueError as exc:
            raise PolicyValueError(str(exc).removeprefix("x12 overrides: "),
                                   "x12_overrides") from None


def _check_unique(values: Sequence[str], *path: str | int) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise PolicyValueError(f"{value!r} is listed twice", *path, index)
        seen.add(value)


def _check_target(target: str, path: tuple[str | int, ...]) -> None:
    if target.startswith("https://"):
        parts = urlsplit(target)
        if not parts.hostname:
            raise PolicyValueError(f"{target!r} has no host", *path)
        if parts.username is not None or parts.password is not None:
            # Credentials belong in settings (secrets), never in a reviewed policy file.
            raise PolicyValueError("an HTTP target must not carry credentials in its URL", *path)
        if parts.fragment:
            raise PolicyValueError(f"{target!r} must not have a #fragment", *path)
        return
    if "://" in target:
        raise PolicyValueError(
            f"{target!r}: HTTP posting targets must use https://", *path
        )
    if not _SUBJECT.match(target) or len(target) > 255:
        raise PolicyValueError(
            f"{target!r} is not a concrete NATS subject (tokens of letters, digits, '-' and "
            "'_' separated by dots; no wildcards) nor an https:// URL", *path
        )


def _check_mapping_path(mapping: str) -> None:
    parts = mapping.replace("\\", "/").split("/")
    if mapping.startswith("/") or ".." in parts or not mapping.strip():
        raise PolicyValueError(
            f"{mapping!r} must be a path inside the policy directory (relative, no '..')",
            "mapping",
        )


class PolicySet:
    """All partners in force, with lookups by id, OAuth client id and certificate.

    Read-only once built. ``directory`` is where the files were read from (mapping paths
    are relative to it) and ``sources`` maps each partner id to its file.
    """

    __slots__ = ("_by_client", "_by_fingerprint", "_by_subject", "directory", "partners", "sources")

    def __init__(
        self,
        partners: Mapping[str, Partner],
        *,
        directory: str | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self.partners: Mapping[str, Partner] = dict(partners)
        self.directory = directory
        self.sources: Mapping[str, str] = dict(sources or {})
        self._by_client = {p.client_id: p for p in self.partners.values()}
        self._by_fingerprint: dict[str, list[tuple[Partner, CertificateRule]]] = {}
        self._by_subject: dict[str, list[tuple[Partner, CertificateRule]]] = {}
        for partner in self.partners.values():
            for rule in partner.certificates:
                if rule.fingerprint is not None:
                    self._by_fingerprint.setdefault(rule.fingerprint, []).append((partner, rule))
                else:
                    assert rule.subject is not None  # a rule has one or the other
                    key = _name(rule.subject).rfc4514_string()
                    self._by_subject.setdefault(key, []).append((partner, rule))

    def __repr__(self) -> str:
        return f"PolicySet({sorted(self.partners)}, directory={self.directory!r})"

    def get(self, partner_id: str) -> Partner | None:
        return self.partners.get(partner_id)

    def by_client_id(self, client_id: str) -> Partner | None:
        """The partner whose OAuth client id this is."""
        return self._by_client.get(client_id)

    def rules_for(self, cert: CertificateInfo) -> Iterator[tuple[Partner, CertificateRule]]:
        """Every (partner, rule) whose fingerprint/subject matches ``cert``, ignoring time."""
        candidates = list(self._by_fingerprint.get(cert.fingerprint, ()))
        try:
            candidates += self._by_subject.get(_name(cert.subject).rfc4514_string(), ())
        except ValueError:
            pass
        for partner, rule in candidates:
            if rule.matches(cert):
                yield partner, rule

    def partner_for(self, cert: CertificateInfo, now: dt.datetime | None = None) -> Partner | None:
        """The partner ``cert`` identifies at ``now``, or ``None`` (see :meth:`identify`)."""
        try:
            return self.identify(cert, now, allow_suspended=True)
        except AuthError:
            return None

    def identify(
        self, cert: CertificateInfo, now: dt.datetime | None = None, *,
        allow_suspended: bool = False,
    ) -> Partner:
        """The partner ``cert`` identifies at ``now``; :class:`AuthError` says why not.

        Refused: a certificate outside its own validity (401), one that no rule names or
        whose rules are all outside their policy window (401 when a rule names it, 403
        otherwise), one that rules of two partners match (403: never guess), and a
        suspended partner (403) unless ``allow_suspended``.
        """
        now = now or dt.datetime.now(dt.UTC)
        if now < cert.not_before:
            raise _unauthenticated(
                f"certificate {cert.fingerprint} is not valid before {cert.not_before.isoformat()}"
            )
        if now >= cert.not_after:
            raise _unauthenticated(
                f"certificate {cert.fingerprint} expired at {cert.not_after.isoformat()}"
            )
        matched = list(self.rules_for(cert))
        if not matched:
            raise AuthError(f"certificate {cert.fingerprint} ({cert.subject}) is not registered")
        owners = {partner.id for partner, _ in matched}
        if len(owners) > 1:
            # Never tell one partner another's id: the names go to the log only.
            log.error("certificate %s is claimed by partners %s; refused until the policy is "
                      "fixed", cert.fingerprint, ", ".join(sorted(owners)))
            raise AuthError(
                f"certificate {cert.fingerprint} is claimed by more than one partner; "
                "refused until the policy is fixed"
            )
        current = [partner for partner, rule in matched if rule.in_window(now)]
        if not current:
            partner, rule = matched[0]
            raise _unauthenticated(
                f"certificate {cert.fingerprint} is outside its window in partner "
                f"{partner.id}'s policy ({rule.describe()})"
            )
        partner = current[0]
        if partner.suspended and not allow_suspended:
            raise AuthError(f"partner {partner.id} is suspended")
        return partner


def _unauthenticated(detail: str) -> AuthError:
    return AuthError(detail, status=401, title="Unauthenticated")
