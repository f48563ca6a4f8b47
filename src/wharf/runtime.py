"""The composition root: builds every component from settings and runs them in one task group.

Start order: PKI → policies → NATS (embedded or configured) → streams → stores → trace
projection → supplier actors → listeners. Stop order is the reverse and orderly: listeners
stop taking requests, actors release their pins, the projection stops, the NATS connection
drains, and only then does the embedded server get SIGTERM.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.abc
import anyio.to_thread
import httpx
import msgspec
from nats.aio.client import Client
from nats.js import JetStreamContext

from wharf.actors import (
    EffectsLedger,
    HttpTarget,
    Mailbox,
    NatsSubjectTarget,
    Pipeline,
    PostingTarget,
    Supervisor,
    SupplierActor,
)
from wharf.broker import EmbeddedNats, connect, ensure_streams, stream_configs
from wharf.codecs import default_registry
from wharf.codecs.registry import PartnerCodecs
from wharf.errors import WharfError
from wharf.gateway import (
    Authenticator,
    Intake,
    InternalApi,
    PartnerApi,
    ReceiptStore,
    create_internal_app,
    create_partner_app,
    serve,
    server_context,
)
from wharf.gateway.guard import Guard
from wharf.gateway.oauth import ClientGrant, OAuthEndpoints, TokenEvent
from wharf.observability.audit import AuditKind, AuditLog
from wharf.observability.events import EventEmitter
from wharf.observability.metrics import Metrics
from wharf.observability.projection import TraceProjection
from wharf.observability.tracestore import TraceStore
from wharf.pki import ServerPki, ensure_server_pki, load_certificates
from wharf.policies import PolicySet, PolicyStore
from wharf.policies.expiry import ExpiringCertificate, expiring_certificates
from wharf.security.keyring import KeyRing
from wharf.security.ratelimit import RateLimiter
from wharf.security.revocation import RevocationStore
from wharf.security.sealing import Sealer
from wharf.security.tokens import TokenService
from wharf.settings import Settings
from wharf.storage import Database

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable, Mapping

__all__ = ("Runtime", "run")

log = logging.getLogger(__name__)


class Runtime(msgspec.Struct, kw_only=True):
    """A running Wharf: where it listens and handles on its parts (for the CLI and tests)."""

    settings: Settings
    nats_url: str
    partner_url: str
    internal_url: str
    pki: ServerPki
    policies: PolicyStore
    revocations: RevocationStore
    nc: Client
    js: JetStreamContext
    traces: TraceStore
    ledger: EffectsLedger
    supervisor: Supervisor
    projection: TraceProjection
    stop: anyio.Event


def _pki(settings: Settings) -> ServerPki:
    directory = Path(settings.pki.dir)
    pki = ensure_server_pki(directory, settings.pki.server_names)
    return ServerPki(
        ca_cert=Path(settings.pki.ca_cert) if settings.pki.ca_cert else pki.ca_cert,
        server_cert=Path(settings.pki.server_cert) if settings.pki.server_cert else pki.server_cert,
        server_key=Path(settings.pki.server_key) if settings.pki.server_key else pki.server_key,
        created=pki.created,
    )


async def run(
    settings: Settings, *, task_status: anyio.abc.TaskStatus[Runtime] = anyio.TASK_STATUS_IGNORED
) -> None:
    """Run Wharf until ``Runtime.stop`` is set (or the task is cancelled)."""
    pki = _pki(settings)
    policies = PolicyStore(settings.policies.dir, poll_interval=settings.policies.poll_interval)
    tls: ssl.SSLContext = server_context(
        cert=pki.server_cert, key=pki.server_key, client_ca=pki.ca_cert,
        require_client_cert=settings.gateway.require_client_cert,
    )
    async with anyio.create_task_group() as outer:
        if settings.nats.url is None:
            url: str = await outer.start(EmbeddedNats(settings.nats.embedded).run)
        else:
            url = settings.nats.url
        nc = await connect(url, settings.nats)
        js = nc.jetstream(timeout=settings.nats.publish_timeout)
        db = None
        try:
            await ensure_streams(js, settings.streams)
            db = await Database.open(settings.storage.database)
            traces = await TraceStore.open(db, Sealer.from_settings(settings.sealing))
            receipts = await ReceiptStore.open(db)
            ledger = await EffectsLedger.open(db)
            stop = anyio.Event()
            async with anyio.create_task_group() as tg:
                runtime = await _start(tg, settings, pki, policies, tls, url, nc, js,
                                       traces, receipts, ledger, stop)
                task_status.started(runtime)
                await stop.wait()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                if db is not None:
                    await db.aclose()
                with anyio.move_on_after(5):
                    await nc.close()
            outer.cancel_scope.cancel()


async def _close_on_cancel(client: httpx.AsyncClient) -> None:
    try:
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            await client.aclose()


async def _maintain_keys(keyring: KeyRing, interval: float = 60.0) -> None:
    """Rotate and prune signing keys, and pick up other processes' rotations."""
    while True:
        try:
            keyring.maintain()
        except WharfError as exc:
            log.error("signing keys: %s", exc)
        await anyio.sleep(interval)


