"""The token endpoint, the JWKS and bearer checks over real TLS with client certificates.

A small Starlette app is served by Wharf's own uvicorn runner with the partner listener's
TLS context: ``/oauth/token`` and ``/.well-known/jwks.json`` from :class:`OAuthEndpoints`,
plus one protected route wired the way the partner API is meant to wire it (certificate →
partner, bearer token verified against that certificate, scope checked against the grant
in force *now*). The policy is a dict the test edits, standing in for the hot-reloaded one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc import jws
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wharf.errors import AuthError
from wharf.gateway.identity import certificate_from_pem
from wharf.gateway.oauth import BEARER_ERROR_HANDLERS, ClientGrant, OAuthEndpoints, TokenEvent
from wharf.gateway.problems import EXCEPTION_HANDLERS
from wharf.gateway.server import serve
from wharf.gateway.tls import server_context
from wharf.security.keyring import ExternalIssuer, KeyRing, SigningKeySettings
from wharf.security.tokens import OAuthSettings, TokenService, authorize, required_scope
from wharf.settings import ListenerSettings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from pathlib import Path

    from starlette.requests import Request
    from starlette.types import Scope

    from tests.conftest import Pki
    from wharf.pki import CertificateInfo

SHIP = "ship-notices:write"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Partner(msgspec.Struct, frozen=True):
    id: str


class Gateway:
    """The served app, the test's policy, and what the audit hook saw."""

    def __init__(self, pki: Pki, tmp_path: Path) -> None:
        self.pki = pki
        settings = OAuthSettings(signing=SigningKeySettings(dir=str(tmp_path / "keys")))
        self.tokens = TokenService(KeyRing(settings.signing, token_lifetime=600), settings)
        self.owners = {pki.clients[p].fingerprint: p for p in ("acme", "globex")}
        self.grants: dict[str, ClientGrant] = {
            "acme": ClientGrant(client_id="acme-client", scopes=frozenset({SHIP, "traces:read"})),
            "globex": ClientGrant(client_id="globex-client", scopes=frozenset({SHIP})),
        }
        self.events: list[TokenEvent] = []
        self.endpoints = OAuthEndpoints(
            self.tokens, self.authenticate, lambda p: self.grants.get(p.id), audit=self.audit
        )
        self.url = ""

    def authenticate(self, scope: Scope) -> tuple[Partner, CertificateInfo]:
        chain = scope.get("extensions", {}).get("tls", {}).get("client_cert_chain") or []
        if not chain:
            raise AuthError("a client certificate is required", status=401)
        cert = certificate_from_pem(chain[0])
        owner = self.owners.get(cert.fingerprint)
        if owner is None:
            raise AuthError(f"certificate {cert.fingerprint} is not registered")
        return Partner(owner), cert

    async def audit(self, event: TokenEvent) -> None:
        self.events.append(event)

    async def ship_notices(self, request: Request) -> Response:
        """What the partner API does on every request, in order."""
        partner, cert = self.authenticate(request.scope)
        token = await self.tokens.authenticate(
            request.headers.get("authorization"), cert.fingerprint, partner=partner.id
        )
        grant = self.grants.get(partner.id)
        effective = authorize(
            token, required_scope("ship_notice"), grant.scopes if grant else frozenset()
        )
        return JSONResponse({"partner": token.partner, "scopes": sorted(effective)})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.endpoints.routes(),
                Route("/v1/ship-notices", self.ship_notices, methods=["POST"]),
            ],
            exception_handlers={**EXCEPTION_HANDLERS, **BEARER_ERROR_HANDLERS},
        )

    def client(self, partner: str | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, verify=self.pki.context(partner), timeout=10)

    async def token(self, partner: str, **form: str) -> str:
        async with self.client(partner) as client:
            response = await client.post(
                "/oauth/token", data={"grant_type": "client_credentials", **form}
            )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


@asynccontextmanager
async def served(app: Starlette, pki: Pki, *, client_cert: bool = True) -> AsyncIterator[str]:
    context = server_context(
        cert=pki.files.server_cert, key=pki.files.server_key, client_ca=pki.files.ca_cert,
        require_client_cert=client_cert,
    )
    async with anyio.create_task_group() as tg:
        with anyio.fail_after(10):
            port = await tg.start(
                partial(serve, app, ListenerSettings(port=0), ssl_context=context, name="test")
            )
        try:
            yield f"https://127.0.0.1:{port}"
        finally:
            tg.cancel_scope.cancel()


@pytest.fixture
async def gateway(pki: Pki, tmp_path: Path) -> AsyncIterator[Gateway]:
    gateway = Gateway(pki, tmp_path)
    async with served(gateway.app(), pki) as url:
        gateway.url = url
        yield gateway


def claims(token: str) -> dict[str, Any]:
    payload = jws.extract_compact(token.encode()).payload
    assert payload is not None
    result: dict[str, Any] = json.loads(payload)
    return result


