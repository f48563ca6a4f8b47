"""Fairness: one supplier's 50,000-line catalog does not hold up another supplier's ASN."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
import httpx

from tests.conftest import ACME_POLICY, ClientCredentials
from tests.documents import ship_notice

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import Pki, WharfFactory

JSON = {"Content-Type": "application/json"}
LINES = 50_000


def big_catalog() -> bytes:
    return json.dumps({
        "doc_type": "price_catalog", "document_id": "CAT-50K", "supplier": {"id": "acme"},
        "currency": "USD", "effective_from": "2026-12-01",
        "lines": [
            {"item": {"supplier_part": f"P{n:06d}"},
             "unit_price": {"amount": f"{1 + n % 97}.{n % 100:02d}", "currency": "USD"},
             "price_uom": "EA"}
            for n in range(LINES)
        ],
    }).encode()


def acme_token(url: str, pki: Pki) -> str:
    with httpx.Client(base_url=url, verify=pki.context("acme")) as client:
        answer = client.post("/oauth/token", data={"grant_type": "client_credentials"})
    token: str = answer.json()["access_token"]
    return token


async def test_a_huge_catalog_does_not_delay_another_suppliers_asn(
    make_wharf: WharfFactory, policies_dir: Path, pki: Pki
) -> None:
    (policies_dir / "acme.toml").write_text(
        "max_body_bytes = 8000000\n" + ACME_POLICY + 'price_catalog = ["planning.catalog.changed"]\n'
    )
    catalog = big_catalog()
    async with make_wharf() as wharf, httpx.AsyncClient(
        base_url=wharf.partner_url, verify=pki.context("globex"), auth=ClientCredentials(),
    ) as globex:
        arrivals: list[tuple[str, float]] = []
        done = anyio.Event()

        async def watch(subject: str, name: str) -> None:
            sub = await wharf.nc.subscribe(subject)
            try:
                await sub.next_msg(timeout=60)
                arrivals.append((name, time.monotonic()))
            finally:
                await sub.unsubscribe()
            if len(arrivals) == 2:
                done.set()

        # Globex holds its token before the race starts.
        assert (await globex.get("/v1/schemas/ship_notice")).status_code == 200
        token = await anyio.to_thread.run_sync(acme_token, wharf.partner_url, pki)

        def upload_catalog() -> None:
            # From another thread, as another client machine would: the test's own TLS work
            # for 5 MB must not run on the event loop it is measuring.
            with httpx.Client(base_url=wharf.partner_url, verify=pki.context("acme"),
                              timeout=60) as client:
                big = client.post("/v1/catalog", content=catalog,
                                  headers={**JSON, "Authorization": f"Bearer {token}"})
            assert big.status_code == 202, big.text[:300]

        async def post_catalog() -> None:
            await anyio.to_thread.run_sync(upload_catalog)

        async def post_asn() -> None:
            small = await globex.post(
                "/v1/ship-notices", content=ship_notice("ASN-FAIR", supplier="globex"),
                headers=JSON,
            )
            assert small.status_code == 202

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch, "planning.catalog.changed", "catalog")
            tg.start_soon(watch, "wms.receipts.expected", "asn")
            sent = time.monotonic()
            # Both at once: the catalog's upload, decoding and posting run while Globex's ASN
            # goes through the same gateway and the same process's actors.
            tg.start_soon(post_catalog)
            tg.start_soon(post_asn)
            with anyio.fail_after(60):
                await done.wait()
    took = {name: at - sent for name, at in arrivals}
    assert [name for name, _ in arrivals] == ["asn", "catalog"], took
    # Globex's ASN is not queued behind Acme's catalog, in the gateway or in the actors
    # (measured here: the ASN in ~0.15-0.2 s, the catalog in ~0.5 s).
