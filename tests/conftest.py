"""Shared fixtures: a real nats-server, real certificates, real SQLite, a real Wharf runtime."""

from __future__ import annotations

import contextlib
import os
import select
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from typing import TYPE_CHECKING, Protocol

import anyio
import httpx
import nats
import pytest
import trustme
from nats.js.errors import NotFoundError

from wharf.broker.embedded import nats_server_binary
from wharf.pki import ensure_server_pki, issue_client
from wharf.runtime import Runtime, run
from wharf.settings import load_settings

if TYPE_CHECKING:
    from pathlib import Path

PARTNERS = ("acme", "globex", "initech", "stranger")


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """nats-py and aiosqlite are asyncio-native: pin anyio's pytest plugin to asyncio."""
    return "asyncio"


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real nats-server with JetStream on a random port and a temporary store."""
    store = tmp_path_factory.mktemp("nats")
    config = store / "nats.conf"
    config.write_text(
        f'listen: 127.0.0.1:-1\nmax_payload: 8388608\njetstream {{ store_dir: "{store}" }}\n'
    )
    proc = subprocess.Popen(
        [nats_server_binary(), "-c", str(config)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 15
    url = None
    lines: list[str] = []
    buffer = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            proc.kill()
            proc.wait()
            proc.stderr.close()
            pytest.fail("nats-server did not start:\n" + "".join(lines))
        ready, _, _ = select.select([proc.stderr], [], [], remaining)
        if not ready:
            continue
        buffer += os.read(proc.stderr.fileno(), 65536)
        *complete, rest = buffer.split(b"\n")
        buffer = rest
        for raw in complete:
            line = raw.decode()
            lines.append(line + "\n")
            if "Listening for client connections on" in line:
                url = "nats://" + line.rsplit(" ", 1)[1].strip()
        if url and any("Server is ready" in line for line in lines):
            break
    stderr = proc.stderr
    drain = threading.Thread(target=lambda: [None for _ in stderr], daemon=True)
    drain.start()
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    drain.join(timeout=5)
    stderr.close()


@pytest.fixture
async def clean_jetstream(nats_url: str) -> str:
    """Delete every stream so each test starts from an empty broker."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for name in await js.streams_info():
            try:
                await js.delete_stream(name.config.name or "")
            except NotFoundError:
                pass
    finally:
        await nc.close()
    return nats_url