async def _warn_expiring(
    expiring: Callable[[float], list[ExpiringCertificate]],
    days: float,
    audit: AuditLog,
    interval: float = 3600.0,
) -> None:
    """Hourly: log and audit every partner certificate (or grant) that ends within ``days``."""
    while True:
        try:
            soon = await anyio.to_thread.run_sync(expiring, days)
        except WharfError as exc:
            log.warning("cannot check certificate expiry: %s", exc)
            soon = []
        for cert in soon:
            log.warning(
                "certificate %s of partner %s ends %s (%.1f days)", cert.fingerprint,
                cert.partner or "-", cert.not_after.isoformat(), cert.days_left,
            )
            await audit.record(
                "certificate_expiring", outcome="warning", partner=cert.partner,
                detail={"fingerprint": cert.fingerprint, "not_after": cert.not_after.isoformat(),
                        "reason": cert.reason, "file": cert.file},
            )
        await anyio.sleep(interval)


async def _start(
    tg: anyio.abc.TaskGroup,
    settings: Settings,
    pki: ServerPki,
    policies: PolicyStore,
    tls: ssl.SSLContext,
    url: str,
    nc: Client,
    js: JetStreamContext,
    traces: TraceStore,
    receipts: ReceiptStore,
    ledger: EffectsLedger,
    stop: anyio.Event,
) -> Runtime:
    events = EventEmitter(js, timeout=settings.nats.publish_timeout)
    audit = AuditLog.from_settings(settings.audit, js)
    anchors = load_certificates(pki.ca_cert)
    revocations = RevocationStore.from_settings(settings.revocation, anchors)
    await tg.start(revocations.run)
    await tg.start(policies.run)
    codecs = default_registry()
    projection = TraceProjection(js, traces)
    await tg.start(projection.run)

    http = httpx.AsyncClient(timeout=settings.nats.publish_timeout)
    tg.start_soon(_close_on_cancel, http)
    targets: dict[str, PostingTarget] = {}

    def target(name: str) -> PostingTarget:
        if name not in targets:
            if name.startswith("https://"):
                targets[name] = HttpTarget(http, name, timeout=settings.nats.publish_timeout)
            else:
                targets[name] = NatsSubjectTarget(
                    js, name, timeout=settings.nats.publish_timeout
                )
        return targets[name]

    pipeline = Pipeline(
        codecs=codecs, events=events, ledger=ledger, targets=target,
        partners=lambda: policies.current().partners, settings=settings.actors,
    )

    def actor(partner: str) -> SupplierActor:
        return SupplierActor(
            mailbox=Mailbox(nc, partner, settings.actors), pipeline=pipeline, js=js,
            events=events, settings=settings.actors, publish_timeout=settings.nats.publish_timeout,
        )

    supervisor = Supervisor(actor)
    await tg.start(supervisor.run, sorted(policies.current().partners))

    async def policy_changed(old: PolicySet, new: PolicySet, diff: list[str]) -> None:
        await supervisor.ensure(sorted(new.partners))
        await audit.record("policy_reload", outcome="accepted", actor=str(settings.policies.dir),
                           detail={"changes": diff})
        for partner in new.partners.values():
            before = old.get(partner.id)
            if partner.suspended and (before is None or not before.suspended):
                await audit.record("partner_suspended", outcome="suspended", partner=partner.id)

    async def policy_rejected(error: Exception) -> None:
        await audit.record("policy_reload", outcome="rejected", actor=str(settings.policies.dir),
                           detail={"error": str(error)})

    policies.subscribe(on_change=policy_changed, on_reject=policy_rejected)

    keyring = KeyRing(settings.oauth.signing, token_lifetime=settings.oauth.token_lifetime)
    tokens = TokenService(
        keyring, settings.oauth,
        partner_for_client=lambda cid: (p.id if (p := policies.current().by_client_id(cid))
                                        else None),
    )
    tg.start_soon(_maintain_keys, keyring)
    limiter = RateLimiter(js, settings=settings.ratelimit)
    await limiter.open()

    stream_names = [c.name for c in stream_configs(settings.streams) if c.name]

    async def readiness() -> Mapping[str, bool]:
        streams = True
        if nc.is_connected:
            try:
                for name in stream_names:
                    await js.stream_info(name)
            except Exception:  # any failure means "not ready"; the detail is in the logs
                log.warning("readiness: stream check failed", exc_info=True)
                streams = False
        return {
            "nats_connected": nc.is_connected,
            "streams_present": nc.is_connected and streams,
            "projection_caught_up": projection.caught_up,
            "actors_running": supervisor.running >= set(policies.current().partners),
        }

    def informational() -> Mapping[str, object]:
        """Reported by /readyz without gating it: a bad policy commit must not take every
        instance out of service at once (the last good policy stays in force)."""
        status = policies.status()
        return {
            "policies_current": status.current,
            "policy_generation": status.generation,
            "policy_last_error": status.last_error,
            "revocations_current": revocations.status().current,
        }

    authenticator = Authenticator(
        policies.current,
        trusted_proxies=settings.gateway.trusted_proxies,
        client_cert_header=settings.gateway.client_cert_header,
        trust_anchors=anchors,
        revocations=revocations.current,
    )
    metrics = Metrics()

    def expiring(days: float) -> list[ExpiringCertificate]:
        return expiring_certificates(policies.current(), [settings.pki.dir], days)

    metrics.watch(policies, revocations, lambda: expiring(settings.pki.expiry_warning_days * 3))
    tg.start_soon(_warn_expiring, expiring, settings.pki.expiry_warning_days, audit)
    guard = Guard(
        authenticator=authenticator, tokens=tokens, limiter=limiter,
        default_limit=settings.gateway.rate_limit, audit=audit, metrics=metrics,
    )

    async def token_audit(event: TokenEvent) -> None:
        kind: AuditKind = "token_issued" if event.outcome == "issued" else "auth_failure"
        await audit.record(kind, outcome=event.outcome, partner=event.partner,
                           detail=msgspec.to_builtins(event))

    oauth = OAuthEndpoints(
        tokens,
        authenticator.identify,
        lambda p: ClientGrant(client_id=p.client_id, scopes=frozenset(p.scopes)),
        audit=token_audit,
    )
    partner_api = PartnerApi(
        guard=guard,
        intake=Intake(js, receipts, events, traces, max_payload=nc.max_payload,
                      timeout=settings.nats.publish_timeout),
        codecs=codecs, partner_codecs=PartnerCodecs(codecs, settings.policies.dir),
        traces=traces, receipts=receipts,
        max_body_bytes=settings.gateway.max_body_bytes,
        body_timeout=settings.gateway.body_timeout, metrics=metrics,
    )
    internal_api = InternalApi(
        traces=traces, readiness=readiness, informational=informational, metrics=metrics
    )
    gw = settings.gateway
    partner_port = await tg.start(
        lambda *, task_status: serve(create_partner_app(partner_api, oauth=oauth.routes()),
                                     gw.partner, ssl_context=tls, name="partner",
                                     task_status=task_status)
    )
    internal_port = await tg.start(
        lambda *, task_status: serve(create_internal_app(internal_api), gw.internal,
                                     name="internal", task_status=task_status)
    )
    return Runtime(
        settings=settings, nats_url=url,
        partner_url=f"https://{gw.partner.host}:{partner_port}",
        internal_url=f"http://{gw.internal.host}:{internal_port}",
        pki=pki, policies=policies, revocations=revocations, nc=nc, js=js, traces=traces, ledger=ledger,
        supervisor=supervisor, projection=projection, stop=stop,
    )
