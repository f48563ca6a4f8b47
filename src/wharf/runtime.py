"""The composition root: builds every component from settings and runs them in one task group.

Start order: PKI → policies → NATS (embedded or configured) → streams → stores → trace
projection → supplier actors → listeners. Stop order is the reverse and orderly: listeners
stop taking requests, actors release their pins, the projection stops, the NATS connection
drains, and only then does the embedded server get SIGTERM.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import ssl as ssl_module
from pathlib import Path
from typing import TYPE_CHECKING

import aiosqlite
import anyio
import anyio.abc
import anyio.to_thread
import httpx
import msgspec
import nats.errors
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
from wharf.actors.checks import BusinessChecks
from wharf.actors.dlq import (
    CurrentDecoder,
    DeadLetters,
    Replayer,
    ReplayLog,
    error_class_from_traces,
)
from wharf.actors.outbound import Courier, Delivered, OutboundActor, Outbox, courier_client
from wharf.broker import EmbeddedNats, connect, ensure_streams, stream_configs, subjects
from wharf.broker.subjects import Header
from wharf.business import (
    ExceptionQueue,
    MasterData,
    MasterDataLoadError,
    PurchaseOrderLedger,
    Resolution,
)
from wharf.business.sla import SlaSettings
from wharf.codecs import default_registry
from wharf.codecs.registry import PartnerCodecs
from wharf.errors import PermanentError, WharfError
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
from wharf.gateway.dlq_api import internal_routes as dlq_routes
from wharf.gateway.exceptions_api import exception_routes
from wharf.gateway.guard import Guard
from wharf.gateway.masterdata_api import masterdata_routes
from wharf.gateway.oauth import ClientGrant, OAuthEndpoints, TokenEvent
from wharf.gateway.purchase_orders import (
    Accepted,
    ErpPurchaseOrders,
    PurchaseOrderIntake,
    internal_routes as po_internal_routes,
    partner_routes as po_partner_routes,
)
from wharf.observability.audit import AuditKind, AuditLog
from wharf.observability.events import EventData, EventEmitter
from wharf.observability.metrics import Metrics
from wharf.observability.projection import TraceProjection
from wharf.observability.tracestore import TraceStore
from wharf.pki import ServerPki, ensure_server_pki, issue_client, load_certificates
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
    from collections.abc import Awaitable, Callable, Mapping

    from wharf.model import PurchaseOrder
    from wharf.policies.model import Sla

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
    checks: BusinessChecks
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
            sealer = Sealer.from_settings(settings.sealing)
            traces = await TraceStore.open(db, sealer)
            receipts = await ReceiptStore.open(db, sealer)
            ledger = await EffectsLedger.open(js, replicas=settings.streams.replicas)
            stop = anyio.Event()
            async with anyio.create_task_group() as tg:
                runtime = await _start(tg, settings, pki, policies, tls, url, nc, js,
                                       traces, receipts, ledger, stop, db, sealer)
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
        except (WharfError, OSError) as exc:
            log.error("signing keys: %s", exc)
        await anyio.sleep(interval)


def _client_tls(settings: Settings, pki: ServerPki) -> ssl.SSLContext:
    """Wharf's own TLS client identity for pushing to partners: trusts the system CAs and
    Wharf's CA; presents the ``wharf`` client certificate (created in the dev PKI if missing)."""
    directory = Path(settings.pki.dir)
    cert, key = directory / "partners" / "wharf.pem", directory / "partners" / "wharf-key.pem"
    if not cert.is_file():
        issue_client(directory, "wharf")
    context = ssl_module.create_default_context()
    context.load_verify_locations(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(cert), str(key))
    return context


def sla_settings(sla: Sla) -> SlaSettings:
    """A partner policy's SLA timers in the PO ledger's terms: the ASN is due
    ``asn_due_before_ship_days`` before the promised (requested) date; the invoice
    ``invoice_due_after_ship_days`` after the goods arrived."""
    return SlaSettings(
        ack_due_hours=sla.ack_due_hours,
        asn_grace_hours=-24 * sla.asn_due_before_ship_days if sla.asn_due_before_ship_days
        else 24,
        invoice_due_days=sla.invoice_due_after_ship_days,
    )


async def _business(
    settings: Settings, db: Database, sealer: Sealer, policies: PolicyStore
) -> BusinessChecks:
    """Open the business stores; load the master-data folder when one is configured."""
    master = await MasterData.open(db, sealer)
    queue = await ExceptionQueue.open(db, sealer)

    def sla_for(partner_id: str) -> SlaSettings:
        partner = policies.current().get(partner_id)
        return sla_settings(partner.sla) if partner is not None else SlaSettings()

    lifecycle = await PurchaseOrderLedger.open(db, sealer, sla_for=sla_for)
    folder = settings.business.masterdata_dir
    if folder:
        try:
            report = await master.load_folder(Path(folder))
            log.info("master data from %s: %s", folder, report)
        except MasterDataLoadError as exc:
            # The previous master data stays; the problems say file:row:column.
            log.error("master data in %s not loaded:\n%s", folder,
                      "\n".join(str(problem) for problem in exc.problems))
    return BusinessChecks(
        master=master, ledger=lifecycle, queue=queue,
        max_past_days=settings.business.max_past_days,
    )


