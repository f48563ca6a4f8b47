"""Hostile partners against a whole running Wharf, over real TLS: each refusal is exact.

(The token, key-ring, policy, rate-limit, sealing and revocation modules have their own
suites under tests/security; this one drives the assembled gateway.)
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import TYPE_CHECKING

import anyio
import httpx
import pytest
from cryptography import x509

from tests.conftest import ClientCredentials
from tests.documents import invoice, ship_notice
from wharf.codecs import Envelope
from wharf.codecs.x12 import X12Codec
from wharf.model import decode_document
from wharf.pki import issue_client
from wharf.security.keyring import KeyRing, SigningKeySettings
from wharf.security.tokens import OAuthSettings, TokenService

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import ClientFactory, Pki, WharfFactory
    from wharf.runtime import Runtime

JSON = {"Content-Type": "application/json"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def token_for(client: httpx.AsyncClient) -> str:
    response = await client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def refusal(response: httpx.Response) -> str:
    """The RFC 6750 error a 401/403 carries in WWW-Authenticate."""
    header = str(response.headers.get("www-authenticate", ""))
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name.endswith("error"):
            return str(value.strip('"'))
    return f"<no error in {header!r}>"


def minted(wharf: Runtime, pki: Pki, partner: str, **changes: object) -> str:
    """A token signed with Wharf's own keys but with chosen claims (for negative cases)."""
    settings = wharf.settings.oauth
    clock_shift = float(changes.pop("clock_shift", 0.0))  # type: ignore[arg-type]
    if changes:
        settings = OAuthSettings(**{**_fields(settings), **changes})  # type: ignore[arg-type]
    ring = KeyRing(settings.signing, token_lifetime=settings.token_lifetime)
    service = TokenService(ring, settings, clock=lambda: time.time() + clock_shift)
    issued = service.issue(
        partner, partner, pki.clients[partner].fingerprint,
        frozenset({"ship-notices:write", "traces:read"}), None,
    )
    token: str = issued.access_token
    return token


def _fields(settings: OAuthSettings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in settings.__struct_fields__}


async def test_no_token_is_401_with_a_bearer_challenge(partner_client: ClientFactory) -> None:
    response = await partner_client("acme", token=False).post(
        "/v1/ship-notices", content=ship_notice(), headers=JSON
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_token_presented_with_another_partners_certificate(
    partner_client: ClientFactory,
) -> None:
    stolen = await token_for(partner_client("acme", token=False))
    response = await partner_client("globex", token=False).get(
        "/v1/schemas/ship_notice", headers=bearer(stolen)
    )
    assert response.status_code == 401
    assert refusal(response) == "invalid_token"


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"clock_shift": -7200.0}, "expired"),
        ({"audience": "urn:someone-else"}, "audience"),
        ({"issuer": "https://evil.example"}, "issuer"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer"],
)
async def test_tokens_with_bad_claims_are_refused(
    wharf: Runtime, pki: Pki, partner_client: ClientFactory, changes: dict[str, object], why: str
) -> None:
    token = minted(wharf, pki, "acme", **changes)
    response = await partner_client("acme", token=False).get(
        "/v1/schemas/ship_notice", headers=bearer(token)
    )
    assert response.status_code == 401, why
    assert refusal(response) == "invalid_token"


async def test_token_signed_by_an_unknown_key(
    wharf: Runtime, pki: Pki, partner_client: ClientFactory, tmp_path: Path
) -> None:
    foreign = OAuthSettings(
        **{**_fields(wharf.settings.oauth),  # type: ignore[arg-type]
           "signing": SigningKeySettings(dir=str(tmp_path / "foreign-keys"))}
    )
    ring = KeyRing(foreign.signing, token_lifetime=600)
    token = TokenService(ring, foreign).issue(
        "acme", "acme", pki.clients["acme"].fingerprint, frozenset({"traces:read"}), None
    ).access_token
    response = await partner_client("acme", token=False).get(
        "/v1/schemas/ship_notice", headers=bearer(token)
    )
    assert response.status_code == 401
    assert refusal(response) == "invalid_token"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["none", "HS256"])
