"""Settings: ``wharf.toml`` plus ``WHARF_*`` environment, decoded once into frozen Structs.

Every section is a frozen msgspec Struct with ``forbid_unknown_fields``: a typo in the file
or in the environment is an error that names the key, never a silently ignored option.
Defaults and units live on the fields. Each component receives its own section.

Environment overlay: ``WHARF_<SECTION>__<KEY>`` (double underscore between levels), e.g.
``WHARF_NATS__URL=nats://10.0.0.5:4222`` or ``WHARF_GATEWAY__PARTNER__PORT=9443``. Values
that look like JSON (numbers, ``true``/``false``, ``[...]``) are decoded as JSON. ``WHARF_CONFIG``
names the settings file.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from wharf.actors.outbound import OutboundSettings
from wharf.errors import ConfigError
from wharf.observability.audit import AuditSettings
from wharf.pointers import dotted, locate
from wharf.security.ratelimit import RateLimit, RateLimitSettings
from wharf.security.revocation import RevocationSettings
from wharf.security.sealing import SealingSettings
from wharf.security.tokens import OAuthSettings

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = (
    "ActorSettings",
    "BusinessSettings",
    "EmbeddedNatsSettings",
    "GatewaySettings",
    "ListenerSettings",
    "NatsSettings",
    "PkiSettings",
    "PolicySettings",
    "Settings",
    "StorageSettings",
    "StreamSettings",
    "load_settings",
)

ENV_PREFIX = "WHARF_"
CONFIG_ENV = "WHARF_CONFIG"
DEFAULT_CONFIG_FILE = "wharf.toml"


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class EmbeddedNatsSettings(_Section, frozen=True):
    """The nats-server Wharf starts itself when no NATS URL is configured."""

    host: str = "127.0.0.1"
    port: int = 4222
    """Client port; 0 picks a free one."""
    store_dir: str = "var/nats"
    ready_timeout: float = 15.0
    """Seconds to wait for the server to report readiness."""
    sync_always: bool = False
    """Fsync every write (``sync_interval: always``): slower, survives power loss."""
    encryption_key: str | None = None
    """Encrypt the JetStream store at rest with this key (nats-server's own encryption;
    set it from the environment, ``WHARF_NATS__EMBEDDED__ENCRYPTION_KEY``). Changing or
    losing it makes the existing store unreadable."""
    cipher: Literal["chachapoly", "aes"] = "chachapoly"


class NatsSettings(_Section, frozen=True):
    """How Wharf reaches NATS."""

    url: str | None = None
    """``nats://host:port[,nats://...]`` of an existing server or cluster; None = embedded."""
    embedded: EmbeddedNatsSettings = msgspec.field(default_factory=EmbeddedNatsSettings)
    connect_timeout: float = 5.0
    ping_interval: float = 15.0
    publish_timeout: float = 10.0
    """Seconds a JetStream publish may take (leader elections stall publishes for seconds)."""


class StreamSettings(_Section, frozen=True):
    """JetStream streams Wharf creates or updates at start."""

    replicas: int = 1
    retention_days: float = 14.0
    """How long inbound documents, outbound documents and events are kept (for replay)."""
    dlq_retention_days: float = 365.0
    """How long dead letters are kept: a parked document waits for an operator."""
    duplicate_window: float = 120.0
    """Seconds within which JetStream drops a repeated Nats-Msg-Id."""
    posting_subjects: list[str] = msgspec.field(
        default_factory=lambda: [
            "erp.>", "wms.>", "tms.>", "ap.>", "planning.>", "crm.>", "finance.>", "returns.>",
        ]
    )
    """Subjects of internal systems captured by the WHARF_POST stream (empty: none)."""
    max_consumers: int = 2000


class PkiSettings(_Section, frozen=True):
    """Dev PKI: CA, server certificate and partner client certificates."""

    dir: str = "var/pki"
    ca_cert: str | None = None
    """CA bundle that partner client certificates must chain to (default: <dir>/ca.pem)."""
    server_cert: str | None = None
    """Server certificate (default: <dir>/server.pem, created if missing)."""
    server_key: str | None = None
    server_names: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1", "localhost"])
    expiry_warning_days: float = 30.0
    """Certificates (and policy grants) ending within this many days are warned about hourly,
    audited, and reported by ``wharf certs expiring``."""


class ListenerSettings(_Section, frozen=True):
    """One HTTP listener."""

    host: str = "127.0.0.1"
    port: int = 0


