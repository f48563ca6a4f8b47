"""Security cost: token-issue and authorized-request rates next to an unauthenticated baseline.

Starts a whole Wharf (embedded nats-server, dev PKI, policies, signing and storage keys, audit
log, all in a temp dir) with one partner, ``acme``, whose policy grants the scopes used here and
a rate limit far above what the bench can send (so the limiter is charged, as always, but never
refuses). Then, with K concurrent HTTPS/1.1 keep-alive clients presenting acme's client
certificate, N requests of each kind, in this order:

1. **baseline**: a bare Starlette app answering a constant, served by
   ``wharf.gateway.server.serve`` with the same ``server_context`` (TLS 1.2+, client
   certificate required) on the same uvicorn setup: the unauthenticated rate;
2. ``GET /.well-known/jwks.json`` on Wharf's partner listener: mTLS, no token, no rate limit;
3. ``POST /oauth/token`` (client credentials, certificate-bound, audit-logged): 200;
4. ``GET /v1/schemas/ship_notice`` with a bearer token: certificate → partner → rate-limit
   take in JetStream KV → token verification and ``cnf`` binding, then a JSON Schema that the
   endpoint builds anew for every request: 200;
5. ``GET /v1/traces/<unknown id>`` with a bearer token: the same gate plus the
   ``traces:read`` scope check and two SQLite look-ups, a cheap answer: 404;
6. the baseline again;
7. ``POST /v1/ship-notices`` with a bearer token and an Idempotency-Key: the same gate plus
   decode → JetStream PubAck → receipt → ``received`` event: 202. Last, because the actors
   go on posting the accepted documents to their targets while the clients send.

Each client gets its token and makes one call before the clock starts. Client and server
share the machine, so every rate includes httpx's own cost.

Usage: python bench/security.py [N] [K]
"""

from __future__ import annotations

import json
import os
import platform
import ssl
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from wharf.gateway.server import serve
from wharf.gateway.tls import server_context
from wharf.model.schema import json_schema
from wharf.pki import issue_client
from wharf.runtime import Runtime, run
from wharf.settings import ListenerSettings, load_settings

if TYPE_CHECKING:
    from starlette.requests import Request

ROOT = Path(__file__).resolve().parent.parent
BODY = (ROOT / "examples" / "ship-notice.json").read_bytes()

POLICY = """
name = "Acme Industrial Supply (bench)"
validation = "document"
scopes = ["ship-notices:write", "traces:read"]
[[certificates]]
subject = "CN=acme,O=Wharf dev PKI"
[rate_limit]
requests_per_window = 1000000
documents_per_window = 1000000
window_seconds = 1
[routes]
ship_notice = ["wms.receipts.expected"]
"""

Call = Callable[[httpx.AsyncClient, int], Awaitable[None]]