async def test_algorithm_confusion_is_refused(
    wharf: Runtime, pki: Pki, partner_client: ClientFactory, alg: str
) -> None:
    genuine = minted(wharf, pki, "acme")
    payload = genuine.split(".")[1]
    forged_header = _b64({"alg": alg, "typ": "at+jwt"})
    signature = ""
    if alg == "HS256":  # signed with the public JWKS as the HMAC secret
        import hashlib
        import hmac

        jwks = (await partner_client("acme").get("/.well-known/jwks.json")).content
        signature = base64.urlsafe_b64encode(
            hmac.new(jwks, f"{forged_header}.{payload}".encode(), hashlib.sha256).digest()
        ).rstrip(b"=").decode()
    response = await partner_client("acme", token=False).get(
        "/v1/schemas/ship_notice", headers=bearer(f"{forged_header}.{payload}.{signature}")
    )
    assert response.status_code == 401
    assert refusal(response) == "invalid_token"


async def test_missing_scope_for_a_document_type(partner_client: ClientFactory) -> None:
    # globex is granted ship notices, invoices and traces only.
    response = await partner_client("globex").post(
        "/v1/acknowledgments", content=b"{}", headers=JSON
    )
    assert response.status_code == 403
    assert refusal(response) == "insufficient_scope"
    assert 'scope="acknowledgments:write"' in response.headers["www-authenticate"]


async def reloaded(wharf: Runtime, change: object) -> None:
    """Apply ``change`` (a callable) to the policy files and wait for the reload to land."""
    landed = anyio.Event()

    async def on_change(*_: object) -> None:
        landed.set()

    async def on_reject(*_: object) -> None:
        landed.set()

    wharf.policies.subscribe(on_change=on_change, on_reject=on_reject)
    assert callable(change)
    change()
    with anyio.fail_after(10):
        await landed.wait()


def envelope(control: int) -> Envelope:
    return Envelope(sender_id="INITECH", receiver_id="WHARF", control_number=control)


async def test_scope_removed_by_hot_reload_bites_an_issued_token_per_contained_document(
    wharf: Runtime, partner_client: ClientFactory, policies_dir: Path
) -> None:
    client = partner_client("initech")
    codec = X12Codec()
    asn = decode_document(ship_notice("ASN-S1", supplier="initech"))
    body = codec.encode(asn, envelope(1))
    first = await client.post("/v1/documents", content=body,
                              headers={"Content-Type": "application/edi-x12"})
    assert first.status_code == 202, first.text  # the token now holds ship-notices:write

    policy = policies_dir / "initech.toml"
    text = policy.read_text()
    await reloaded(wharf, lambda: policy.write_text(text.replace('"ship-notices:write", ', "")))
    # The same token, an interchange mixing an 856 with an 810: the 856 needs the lost scope.
    invoice_body = codec.encode(decode_document(invoice("INV-S1", supplier="initech")), envelope(2))
    mixed = codec.encode(decode_document(ship_notice("ASN-S2", supplier="initech")),
                         envelope(3)) + invoice_body
    response = await client.post("/v1/documents", content=mixed,
                                 headers={"Content-Type": "application/edi-x12"})
    assert response.status_code == 403
    assert refusal(response) == "insufficient_scope"
    assert "ship-notices:write" in response.headers["www-authenticate"]
    # The invoice alone still goes through: only the lost grant bites.
    alone = await client.post("/v1/documents", content=invoice_body,
                              headers={"Content-Type": "application/edi-x12"})
    assert alone.status_code == 202, alone.text


async def test_broken_policy_edit_is_rejected_and_the_old_policy_stays(
    wharf: Runtime, partner_client: ClientFactory, policies_dir: Path
) -> None:
    policy = policies_dir / "acme.toml"
    good = policy.read_text()
    await reloaded(wharf, lambda: policy.write_text("suspendd = true\n" + good))
    status = wharf.policies.status()
    assert status.rejected_count == 1
    assert status.last_error is not None and "acme.toml:" in status.last_error
    assert "suspendd" in status.last_error
    response = await partner_client("acme").post(
        "/v1/ship-notices", content=ship_notice("ASN-P"), headers=JSON
    )
    assert response.status_code == 202, "the last good policy is still in force"
    async with httpx.AsyncClient(base_url=wharf.internal_url) as ops:
        ready = (await ops.get("/readyz")).json()
    assert ready["info"]["policies_current"] is False
    assert "suspendd" in ready["info"]["policy_last_error"]

    # Suspending the partner takes effect at once, for tokens already issued too.
    await reloaded(wharf, lambda: policy.write_text("suspended = true\n" + good))
    response = await partner_client("acme").post(
        "/v1/ship-notices", content=ship_notice("ASN-Q"), headers=JSON
    )
    assert response.status_code == 403
    assert "suspended" in response.json()["detail"]


