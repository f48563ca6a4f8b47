"""Who may talk to the partner listener: TLS handshakes, certificate → partner, trusted proxies."""

from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING
from urllib.parse import quote

import anyio
import anyio.to_thread
import httpx
import pytest

from tests.conftest import ClientCredentials
from tests.documents import ship_notice

if TYPE_CHECKING:
    from tests.conftest import ClientFactory, Pki, WharfFactory
    from wharf.runtime import Runtime

JSON = {"Content-Type": "application/json"}


def first_answer(url: str, context: ssl.SSLContext) -> str:
    """Handshake with ``url``, send a request, and say what came back first."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    assert port is not None
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        try:
            # TLS 1.3: the client's side of the handshake completes before the server has
            # checked the client certificate; the refusal arrives with the first read.
            tls.sendall(b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n\r\n")
            data = tls.recv(1024)
        except ssl.SSLError as exc:
            return f"TLS error {exc.reason}"
    return f"answer {data[:12]!r}"


@pytest.mark.parametrize("who", [None, "foreign"], ids=["no-certificate", "foreign-ca"])
async def test_handshake_fails_without_a_certificate_from_our_ca(
    wharf: Runtime, pki: Pki, who: str | None
) -> None:
    # The server drops the connection during the handshake: no HTTP byte ever comes back.
    refused = await anyio.to_thread.run_sync(first_answer, wharf.partner_url, pki.context(who))
    assert refused == "answer b''" or refused.startswith("TLS error"), refused
    # The same request with a partner's certificate gets through.
    ok = await anyio.to_thread.run_sync(first_answer, wharf.partner_url, pki.context("acme"))
    assert ok == "answer b'HTTP/1.1 200'"


async def test_a_certificate_of_no_partner_gets_403_problem(partner_client: ClientFactory) -> None:
    response = await partner_client("stranger").get("/v1/schemas/ship_notice")
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert "CN=stranger" in problem["detail"]
    assert problem["detail"].split()[1].startswith("sha256:")


async def test_each_listener_serves_only_its_own_routes(
    wharf: Runtime, partner_client: ClientFactory
) -> None:
    partner = partner_client("acme")
    assert (await partner.get("/healthz")).status_code == 404
    assert (await partner.get("/internal/v1/traces/x")).status_code == 404
    async with httpx.AsyncClient(base_url=wharf.internal_url) as internal:
        assert (await internal.get("/healthz")).status_code == 200
        response = await internal.post("/v1/ship-notices", content=ship_notice("A"), headers=JSON)
        assert response.status_code == 404


def forwarded(pem: bytes) -> dict[str, str]:
    """The header nginx sets from ``$ssl_client_escaped_cert``."""
    return {"X-Forwarded-Client-Cert": quote(pem.decode())}


async def test_trusted_proxy_forwards_the_partners_certificate(
    make_wharf: WharfFactory, pki: Pki
) -> None:
    acme = pki.clients["acme"].cert.read_bytes()
    async with make_wharf(
        gateway__trusted_proxies='["127.0.0.1"]', gateway__require_client_cert="false"
    ) as wharf, httpx.AsyncClient(
        base_url=wharf.partner_url, verify=pki.context(None),
        auth=ClientCredentials(forwarded(acme)),
    ) as proxy:
        response = await proxy.post(
            "/v1/ship-notices", content=ship_notice("ASN-P1"), headers={**JSON, **forwarded(acme)}
        )
        assert response.status_code == 202, response.text
        receipt = await proxy.get(response.json()["status_url"], headers=forwarded(acme))
        assert receipt.json()["partner"] == "acme"

        # A certificate that our CA did not issue is refused even from the trusted proxy.
        foreign = pki.foreign.issue_cert("acme").cert_chain_pems[0].bytes()
        response = await proxy.get("/v1/schemas/ship_notice", headers=forwarded(foreign))
        assert response.status_code == 401
        assert "not trusted" in response.json()["detail"]

        # No header and no TLS certificate: unauthenticated.
        response = await proxy.get("/v1/schemas/ship_notice", auth=None)
        assert response.status_code == 401


async def test_forwarded_certificate_is_ignored_from_an_untrusted_peer(
    make_wharf: WharfFactory, pki: Pki
) -> None:
    async with make_wharf(
        gateway__trusted_proxies='["192.0.2.10"]', gateway__require_client_cert="false"
    ) as wharf, httpx.AsyncClient(base_url=wharf.partner_url, verify=pki.context(None)) as peer:
        acme = pki.clients["acme"].cert.read_bytes()
        response = await peer.get("/v1/schemas/ship_notice", headers=forwarded(acme))
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