def thumbprint(pem: Path) -> str:
    der = x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(serialization.Encoding.DER)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


async def test_token_is_issued_bound_to_the_presented_certificate(
    gateway: Gateway, pki: Pki
) -> None:
    async with gateway.client("acme") as acme:
        response = await acme.post(
            "/oauth/token", data={"grant_type": "client_credentials", "client_id": "acme-client"}
        )
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 600)
        assert body["scope"] == f"{SHIP} traces:read"
        token = claims(body["access_token"])
        assert token["cnf"] == {"x5t#S256": thumbprint(pki.clients["acme"].cert)}
        assert (token["sub"], token["client_id"]) == ("acme", "acme-client")

        sent = await acme.post(
            "/v1/ship-notices", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert sent.status_code == 200, sent.text
        assert sent.json() == {"partner": "acme", "scopes": [SHIP, "traces:read"]}
    assert gateway.events == [
        TokenEvent(
            outcome="issued", partner="acme", client_id="acme-client",
            cert_fingerprint=pki.clients["acme"].fingerprint, scope=body["scope"],
            jti=token["jti"],
        )
    ]


async def test_a_token_presented_with_another_partners_certificate_is_refused(
    gateway: Gateway,
) -> None:
    stolen = await gateway.token("acme")
    async with gateway.client("globex") as globex:
        response = await globex.post(
            "/v1/ship-notices", headers={"Authorization": f"Bearer {stolen}"}
        )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == (
        'Bearer realm="wharf", error="invalid_token", '
        'error_description="the access token was issued to another certificate"'
    )
    assert stolen not in response.text


async def test_another_partners_certificate_cannot_get_a_token_as_its_client(
    gateway: Gateway, pki: Pki
) -> None:
    async with gateway.client("globex") as globex:
        response = await globex.post(
            "/oauth/token", data={"grant_type": "client_credentials", "client_id": "acme-client"}
        )
    assert response.status_code == 401
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "client_id is not the client of the presented certificate",
    }
    assert gateway.events[-1].outcome == "refused"
    assert gateway.events[-1].partner == "globex"
    assert gateway.events[-1].cert_fingerprint == pki.clients["globex"].fingerprint


@pytest.mark.parametrize(
    ("partner", "form", "headers", "status", "error"),
    [
        ("acme", "grant_type=client_credentials&client_secret=s3cret", FORM, 401, "invalid_client"),
        ("acme", "grant_type=client_credentials", {**FORM, "Authorization": "Basic YTpi"}, 401,
         "invalid_client"),
        ("acme", "grant_type=client_credentials&client_assertion=x", FORM, 401, "invalid_client"),
        ("stranger", "grant_type=client_credentials", FORM, 401, "invalid_client"),
        ("acme", "grant_type=password&username=a&password=b", FORM, 400,
         "unsupported_grant_type"),
        ("acme", "grant_type=authorization_code&code=x", FORM, 400, "unsupported_grant_type"),
        ("acme", "scope=ship-notices%3Awrite", FORM, 400, "invalid_request"),
        ("acme", "", FORM, 400, "invalid_request"),
        ("acme", "grant_type=client_credentials&grant_type=client_credentials", FORM, 400,
         "invalid_request"),
        ("acme", "grant_type=client_credentials&scope=a&scope=b", FORM, 400, "invalid_request"),
        ("acme", '{"grant_type": "client_credentials"}', {"Content-Type": "application/json"},
         400, "invalid_request"),
        ("acme", "grant_type=client_credentials&" + "x" * 5000, FORM, 400, "invalid_request"),
        ("acme", "grant_type=client_credentials&scope=invoices%3Awrite", FORM, 400,
         "invalid_scope"),
        ("acme", "grant_type=client_credentials&scope=admin", FORM, 400, "invalid_scope"),
        ("acme", "grant_type=client_credentials&scope=", FORM, 400, "invalid_scope"),
    ],
    ids=[
        "client-secret", "basic-auth-header", "client-assertion", "certificate-of-no-partner",
        "password-grant", "authorization-code-grant", "no-grant-type", "empty-body",
        "repeated-grant-type", "repeated-scope", "json-body", "oversize-body",
        "scope-not-granted", "unknown-scope", "empty-scope",
    ],
)
async def test_token_endpoint_refusals(
    gateway: Gateway, partner: str, form: str, headers: dict[str, str], status: int, error: str
) -> None:
    async with gateway.client(partner) as client:
        response = await client.post("/oauth/token", content=form, headers=headers)
    assert (response.status_code, response.json()["error"]) == (status, error), response.text
    assert response.headers["cache-control"] == "no-store"
    assert gateway.events[-1].outcome == "refused"
    assert gateway.events[-1].error == error


async def test_a_partner_without_an_oauth_client_is_unauthorized_client(
    gateway: Gateway,
) -> None:
    del gateway.grants["globex"]
    async with gateway.client("globex") as globex:
        response = await globex.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert (response.status_code, response.json()["error"]) == (400, "unauthorized_client")