@pytest.mark.parametrize(
    ("start", "days"), [(-10, 1), (1, 30)], ids=["expired", "not-yet-valid"]
)
async def test_certificates_outside_their_validity_fail_the_handshake(
    wharf: Runtime, pki: Pki, tmp_path: Path, start: int, days: int
) -> None:
    issued = issue_client(
        pki.dir, "acme", days=days, out_dir=tmp_path / f"certs{start}",
        not_before=dt.datetime.now(dt.UTC) + dt.timedelta(days=start),
    )
    context = pki.context(None)
    context.load_cert_chain(str(issued.cert), str(issued.key))
    async with httpx.AsyncClient(base_url=wharf.partner_url, verify=context) as client:
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            await client.get("/.well-known/jwks.json")


async def test_revoked_certificate_is_refused_after_a_hot_reload(
    make_wharf: WharfFactory, pki: Pki, tmp_path: Path
) -> None:
    revoked = tmp_path / "revoked-serials.txt"
    revoked.write_text("# none yet\n")
    async with make_wharf(
        revocation__revoked_serials=str(revoked), revocation__poll_interval="0.2"
    ) as wharf, httpx.AsyncClient(
        base_url=wharf.partner_url, verify=pki.context("acme"), auth=ClientCredentials()
    ) as client:
        assert (await client.get("/v1/schemas/ship_notice")).status_code == 200
        landed = anyio.Event()

        async def on_change(*_: object) -> None:
            landed.set()

        wharf.revocations.subscribe(on_change=on_change)
        serial = x509.load_pem_x509_certificate(pki.clients["acme"].cert.read_bytes()).serial_number
        revoked.write_text(f"{serial:x}\n")
        with anyio.fail_after(10):
            await landed.wait()
        response = await client.get("/v1/schemas/ship_notice")
        assert response.status_code == 401
        assert "revoked" in response.json()["detail"]


async def test_rate_limit_holds_across_two_wharf_processes(
    make_wharf: WharfFactory, pki: Pki, policies_dir: Path, tmp_path: Path
) -> None:
    policy = policies_dir / "globex.toml"
    policy.write_text(
        policy.read_text()
        + "\n[rate_limit]\nrequests_per_window = 6\ndocuments_per_window = 100\n"
        "window_seconds = 3600\nburst = 6\n"
    )
    async with make_wharf(
        storage__database=str(tmp_path / "one.db"), audit__path=str(tmp_path / "one.jsonl")
    ) as one, make_wharf(
        storage__database=str(tmp_path / "two.db"), audit__path=str(tmp_path / "two.jsonl")
    ) as two, httpx.AsyncClient(
        base_url=one.partner_url, verify=pki.context("globex"), auth=ClientCredentials()
    ) as a, httpx.AsyncClient(
        base_url=two.partner_url, verify=pki.context("globex"), auth=ClientCredentials()
    ) as b:
        statuses: list[int] = []
        limited: list[httpx.Response] = []

        async def hammer(client: httpx.AsyncClient) -> None:
            for _ in range(6):
                response = await client.get("/v1/schemas/ship_notice")
                statuses.append(response.status_code)
                if response.status_code == 429:
                    limited.append(response)

        async with anyio.create_task_group() as tg:
            tg.start_soon(hammer, a)
            tg.start_soon(hammer, b)
    # 6 requests a window for globex, in total: each process's token request took one.
    assert statuses.count(200) == 4, statuses
    assert statuses.count(429) == 8, statuses
    refused = limited[0]
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["ratelimit-policy"].startswith('"requests";q=6;w=3600')
    assert '"requests";r=0' in refused.headers["ratelimit"]


async def test_ratelimit_headers_on_every_response(partner_client: ClientFactory) -> None:
    ok = await partner_client("acme").get("/v1/schemas/ship_notice")
    refused = await partner_client("acme").post("/v1/ship-notices", content=b"{", headers=JSON)
    for response in (ok, refused):
        assert response.headers["ratelimit-policy"].startswith('"requests"'), response
        assert response.headers["ratelimit"].startswith('"requests";r=')


async def test_po_number_is_not_in_the_sqlite_file_in_plain_text(
    wharf: Runtime, partner_client: ClientFactory, tmp_path: Path
) -> None:
    secret = "PO-SECRET-4711"
    body = ship_notice("ASN-SEALED").replace(b'"PO-1"', f'"{secret}"'.encode())
    # Partners put PO numbers in their keys too: the key is stored hashed.
    response = await partner_client("acme").post(
        "/v1/ship-notices", content=body,
        headers={**JSON, "Idempotency-Key": f"asn-for-{secret}"},
    )
    assert response.status_code == 202
    correlation_id = response.json()["correlation_id"]
    async with httpx.AsyncClient(base_url=wharf.internal_url) as ops:
        with anyio.fail_after(10):
            while True:
                trace = (await ops.get(f"/internal/v1/traces/{correlation_id}?payload=true"))
                if trace.status_code == 200 and trace.json()["status"] == "posted":
                    break
                await wharf.traces.wait_changed()
    assert secret in trace.json()["payload"]["raw"], "operators still see the payload"
    files = [tmp_path / name for name in ("wharf.db", "wharf.db-wal") if (tmp_path / name).exists()]
    assert files
    for path in files:
        assert secret.encode() not in path.read_bytes(), f"{path.name} holds the PO number"