async def constant(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise SystemExit(f"{response.request.method} {response.request.url.path}: "
                         f"{response.status_code} {response.text[:300]}")


async def token_of(client: httpx.AsyncClient) -> str:
    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"})
    expect(response, 200)
    token: str = response.json()["access_token"]
    return token


async def rate(base_url: str, ctx: ssl.SSLContext, n: int, k: int, call: Call,
               *, bearer: bool = False) -> float:
    """Requests per second: ``call`` made ``n`` times over ``k`` keep-alive clients."""
    clients = [httpx.AsyncClient(base_url=base_url, verify=ctx, timeout=30.0) for _ in range(k)]
    try:
        for index, client in enumerate(clients):  # handshake, token and one call off the clock
            if bearer:
                client.headers["Authorization"] = f"Bearer {await token_of(client)}"
            await call(client, -1 - index)

        async def worker(index: int) -> None:
            for i in range(index, n, k):
                await call(clients[index], i)

        start = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for index in range(k):
                tg.start_soon(worker, index)
        return n / (time.perf_counter() - start)
    finally:
        for client in clients:
            await client.aclose()


async def issue(client: httpx.AsyncClient, i: int) -> None:
    expect(await client.post("/oauth/token", data={"grant_type": "client_credentials"}), 200)


async def schema(client: httpx.AsyncClient, i: int) -> None:
    expect(await client.get("/v1/schemas/ship_notice"), 200)


async def unknown_trace(client: httpx.AsyncClient, i: int) -> None:
    expect(await client.get(f"/v1/traces/bench-{i}"), 404)


async def ingest(client: httpx.AsyncClient, i: int) -> None:
    expect(await client.post("/v1/ship-notices", content=BODY, headers={
        "Content-Type": "application/json", "Idempotency-Key": f"bench-security-{i}"}), 202)


async def jwks(client: httpx.AsyncClient, i: int) -> None:
    expect(await client.get("/.well-known/jwks.json"), 200)


async def hello(client: httpx.AsyncClient, i: int) -> None:
    expect(await client.get("/"), 200)


def schema_body_cost() -> float:
    """Seconds the schema endpoint spends building its answer, outside any request."""
    json_schema("ship_notice")
    start, loops = time.perf_counter(), 200
    for _ in range(loops):
        json.dumps(json_schema("ship_notice"))
    return (time.perf_counter() - start) / loops


async def measure(tmp: Path, n: int, k: int) -> dict[str, float]:
    """Start Wharf and the bare app in ``tmp``; every rate, in the order measured."""
    (tmp / "policies").mkdir()
    (tmp / "policies" / "acme.toml").write_text(POLICY)
    settings = load_settings(environ={
        "WHARF_NATS__EMBEDDED__PORT": "0", "WHARF_NATS__EMBEDDED__STORE_DIR": str(tmp / "nats"),
        "WHARF_GATEWAY__PARTNER__PORT": "0", "WHARF_GATEWAY__INTERNAL__PORT": "0",
        "WHARF_PKI__DIR": str(tmp / "pki"), "WHARF_STORAGE__DATABASE": str(tmp / "wharf.db"),
        "WHARF_POLICIES__DIR": str(tmp / "policies"),
        "WHARF_OAUTH__SIGNING__DIR": str(tmp / "keys" / "signing"),
        "WHARF_SEALING__KEY_FILE": str(tmp / "keys" / "storage"),
        "WHARF_AUDIT__PATH": str(tmp / "audit.jsonl"), "WHARF_LOG_LEVEL": "warning",
    })
    rates: dict[str, float] = {}
    async with anyio.create_task_group() as tg:
        runtime: Runtime = await tg.start(run, settings)
        issued = issue_client(tmp / "pki", "acme")
        ctx = ssl.create_default_context(cafile=str(runtime.pki.ca_cert))
        ctx.load_cert_chain(str(issued.cert), str(issued.key))

        bare_tls = server_context(cert=runtime.pki.server_cert, key=runtime.pki.server_key,
                                  client_ca=runtime.pki.ca_cert)
        bare_app = Starlette(routes=[Route("/", constant)])
        async with anyio.create_task_group() as bare_group:
            port: int = await bare_group.start(
                lambda *, task_status: serve(bare_app, ListenerSettings(port=0),
                                             ssl_context=bare_tls, name="bare",
                                             task_status=task_status))
            bare, wharf = f"https://127.0.0.1:{port}", runtime.partner_url
            rates["bare"] = await rate(bare, ctx, n, k, hello)
            rates["jwks"] = await rate(wharf, ctx, n, k, jwks)
            rates["token"] = await rate(wharf, ctx, n, k, issue)
            rates["schema"] = await rate(wharf, ctx, n, k, schema, bearer=True)
            rates["trace"] = await rate(wharf, ctx, n, k, unknown_trace, bearer=True)
            rates["bare_again"] = await rate(bare, ctx, n, k, hello)
            rates["ingest"] = await rate(wharf, ctx, n, k, ingest, bearer=True)
            bare_group.cancel_scope.cancel()
        runtime.stop.set()
    return rates


async def main(n: int, k: int) -> None:
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="wharf-bench-", ignore_cleanup_errors=True) as tmp:
        rates = await measure(Path(tmp), n, k)
    baseline = rates["bare"]

    def ratio(value: float) -> float:
        return round(value / baseline, 3)

    print(json.dumps({  # noqa: T201  (a benchmark reports on stdout)
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_1m": {"start": round(load_start, 2), "end": round(os.getloadavg()[0], 2)},
        "requests": n, "clients": k,
        "bare_starlette_mtls_per_s": round(baseline),
        "bare_starlette_mtls_per_s_again_before_ingest": round(rates["bare_again"]),
        "wharf_jwks_mtls_no_token_per_s": round(rates["jwks"]),
        "wharf_token_issue_per_s": round(rates["token"]),
        "wharf_authorized_get_schema_per_s": round(rates["schema"]),
        "wharf_authorized_get_unknown_trace_404_per_s": round(rates["trace"]),
        "wharf_authorized_ingest_per_s": round(rates["ingest"]),
        "schema_body_build_ms_per_request": round(schema_body_cost() * 1e3, 2),
        "ratio_jwks_to_bare": ratio(rates["jwks"]),
        "ratio_token_issue_to_bare": ratio(rates["token"]),
        "ratio_authorized_get_to_bare": ratio(rates["schema"]),
        "ratio_authorized_get_unknown_trace_to_bare": ratio(rates["trace"]),
        "ratio_authorized_ingest_to_bare": ratio(rates["ingest"]),
    }, indent=2))


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 2000,
              int(sys.argv[2]) if len(sys.argv) > 2 else 8, backend="asyncio")