async def test_requested_scope_narrows_the_token(gateway: Gateway) -> None:
    token = await gateway.token("acme", scope="traces:read")
    assert claims(token)["scope"] == "traces:read"
    async with gateway.client("acme") as acme:
        response = await acme.post("/v1/ship-notices", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="wharf", error="insufficient_scope", '
        'error_description="this request needs scope ship-notices:write", '
        'scope="ship-notices:write"'
    )


async def test_removing_a_grant_applies_to_tokens_already_issued(gateway: Gateway) -> None:
    token = await gateway.token("acme")
    headers = {"Authorization": f"Bearer {token}"}
    async with gateway.client("acme") as acme:
        assert (await acme.post("/v1/ship-notices", headers=headers)).status_code == 200
        gateway.grants["acme"] = ClientGrant(
            client_id="acme-client", scopes=frozenset({"traces:read"})
        )
        response = await acme.post("/v1/ship-notices", headers=headers)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_requests_without_a_usable_bearer_token(gateway: Gateway) -> None:
    async with gateway.client("acme") as acme:
        missing = await acme.post("/v1/ship-notices")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="wharf"'
        basic = await acme.post("/v1/ship-notices", headers={"Authorization": "Basic YTpi"})
        assert basic.status_code == 400
        assert 'error="invalid_request"' in basic.headers["www-authenticate"]
        garbage = await acme.post("/v1/ship-notices", headers={"Authorization": "Bearer x.y.z"})
        assert garbage.status_code == 401
        assert garbage.json()["type"].endswith("/invalid-token")


async def test_jwks_publishes_the_public_key_that_verifies_tokens(gateway: Gateway) -> None:
    token = await gateway.token("acme")
    async with gateway.client("acme") as acme:
        response = await acme.get("/.well-known/jwks.json")
        assert (await acme.get("/oauth/token")).status_code == 405
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = response.json()["keys"]
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]
    assert [key["kid"] for key in keys] == [kid]
    assert all("d" not in key for key in keys)
    # The published key alone verifies the token: what any resource server would do.
    verified = jws.deserialize_compact(token, ECKey.import_key(keys[0]), algorithms=["ES256"])
    assert verified.payload is not None and b'"sub":"acme"' in verified.payload


# -- external identity provider over HTTPS ---------------------------------------------------


@asynccontextmanager
async def idp_serving(pki: Pki, jwks: Callable[[], dict[str, Any]]) -> AsyncIterator[str]:
    async def endpoint(request: Request) -> Response:
        return JSONResponse(jwks())

    app = Starlette(routes=[Route("/jwks", endpoint)])
    async with served(app, pki, client_cert=False) as url:
        yield f"{url}/jwks"


async def test_external_issuer_keys_are_fetched_over_https(
    pki: Pki, tmp_path: Path
) -> None:
    idp_key = ECKey.generate_key("P-256", parameters={"kid": "idp-1", "alg": "ES256"})
    fetches: list[int] = []

    def jwks() -> dict[str, Any]:
        fetches.append(1)
        return {"keys": [idp_key.as_dict(private=False)]}

    async with idp_serving(pki, jwks) as url:
        def service(ca_file: Path | None) -> TokenService:
            issuer = ExternalIssuer(
                issuer="https://idp.test", jwks_url=url,
                ca_file=str(ca_file) if ca_file else None, partner_claim="client_id",
            )
            settings = OAuthSettings(
                signing=SigningKeySettings(dir=str(tmp_path / "keys")), external_issuers=[issuer]
            )
            ring = KeyRing(settings.signing, token_lifetime=600)
            return TokenService(ring, settings, partner_for_client={"idp-acme": "acme"}.get)

        fingerprint = pki.clients["acme"].fingerprint
        now = int(time.time())
        token = jws.serialize_compact(
            {"alg": "ES256", "kid": "idp-1", "typ": "at+jwt"},
            json.dumps({
                "iss": "https://idp.test", "sub": "svc", "aud": "urn:wharf:partner-api",
                "client_id": "idp-acme", "scope": SHIP, "iat": now, "exp": now + 300,
                "jti": "e-1", "cnf": {"x5t#S256": thumbprint(pki.clients["acme"].cert)},
            }),
            idp_key,
        )
        trusting = service(pki.files.ca_cert)
        with anyio.fail_after(10):
            verified = await trusting.verify(token, fingerprint, partner="acme")
        assert (verified.partner, verified.scopes) == ("acme", frozenset({SHIP}))
        assert len(fetches) == 1
        # Without the CA that signed the provider's certificate the JWKS is never loaded.
        distrusting = service(None)
        with anyio.fail_after(10), pytest.raises(AuthError, match="unknown key"):
            await distrusting.verify(token, fingerprint)
        assert len(fetches) == 1