async def test_auth_failures_and_token_issuance_are_audited_without_secrets(
    wharf: Runtime, partner_client: ClientFactory, tmp_path: Path
) -> None:
    await partner_client("stranger").get("/v1/schemas/ship_notice")
    await partner_client("acme", token=False).get("/v1/schemas/ship_notice")
    token = await token_for(partner_client("acme", token=False))
    text = (tmp_path / "audit.jsonl").read_text()
    records = [json.loads(line) for line in text.splitlines()]
    failures = [r for r in records if r["kind"] == "auth_failure"]
    assert {r["outcome"] for r in failures} >= {"403", "401"}
    on_api = [r for r in failures if r["detail"].get("path", "").startswith("/v1/")]
    assert len(on_api) == 2
    assert all(r["peer"].startswith("127.0.0.1:") for r in on_api)
    issued = [r for r in records if r["kind"] == "token_issued"]
    assert [r["partner"] for r in issued] == ["acme"]
    assert token not in text
    assert token.split(".")[2] not in text, "not even the signature"


async def test_a_slow_body_gets_408(make_wharf: WharfFactory, pki: Pki) -> None:
    async with make_wharf(gateway__body_timeout="0.5") as wharf:
        async with httpx.AsyncClient(base_url=wharf.partner_url, verify=pki.context("acme")) as c:
            token = await token_for(c)
        url = httpx.URL(wharf.partner_url)
        assert url.port is not None
        stream = await anyio.connect_tcp(
            url.host, url.port, ssl_context=pki.context("acme"), tls_standard_compatible=False
        )
        async with stream:
            head = (
                "POST /v1/ship-notices HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                "Content-Length: 1000\r\n\r\n"
            )
            await stream.send(head.encode() + b'{"doc_type": "ship_notice", ')  # then nothing
            with anyio.fail_after(10):
                answer = await stream.receive()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:80]
    assert b"application/problem+json" in answer


async def test_metrics_show_policy_state_refusals_and_certificate_expiry(
    make_wharf: WharfFactory, pki: Pki
) -> None:
    async with make_wharf(pki__expiry_warning_days="200") as wharf:
        async with httpx.AsyncClient(base_url=wharf.partner_url, verify=pki.context("stranger")) as c:
            assert (await c.get("/v1/schemas/ship_notice")).status_code == 403
        async with httpx.AsyncClient(base_url=wharf.internal_url) as ops:
            text = (await ops.get("/metrics")).text
    assert "wharf_policy_generation 1.0" in text
    assert "wharf_policy_current 1.0" in text
    assert 'wharf_auth_failures_total{status="403"} 1.0' in text
    fingerprint = pki.clients["globex"].fingerprint
    assert f'wharf_certificate_days_left{{fingerprint="{fingerprint}",partner="globex"' in text


async def request_head(wharf: Runtime, pki: Pki, head: bytes) -> bytes:
    """Send ``head`` (never finishing it unless it ends with a blank line); the first answer."""
    url = httpx.URL(wharf.partner_url)
    assert url.port is not None
    stream = await anyio.connect_tcp(
        url.host, url.port, ssl_context=pki.context("acme"), tls_standard_compatible=False
    )
    async with stream:
        await stream.send(head)
        with anyio.fail_after(20):
            try:
                return await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return b"<closed>"


async def test_a_huge_request_head_gets_431(wharf: Runtime, pki: Pki) -> None:
    head = b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 100_000
    answer = await request_head(wharf, pki, head)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:60]


async def test_a_trickled_request_head_is_cut_off(
    wharf: Runtime, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wharf.gateway.tls import TLSHttpToolsProtocol

    monkeypatch.setattr(TLSHttpToolsProtocol, "head_timeout", 0.5)
    # The request line and one header, then nothing: the connection is closed, unanswered.
    answer = await request_head(wharf, pki, b"GET /.well-known/jwks.json HTTP/1.1\r\nHost: x\r\n")
    assert answer == b"<closed>"