class Pki:
    """The test PKI: Wharf's dev CA plus a foreign CA nobody trusts."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.files = ensure_server_pki(directory, ["127.0.0.1", "localhost"])
        self.clients = {p: issue_client(directory, p) for p in PARTNERS}
        self.foreign = trustme.CA()

    def context(self, partner: str | None) -> ssl.SSLContext:
        """A client TLS context trusting Wharf's CA, presenting ``partner``'s certificate."""
        ctx = ssl.create_default_context(cafile=str(self.files.ca_cert))
        if partner == "foreign":
            self.foreign.issue_cert("acme").configure_cert(ctx)
        elif partner is not None:
            issued = self.clients[partner]
            ctx.load_cert_chain(str(issued.cert), str(issued.key))
        return ctx


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


ALL_WRITE_SCOPES = (
    '"acknowledgments:write", "ship-notices:write", "invoices:write", "inventory:write", '
    '"catalog:write", "rebate-claims:write", "returns:write", "traces:read", '
    '"purchase-orders:read"'
)

ACME_POLICY = f"""
name = "Acme Industrial Supply"
validation = "document"
scopes = [{ALL_WRITE_SCOPES}]
[[certificates]]
subject = "CN=acme,O=Wharf dev PKI"
[routes]
ship_notice = ["wms.receipts.expected", "erp.purchasing.asn"]
invoice = ["nowhere.ap.invoice"]
"""

GLOBEX_POLICY = """
name = "Globex Distribution Parts"
validation = "document"
max_body_bytes = 4096
scopes = ["ship-notices:write", "invoices:write", "traces:read"]
[[certificates]]
fingerprint = "{fingerprint}"
[routes]
ship_notice = ["wms.receipts.expected"]
"""


INITECH_POLICY = f"""
name = "Initech EDI and XML"
validation = "document"
identifiers = ["INITECH"]
formats = ["json", "x12", "edifact", "cxml", "ubl", "csv"]
scopes = [{ALL_WRITE_SCOPES}]
[[certificates]]
subject = "CN=initech,O=Wharf dev PKI"
[routes]
ship_notice = ["wms.receipts.expected"]
invoice = ["ap.invoice.received"]
acknowledgment = ["erp.purchasing.ack"]
inventory_advice = ["planning.inventory.availability"]
"""


@pytest.fixture
def policies_dir(tmp_path: Path, pki: Pki) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "acme.toml").write_text(ACME_POLICY)
    (directory / "initech.toml").write_text(INITECH_POLICY)
    (directory / "globex.toml").write_text(
        GLOBEX_POLICY.format(fingerprint=pki.clients["globex"].fingerprint)
    )
    return directory


WharfFactory = Callable[..., contextlib.AbstractAsyncContextManager[Runtime]]


@pytest.fixture
def make_wharf(
    clean_jetstream: str, pki: Pki, policies_dir: Path, tmp_path: Path
) -> WharfFactory:
    """Start a whole Wharf (gateway, actors, projection) against the session's nats-server.

    Keyword arguments override settings as ``WHARF_*`` environment keys
    (``gateway__trusted_proxies='["127.0.0.1"]'``).
    """

    @contextlib.asynccontextmanager
    async def start(**overrides: str) -> AsyncIterator[Runtime]:
        environ = {
            "WHARF_NATS__URL": clean_jetstream,
            "WHARF_GATEWAY__PARTNER__PORT": "0",
            "WHARF_GATEWAY__INTERNAL__PORT": "0",
            "WHARF_PKI__DIR": str(pki.dir),
            "WHARF_STORAGE__DATABASE": str(tmp_path / "wharf.db"),
            "WHARF_POLICIES__DIR": str(policies_dir),
            "WHARF_ACTORS__MAX_DELIVERIES": "3",
            "WHARF_ACTORS__BACKOFF": "[0.05, 0.1]",
            "WHARF_ACTORS__PULL_EXPIRES": "1",
            "WHARF_ACTORS__PRIORITY_TIMEOUT": "2",
            "WHARF_OAUTH__SIGNING__DIR": str(tmp_path / "keys" / "signing"),
            "WHARF_SEALING__KEY_FILE": str(tmp_path / "keys" / "storage"),
            "WHARF_AUDIT__PATH": str(tmp_path / "audit.jsonl"),
            "WHARF_POLICIES__POLL_INTERVAL": "0.2",
        }
        environ.update({f"WHARF_{k.upper()}": v for k, v in overrides.items()})
        async with anyio.create_task_group() as tg:
            runtime: Runtime = await tg.start(run, load_settings(environ=environ))
            try:
                yield runtime
            finally:
                runtime.stop.set()

    return start


@pytest.fixture
async def wharf(make_wharf: WharfFactory) -> AsyncIterator[Runtime]:
    """A Wharf on the default test settings."""
    async with make_wharf() as runtime:
        yield runtime


class ClientCredentials(httpx.Auth):
    """OAuth client credentials over the TLS client certificate: fetch a token on first use.

    When the token endpoint refuses, requests go without a token (and get the API's own 401).
    """

    requires_response_body = True

    def __init__(self, extra_headers: dict[str, str] | None = None) -> None:
        self.token: str | None = None
        self.extra = extra_headers or {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.token is None:
            answer = yield httpx.Request(
                "POST", request.url.copy_with(path="/oauth/token", query=None),
                data={"grant_type": "client_credentials"}, headers=self.extra,
            )
            if answer.status_code == 200:
                self.token = answer.json()["access_token"]
        if self.token is not None and "authorization" not in request.headers:
            request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class ClientFactory(Protocol):
    def __call__(self, partner: str | None, *, token: bool = True) -> httpx.AsyncClient: ...


@pytest.fixture
async def partner_client(wharf: Runtime, pki: Pki) -> AsyncIterator[ClientFactory]:
    """Make an HTTPS client for the partner listener presenting a partner's certificate
    (and, unless ``token=False``, a bearer token that the client credentials grant gave it)."""
    clients: list[httpx.AsyncClient] = []

    def make(partner: str | None, *, token: bool = True) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            base_url=wharf.partner_url, verify=pki.context(partner), timeout=10.0,
            auth=ClientCredentials() if token else None,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def internal_client(wharf: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=wharf.internal_url, timeout=10.0) as client:
        yield client
