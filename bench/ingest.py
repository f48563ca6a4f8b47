"""Ingest rate: documents/s through the mTLS partner listener to a JetStream PubAck.

Starts a whole Wharf (embedded NATS in a temp dir), then POSTs N ship notices with K
concurrent HTTPS/1.1 keep-alive clients (each with its certificate-bound token, each
document with its own Idempotency-Key), and reports the
202 rate next to the bare stack measured in the same run: raw nats-py JetStream publish of
the same bodies, one at a time per client.  Usage: python bench/ingest.py [N] [K]
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx

from wharf.pki import issue_client
from wharf.runtime import Runtime, run
from wharf.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
BODY = (ROOT / "examples" / "ship-notice.json").read_bytes()
POLICY = """
name = "Acme Industrial Supply (bench)"
validation = "document"
scopes = ["ship-notices:write"]
[[certificates]]
subject = "CN=acme,O=Wharf dev PKI"
[rate_limit]
requests_per_window = 1000000
documents_per_window = 1000000
window_seconds = 1
[routes]
ship_notice = ["wms.receipts.expected", "erp.purchasing.asn"]
"""


async def main(n: int, k: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="wharf-bench-"))
    (tmp / "policies").mkdir()
    (tmp / "policies" / "acme.toml").write_text(POLICY)
    settings = load_settings(environ={
        "WHARF_NATS__EMBEDDED__PORT": "0", "WHARF_NATS__EMBEDDED__STORE_DIR": str(tmp / "nats"),
        "WHARF_GATEWAY__PARTNER__PORT": "0", "WHARF_GATEWAY__INTERNAL__PORT": "0",
        "WHARF_PKI__DIR": str(tmp / "pki"), "WHARF_STORAGE__DATABASE": str(tmp / "wharf.db"),
        "WHARF_POLICIES__DIR": str(tmp / "policies"), "WHARF_LOG_LEVEL": "warning",
        "WHARF_OAUTH__SIGNING__DIR": str(tmp / "keys" / "signing"),
        "WHARF_SEALING__KEY_FILE": str(tmp / "keys" / "storage"),
        "WHARF_AUDIT__PATH": str(tmp / "audit.jsonl"),
    })
    async with anyio.create_task_group() as tg:
        runtime: Runtime = await tg.start(run, settings)
        issued = issue_client(tmp / "pki", "acme")
        import ssl
        ctx = ssl.create_default_context(cafile=str(runtime.pki.ca_cert))
        ctx.load_cert_chain(str(issued.cert), str(issued.key))

        async def client(index: int) -> None:
            async with httpx.AsyncClient(base_url=runtime.partner_url, verify=ctx) as c:
                token = await c.post("/oauth/token", data={"grant_type": "client_credentials"})
                c.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
                for i in range(index, n, k):
                    r = await c.post("/v1/ship-notices", content=BODY, headers={
                        "Content-Type": "application/json", "Idempotency-Key": f"bench-{i}"})
                    assert r.status_code == 202, r.text

        start = time.perf_counter()
        async with anyio.create_task_group() as clients:
            for index in range(k):
                clients.start_soon(client, index)
        wharf_rate = n / (time.perf_counter() - start)

        js = runtime.js

        async def raw(index: int) -> None:
            for i in range(index, n, k):
                await js.publish("wharf.in.bench.ship_notice", BODY, stream="WHARF_IN",
                                 headers={"Nats-Msg-Id": f"raw-{i}"})

        start = time.perf_counter()
        async with anyio.create_task_group() as pubs:
            for index in range(k):
                pubs.start_soon(raw, index)
        raw_rate = n / (time.perf_counter() - start)
        runtime.stop.set()
    print(json.dumps({  # noqa: T201  (a benchmark reports on stdout)
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "documents": n, "clients": k,
        "wharf_mtls_ingest_per_s": round(wharf_rate), "raw_jetstream_publish_per_s": round(raw_rate),
        "ratio_wharf_to_raw": round(wharf_rate / raw_rate, 3),
    }, indent=2))


if __name__ == "__main__":
    anyio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 2000,
              int(sys.argv[2]) if len(sys.argv) > 2 else 8, backend="asyncio")