class GatewaySettings(_Section, frozen=True):
    """The partner (mTLS) and internal (ops) HTTP listeners."""

    partner: ListenerSettings = msgspec.field(
        default_factory=lambda: ListenerSettings(host="127.0.0.1", port=8443)
    )
    internal: ListenerSettings = msgspec.field(
        default_factory=lambda: ListenerSettings(host="127.0.0.1", port=8080)
    )
    max_body_bytes: int = 1_048_576
    """Default request body limit; a partner policy may lower or raise it."""
    body_timeout: float = 30.0
    """Seconds a client has to send its whole body (slow clients get 408)."""
    trusted_proxies: list[str] = msgspec.field(default_factory=list)
    """Peer addresses allowed to forward the client certificate in a header."""
    client_cert_header: str = "x-forwarded-client-cert"
    """Header carrying the URL-encoded PEM client certificate from a trusted proxy."""
    require_client_cert: bool = True
    """False only behind a TLS-terminating proxy that forwards the certificate."""
    rate_limit: RateLimit = msgspec.field(
        default_factory=lambda: RateLimit(
            requests_per_window=600, documents_per_window=6000, window_seconds=60.0
        )
    )
    """Applies to partners whose policy sets no ``rate_limit`` of its own."""


class ActorSettings(_Section, frozen=True):
    """Per-supplier actors: delivery, retry and failover."""

    max_deliveries: int = 5
    """Attempts per document before it is dead-lettered."""
    backoff: list[float] = msgspec.field(default_factory=lambda: [1.0, 5.0, 30.0, 120.0])
    """Seconds before retry n (the last value repeats)."""
    jitter: float = 0.2
    """Random spread of each backoff delay, as a fraction (0.2 = ±20 %)."""
    ack_wait: float = 30.0
    pull_expires: float = 5.0
    priority_timeout: float = 10.0
    """Seconds after a process stops pulling before another process takes its partners."""


class StorageSettings(_Section, frozen=True):
    """Wharf's own SQLite store (traces, idempotency keys, posted effects)."""

    database: str = "var/wharf.db"


class PolicySettings(_Section, frozen=True):
    """Where the security team's partner policy files live."""

    dir: str = "policies"
    poll_interval: float = 1.0
    """Seconds between checks of the policy files for changes (hot reload)."""


class BusinessSettings(_Section, frozen=True):
    """Master data, validation and the PO lifecycle's timers."""

    masterdata_dir: str | None = None
    """A folder of master-data files (CSV/JSON, see examples/masterdata) loaded at start."""
    max_past_days: int = 0
    """How many days in the past a promised date may be before it is an exception."""
    sla_interval: float = 30.0
    """Seconds between checks of the SLA timers (acknowledgment due, ASN late, ...)."""


class OutboundPushSettings(_Section, frozen=True):
    """Where purchase orders are pushed to partners (a partner not listed pulls them)."""

    push_urls: dict[str, str] = msgspec.field(default_factory=dict)
    """Partner id -> the HTTPS endpoint its POs are POSTed to (with Wharf's client certificate)."""
    delivery: OutboundSettings = msgspec.field(default_factory=OutboundSettings)


class Settings(_Section, frozen=True):
    """All of Wharf's settings."""

    nats: NatsSettings = msgspec.field(default_factory=NatsSettings)
    streams: StreamSettings = msgspec.field(default_factory=StreamSettings)
    pki: PkiSettings = msgspec.field(default_factory=PkiSettings)
    gateway: GatewaySettings = msgspec.field(default_factory=GatewaySettings)
    actors: ActorSettings = msgspec.field(default_factory=ActorSettings)
    storage: StorageSettings = msgspec.field(default_factory=StorageSettings)
    policies: PolicySettings = msgspec.field(default_factory=PolicySettings)
    oauth: OAuthSettings = msgspec.field(default_factory=OAuthSettings)
    ratelimit: RateLimitSettings = msgspec.field(default_factory=RateLimitSettings)
    sealing: SealingSettings = msgspec.field(default_factory=SealingSettings)
    audit: AuditSettings = msgspec.field(default_factory=AuditSettings)
    revocation: RevocationSettings = msgspec.field(default_factory=RevocationSettings)
    business: BusinessSettings = msgspec.field(default_factory=BusinessSettings)
    outbound: OutboundPushSettings = msgspec.field(default_factory=OutboundPushSettings)
    log_level: Literal["debug", "info", "warning", "error"] = "info"


def _env_value(raw: str) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _overlay(tree: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        keys = [part.lower() for part in name[len(ENV_PREFIX) :].split("__")]
        if not all(keys):
            raise ConfigError(f"malformed environment variable {name}", key=name)
        node = tree
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{name}: {key!r} is not a section", key=name)
            node = child
        node[keys[-1]] = _env_value(raw)


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Load settings from a TOML file (optional) overlaid with ``WHARF_*`` variables.

    With no ``path``, ``$WHARF_CONFIG`` is used, else ``./wharf.toml`` when it exists,
    else the defaults.
    """
    environ = {} if environ is None else environ
    if path is None:
        path = environ.get(CONFIG_ENV)
        if path is None and Path(DEFAULT_CONFIG_FILE).is_file():
            path = DEFAULT_CONFIG_FILE
    tree: dict[str, Any] = {}
    if path is not None:
        try:
            tree = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    _overlay(tree, environ)
    try:
        return msgspec.convert(tree, type=Settings, strict=False)
    except msgspec.ValidationError as exc:
        where = locate(exc)
        key = dotted(where.pointer)
        raise ConfigError(f"{key or 'settings'}: {where.message}", key=key) from exc