async def _reject_to_supplier(
    js: JetStreamContext, events: EventEmitter, resolution: Resolution, publish_timeout: float
) -> None:
    """A buyer refused the document: the supplier's outbox gets the reasons."""
    body = msgspec.json.encode({
        "correlation_id": resolution.correlation_id, "doc_type": resolution.doc_type,
        "status": "rejected", "by": resolution.by, "note": resolution.note,
        "issues": msgspec.to_builtins(resolution.issues),
    })
    await js.publish(
        subjects.outbound(resolution.partner, "rejection"), body, timeout=publish_timeout,
        stream=subjects.OUT_STREAM,
        headers={Header.MSG_ID: f"exc:{resolution.exception_id}:reject",
                 Header.PARTNER: resolution.partner,
                 Header.CORRELATION_ID: resolution.correlation_id,
                 Header.CONTENT_TYPE: "application/json"},
    )
    await events.emit(
        "rejected", doc_type=resolution.doc_type, correlation_id=resolution.correlation_id,
        partner=resolution.partner, traceparent=resolution.traceparent,
        data=EventData(step="validate", exception_id=resolution.exception_id,
                       error=resolution.note),
    )


async def _dispatch_decisions(
    checks: BusinessChecks,
    carry_out: Callable[[Resolution], Awaitable[bool]],
    interval: float,
) -> None:
    """Carry out decisions made but not yet done (the process stopped, a target was down)."""
    while True:
        try:
            for pending in await checks.queue.undispatched():
                await carry_out(pending)
        except (WharfError, aiosqlite.Error, nats.errors.Error, OSError) as exc:
            log.warning("pending buyer decisions: %s", exc)
        await anyio.sleep(interval)


