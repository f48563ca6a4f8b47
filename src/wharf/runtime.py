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
import msgspec
from nats.aio.client import Client
from nats.js import JetStreamContext

from wharf.actors import (
    EffectsLedger,
    Mailbox,
    NatsSubjectTarget,
    Pipeline,
    Supervisor,
    SupplierActor,
)
from wharf.broker import EmbeddedNats, connect, ensure_streams, stream_configs
from wharf.codecs import default_registry
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
from wharf.observability.events import EventEmitter
from wharf.observability.projection import TraceProjection
from wharf.observability.tracestore import TraceStore
from wharf.pki import ServerPki, ensure_server_pki, load_certificates
from wharf.policies import PolicySet, load_policies
from wharf.settings import Settings
from wharf.storage import Database

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping

__all__ = ("Runtime", "run")

log = logging.getLogger(__name__)


class Runtime(msgspec.Struct, kw_only=True):
    """A running Wharf: where it listens and handles on its parts (for the CLI and tests)."""

    settings: Settings
    nats_url: str
    partner_url: str
    internal_url: str
    pki: ServerPki
    policies: PolicySet
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
    policies = load_policies(settings.policies.dir)
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
            traces = await TraceStore.open(db)
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


async def _start(
    tg: anyio.abc.TaskGroup,
    settings: Settings,
    pki: ServerPki,
    policies: PolicySet,
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
    codecs = default_registry()
    projection = TraceProjection(js, traces)
    await tg.start(projection.run)

    targets: dict[str, NatsSubjectTarget] = {}

    def target(subject: str) -> NatsSubjectTarget:
        if subject not in targets:
            targets[subject] = NatsSubjectTarget(js, subject, timeout=settings.nats.publish_timeout)
        return targets[subject]

    pipeline = Pipeline(
        codecs=codecs, events=events, ledger=ledger, targets=target,
        partners=lambda: policies.partners, settings=settings.actors,
    )

    def actor(partner: str) -> SupplierActor:
        return SupplierActor(
            mailbox=Mailbox(nc, partner, settings.actors), pipeline=pipeline, js=js,
            events=events, settings=settings.actors, publish_timeout=settings.nats.publish_timeout,
        )

    supervisor = Supervisor(actor)
    await tg.start(supervisor.run, sorted(policies.partners))

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
            "actors_running": supervisor.running >= set(policies.partners),
        }

    partner_api = PartnerApi(
        authenticator=Authenticator(
            lambda: policies,
            trusted_proxies=settings.gateway.trusted_proxies,
            client_cert_header=settings.gateway.client_cert_header,
            trust_anchors=load_certificates(pki.ca_cert),
        ),
        intake=Intake(js, receipts, events, max_payload=nc.max_payload,
                      timeout=settings.nats.publish_timeout),
        codecs=codecs, traces=traces, receipts=receipts,
        max_body_bytes=settings.gateway.max_body_bytes,
    )
    internal_api = InternalApi(traces=traces, readiness=readiness)
    gw = settings.gateway
    partner_port = await tg.start(
        lambda *, task_status: serve(create_partner_app(partner_api), gw.partner,
                                     ssl_context=tls, name="partner", task_status=task_status)
    )
    internal_port = await tg.start(
        lambda *, task_status: serve(create_internal_app(internal_api), gw.internal,
                                     name="internal", task_status=task_status)
    )
    return Runtime(
        settings=settings, nats_url=url,
        partner_url=f"https://{gw.partner.host}:{partner_port}",
        internal_url=f"http://{gw.internal.host}:{internal_port}",
        pki=pki, policies=policies, nc=nc, js=js, traces=traces, ledger=ledger,
        supervisor=supervisor, projection=projection, stop=stop,
    )