async def _sla_timers(checks: BusinessChecks, events: EventEmitter, interval: float) -> None:
    """Fire each overdue SLA timer once (durable: the timers live in SQLite)."""
    while True:
        try:
            for due in await checks.ledger.due(dt.datetime.now(dt.UTC)):
                await events.emit(
                    "sla_overdue", doc_type="purchase_order",
                    correlation_id=due.armed_by, partner=due.supplier, traceparent=None,
                    data=EventData(step=due.kind, po_number=due.po_number,
                                   error=f"{due.kind} was due {due.due_at.isoformat()}"),
                    attempt=due.id,
                )
                await checks.ledger.mark_fired(due.id)
        except (WharfError, nats.errors.Error, aiosqlite.Error, OSError, TimeoutError) as exc:
            log.warning("SLA timers: %s", exc)
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
    db: Database,
    sealer: Sealer,
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

    # Internal HTTPS targets and partners' PO endpoints alike: the system CAs plus Wharf's
    # CA; Wharf's client certificate.
    client_tls = _client_tls(settings, pki)
    http = httpx.AsyncClient(verify=client_tls, timeout=settings.nats.publish_timeout)
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

    checks = await _business(settings, db, sealer, policies)
    pipeline = Pipeline(
        codecs=codecs, events=events, ledger=ledger, targets=target,
        partners=lambda: policies.current().partners, settings=settings.actors, checks=checks,
    )

    carrying_out: set[int] = set()

    async def carry_out(resolution: Resolution) -> bool:
        """Act on a buyer's decision: post the document, or tell the supplier it is refused.

        False when it could not be done now (a target down, the partner gone): the decision
        stays undispatched and :func:`_dispatch_decisions` tries again; nothing is lost.
        """
        if resolution.exception_id in carrying_out:
            return False  # the HTTP handler and the background retry must not both post
        carrying_out.add(resolution.exception_id)
        try:
            if resolution.next == "resume":
                await pipeline.resume(resolution)
            elif resolution.next == "reject_to_supplier":
                await _reject_to_supplier(js, events, resolution, settings.nats.publish_timeout)
        except PermanentError as exc:
            # Retrying cannot help (the partner or its route is gone): say so in the trace;
            # the document stays in the exception record.
            log.error("exception %s: %s cannot be carried out: %s",
                      resolution.exception_id, resolution.action, exc)
            with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
                await events.emit(
                    "failed", doc_type=resolution.doc_type,
                    correlation_id=resolution.correlation_id, partner=resolution.partner,
                    traceparent=resolution.traceparent,
                    data=EventData(step="post", exception_id=resolution.exception_id,
                                   error=str(exc), error_class="permanent"),
                )
        except Exception:
            log.exception("exception %s: carrying out %s failed; will retry",
                          resolution.exception_id, resolution.action)
            return False
        finally:
            carrying_out.discard(resolution.exception_id)
        await checks.queue.mark_dispatched(resolution.exception_id)
        return True

    tg.start_soon(_dispatch_decisions, checks, carry_out, settings.business.sla_interval)
    tg.start_soon(_sla_timers, checks, events, settings.business.sla_interval)

    def actor(partner: str) -> SupplierActor:
        return SupplierActor(
            mailbox=Mailbox(nc, partner, settings.actors), pipeline=pipeline, js=js,
            events=events, settings=settings.actors, publish_timeout=settings.nats.publish_timeout,
        )

    supervisor = Supervisor(actor)
    await tg.start(supervisor.run, sorted(policies.current().partners))

    # Purchase orders out: ERP → WHARF_OUT → an outbound actor per partner → push or outbox.
    outbox = await Outbox.open(db, sealer)
    delivery = settings.outbound.delivery
    push_http = courier_client(client_tls, timeout=delivery.timeout)
    tg.start_soon(_close_on_cancel, push_http)
    courier = Courier(push_http, delivery)

    async def po_accepted(po: PurchaseOrder, accepted: Accepted) -> None:
        await checks.ledger.record_document(
            accepted.partner, po, dt.datetime.now(dt.UTC), accepted.correlation_id
        )

    async def po_delivered(done: Delivered) -> None:
        # Pushed, or waiting in the partner's outbox: either way it is the partner's now, and
        # the acknowledgment timer runs.
        if done.po.purpose != "cancel":
            await checks.ledger.record(
                done.po.document_id, done.partner, "sent", dt.datetime.now(dt.UTC),
                done.correlation_id,
            )

    po_intake = PurchaseOrderIntake(
        js, events, lambda: policies.current().partners, max_payload=nc.max_payload,
        timeout=settings.nats.publish_timeout, on_accepted=po_accepted,
    )
    outbound = Supervisor(lambda partner: OutboundActor(
        partner=partner, js=js, courier=courier, outbox=outbox, events=events,
        partners=lambda: policies.current().partners,
        push_url=lambda p: settings.outbound.push_urls.get(p.id), settings=delivery,
        on_delivered=po_delivered, publish_timeout=settings.nats.publish_timeout,
    ))
    await tg.start(outbound.run, sorted(policies.current().partners))
    await tg.start(ErpPurchaseOrders(nc, po_intake).run)

    async def policy_changed(old: PolicySet, new: PolicySet, diff: list[str]) -> None:
        await supervisor.ensure(sorted(new.partners))
        await outbound.ensure(sorted(new.partners))
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
            "actors_running": supervisor.running >= set(policies.current().partners)
            and outbound.running >= set(policies.current().partners),
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
        charge=lambda request, partner: guard.charge(request, partner, "requests", 1),
        body_timeout=settings.gateway.body_timeout,
    )
    partner_codecs = PartnerCodecs(codecs, settings.policies.dir)
    partner_extra = [*oauth.routes(), *po_partner_routes(guard, outbox)]
    partner_api = PartnerApi(
        guard=guard,
        intake=Intake(js, receipts, events, traces, max_payload=nc.max_payload,
                      timeout=settings.nats.publish_timeout),
        codecs=codecs, partner_codecs=partner_codecs,
        traces=traces, receipts=receipts,
        max_body_bytes=settings.gateway.max_body_bytes,
        body_timeout=settings.gateway.body_timeout, metrics=metrics,
    )
    internal_api = InternalApi(
        traces=traces, readiness=readiness, informational=informational, metrics=metrics
    )
    gw = settings.gateway
    partner_port = await tg.start(
        lambda *, task_status: serve(create_partner_app(partner_api, oauth=partner_extra),
                                     gw.partner, ssl_context=tls, name="partner",
                                     task_status=task_status)
    )
    replays = await ReplayLog.open(db)
    dead_letters = DeadLetters(js, replays=replays, error_class_of=error_class_from_traces(traces))
    replayer = Replayer(
        js, dead_letters, replays,
        transform=CurrentDecoder(
            payloads=traces, partner_codecs=partner_codecs, registry=codecs,
            partners=lambda: policies.current().partners,
        ),
        audit=audit.record, timeout=settings.nats.publish_timeout,
    )
    internal_app = create_internal_app(internal_api, extra=[
        *exception_routes(checks.queue, carry_out),
        *masterdata_routes(checks.master),
        *dlq_routes(dead_letters, replayer),
        *po_internal_routes(po_intake, max_body_bytes=settings.gateway.max_body_bytes),
    ])
    internal_port = await tg.start(
        lambda *, task_status: serve(internal_app, gw.internal,
                                     name="internal", task_status=task_status)
    )
    return Runtime(
        settings=settings, nats_url=url,
        partner_url=f"https://{gw.partner.host}:{partner_port}",
        internal_url=f"http://{gw.internal.host}:{internal_port}",
        pki=pki, policies=policies, revocations=revocations, nc=nc, js=js, traces=traces, ledger=ledger, checks=checks,
        supervisor=supervisor, projection=projection, stop=stop,
    )
