"""Access tokens: issue, verify, every refusal, scopes, the key ring and external issuers.

Time is a clock the test moves (no sleeps); certificates are the dev PKI's real ones; keys
are real and persisted in tmp_path.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from joserfc import jws
from joserfc.jwk import ECKey, Key, OctKey, RSAKey

from wharf.errors import PkiError
from wharf.model.documents import DOC_TYPES
from wharf.security.keyring import ExternalIssuer, KeyRing, SigningKeySettings
from wharf.security.tokens import (
    ALL_SCOPES,
    PURCHASE_ORDERS_READ,
    TRACES_READ,
    AccessToken,
    BearerError,
    OAuthSettings,
    TokenEndpointError,
    TokenService,
    authorize,
    bearer_token,
    cert_thumbprint,
    required_scope,
    required_scopes,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from tests.conftest import Pki

T0 = 1_800_000_000
SHIP = "ship-notices:write"
INVOICES = "invoices:write"
IDP = "https://idp.example.test"


class FakeClock:
    def __init__(self) -> None:
        self.now = float(T0)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path: Path) -> OAuthSettings:
    return OAuthSettings(signing=SigningKeySettings(dir=str(tmp_path / "keys")))


@pytest.fixture
def ring(settings: OAuthSettings, clock: FakeClock) -> KeyRing:
    return KeyRing(settings.signing, token_lifetime=settings.token_lifetime, clock=clock)


@pytest.fixture
def service(ring: KeyRing, settings: OAuthSettings, clock: FakeClock) -> TokenService:
    return TokenService(ring, settings, clock=clock)


@pytest.fixture
def acme(pki: Pki) -> str:
    return pki.clients["acme"].fingerprint


@pytest.fixture
def globex(pki: Pki) -> str:
    return pki.clients["globex"].fingerprint


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def thumbprint_of(pem: Path) -> str:
    """x5t#S256 computed from the certificate itself, independently of the fingerprint."""
    der = x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(serialization.Encoding.DER)
    return b64(hashlib.sha256(der).digest())


def sign(header: dict[str, Any], claims: dict[str, Any], key: Key) -> str:
    """A token as an attacker or an external provider would make it (any algorithm)."""
    registry = jws.JWSRegistry(algorithms=["ES256", "RS256", "HS256"], strict_check_header=False)
    return jws.serialize_compact(header, json.dumps(claims).encode(), key, registry=registry)


def raw_sign(header: dict[str, Any], claims: dict[str, Any], key: Key) -> str:
    """Sign without any library check on the header (joserfc refuses to make some forgeries)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = jws.JWSRegistry.algorithms[header["alg"]].sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(signature)}"


def claims_for(fingerprint: str, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": OAuthSettings().issuer, "sub": "acme", "aud": OAuthSettings().audience,
        "client_id": "acme-client", "scope": SHIP, "iat": T0, "nbf": T0, "exp": T0 + 600,
        "jti": "j-1", "cnf": {"x5t#S256": cert_thumbprint(fingerprint)},
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def own_header(ring: KeyRing, **changes: Any) -> dict[str, Any]:
    signer = ring.signer()
    header = {"alg": signer.alg, "kid": signer.kid, "typ": "at+jwt", **changes}
    return {k: v for k, v in header.items() if v is not None}


async def refused(check: Awaitable[AccessToken]) -> str:
    with pytest.raises(BearerError) as caught:
        await check
    assert caught.value.error == "invalid_token"
    assert caught.value.status == 401
    assert caught.value.www_authenticate.startswith('Bearer realm="wharf", error="invalid_token"')
    return caught.value.detail


# -- issuing ---------------------------------------------------------------------------------


async def test_issued_token_is_an_rfc9068_jwt_bound_to_the_certificate(
    service: TokenService, ring: KeyRing, pki: Pki, acme: str
) -> None:
    response = service.issue("acme", "acme-client", acme, [SHIP, TRACES_READ], None)
    assert (response.token_type, response.expires_in) == ("Bearer", 600)
    assert response.scope == f"{SHIP} {TRACES_READ}"
    header_part, payload_part, _ = response.access_token.split(".")
    header, claims = unb64(header_part), unb64(payload_part)
    assert header == {"alg": "ES256", "kid": ring.signer().kid, "typ": "at+jwt"}
    assert claims["cnf"] == {"x5t#S256": thumbprint_of(pki.clients["acme"].cert)}
    assert claims["iss"] == "https://127.0.0.1:8443"
    assert claims["aud"] == "urn:wharf:partner-api"
    assert (claims["sub"], claims["client_id"]) == ("acme", "acme-client")
    assert (claims["iat"], claims["nbf"], claims["exp"]) == (T0, T0, T0 + 600)
    assert len(claims["jti"]) >= 16

    token = await service.verify(response.access_token, acme, partner="acme")
    assert token == AccessToken(
        partner="acme", client_id="acme-client", scopes=frozenset({SHIP, TRACES_READ}),
        jti=claims["jti"], exp=T0 + 600, issuer="https://127.0.0.1:8443",
    )
    second = service.issue("acme", "acme-client", acme, [SHIP], None)
    assert unb64(second.access_token.split(".")[1])["jti"] != claims["jti"]


@pytest.mark.parametrize("algorithm", ["RS256", "EdDSA"])
async def test_other_signing_algorithms_issue_and_verify(
    tmp_path: Path, clock: FakeClock, acme: str, algorithm: Any
) -> None:
    settings = OAuthSettings(signing=SigningKeySettings(dir=str(tmp_path), algorithm=algorithm))
    ring = KeyRing(settings.signing, token_lifetime=600, clock=clock)
    service = TokenService(ring, settings, clock=clock)
    response = service.issue("acme", "acme-client", acme, [SHIP], None)
    assert unb64(response.access_token.split(".")[0])["alg"] == algorithm
    assert (await service.verify(response.access_token, acme)).scopes == {SHIP}


def test_cert_thumbprint_refuses_what_is_not_a_sha256_fingerprint() -> None:
    assert cert_thumbprint("sha256:" + "00" * 32) == b64(bytes(32))
    for bad in ("sha1:" + "00" * 20, "sha256:" + "0" * 63, "sha256:" + "G" * 64, "00" * 32):
        with pytest.raises(ValueError, match="fingerprint"):
            cert_thumbprint(bad)


@pytest.mark.parametrize(
    ("requested", "granted", "expected"),
    [
        (None, [SHIP, INVOICES], {SHIP, INVOICES}),
        (SHIP, [SHIP, INVOICES], {SHIP}),
        (f"{INVOICES} {SHIP}", [SHIP, INVOICES], {SHIP, INVOICES}),
        (None, [SHIP, "admin:everything"], {SHIP}),  # a grant Wharf does not know is no grant
    ],
)
def test_requested_scope_within_the_grant_is_issued(
    service: TokenService, acme: str, requested: str | None, granted: list[str], expected: set[str]
) -> None:
    response = service.issue("acme", "acme-client", acme, granted, requested)
    assert set(response.scope.split(" ")) == expected


@pytest.mark.parametrize(
    ("requested", "granted", "message"),
    [
        (f"{SHIP} {INVOICES}", [SHIP], "scope invoices:write is not granted to this client"),
        ("admin:everything", [SHIP], "unknown scope admin:everything"),
        ("", [SHIP], "separated by single spaces"),
        (f"{SHIP}  {SHIP}", [SHIP], "separated by single spaces"),
        (None, [], "no scope is granted"),
        (None, ["admin:everything"], "no scope is granted"),
    ],
)
def test_scope_outside_the_grant_is_invalid_scope(
    service: TokenService, acme: str, requested: str | None, granted: list[str], message: str
) -> None:
    with pytest.raises(TokenEndpointError) as caught:
        service.issue("acme", "acme-client", acme, granted, requested)
    assert (caught.value.error, caught.value.status) == ("invalid_scope", 400)
    assert message in caught.value.detail
    assert json.loads(caught.value.body())["error"] == "invalid_scope"


# -- refusals --------------------------------------------------------------------------------


async def test_expiry_nbf_and_iat_honour_the_leeway(
    service: TokenService, clock: FakeClock, acme: str
) -> None:
    token = service.issue("acme", "acme-client", acme, [SHIP], None).access_token
    clock.advance(600 + 29)  # expired 29 s ago: within the 30 s leeway
    assert (await service.verify(token, acme)).partner == "acme"
    clock.advance(1)
    assert await refused(service.verify(token, acme)) == "the access token has expired"

    clock.now = T0 - 29  # issued 29 s "in the future": clock skew, accepted
    assert (await service.verify(token, acme)).partner == "acme"
    clock.now = T0 - 31
    reason = await refused(service.verify(token, acme))
    assert "issued in the future" in reason or "not yet valid" in reason


def forged_cases(ring: KeyRing, acme: str) -> dict[str, tuple[str, str]]:
    """name -> (token, the refusal it must get); each token differs in one way from a good one."""
    key, kid = ring.signer().key, ring.signer().kid
    good_header = own_header(ring)
    # The attacker's HMAC secret: the public key as the JWKS publishes it, in PEM.
    pem = ECKey.import_key(key.as_dict(private=False)).as_pem(private=False)
    unsigned = b64(json.dumps({"alg": "none", "typ": "at+jwt", "kid": kid}).encode())
    payload = b64(json.dumps(claims_for(acme)).encode())
    hs_header = b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
    hs_signature = hmac.new(pem, f"{hs_header}.{payload}".encode(), hashlib.sha256).digest()
    good = sign(good_header, claims_for(acme), key)
    h, _, s = good.split(".")
    tampered = f"{h}.{b64(json.dumps(claims_for(acme, scope=f'{SHIP} {INVOICES}')).encode())}.{s}"
    stranger = ECKey.generate_key("P-256", parameters={"kid": "stranger-key"})
    return {
        "expired": (
            sign(good_header, claims_for(acme, iat=T0 - 700, nbf=T0 - 700, exp=T0 - 100), key),
            "the access token has expired",
        ),
        "not-yet-valid": (
            sign(good_header, claims_for(acme, nbf=T0 + 300), key), "token is not yet valid"
        ),
        "issued-in-the-future": (
            sign(good_header, claims_for(acme, iat=T0 + 300), key), "issued in the future"
        ),
        "wrong-audience": (
            sign(good_header, claims_for(acme, aud="urn:other-api"), key), "'aud'"
        ),
        "wrong-issuer": (
            sign(good_header, claims_for(acme, iss="https://evil.test"), key),
            "the access token's issuer is not trusted",
        ),
        "no-issuer": (sign(good_header, claims_for(acme, iss=None), key), "issuer is not trusted"),
        "no-jti": (sign(good_header, claims_for(acme, jti=None), key), "jti"),
        "no-client-id": (sign(good_header, claims_for(acme, client_id=None), key), "client_id"),
        "no-exp": (sign(good_header, claims_for(acme, exp=None), key), "exp"),
        "unknown-kid": (
            sign({**good_header, "kid": "stranger-key"}, claims_for(acme), stranger),
            "the access token is signed by an unknown key",
        ),
        "kid-of-ours-key-of-theirs": (
            sign(good_header, claims_for(acme), stranger),
            "the access token's signature does not verify",
        ),
        "no-kid": (
            sign(own_header(ring, kid=None), claims_for(acme), key), "names no signing key"
        ),
        "alg-none": (f"{unsigned}.{payload}.", "algorithm 'none' is not accepted"),
        "hs256-keyed-with-the-public-key": (
            f"{hs_header}.{payload}.{b64(hs_signature)}", "algorithm 'HS256' is not accepted"
        ),
        "tampered-payload": (tampered, "the access token's signature does not verify"),
        "typ-jwt": (
            sign(own_header(ring, typ="JWT"), claims_for(acme), key), "typ must be at+jwt"
        ),
        "no-typ": (
            sign(own_header(ring, typ=None), claims_for(acme), key), "typ must be at+jwt"
        ),
        "missing-cnf": (
            sign(good_header, claims_for(acme, cnf=None), key),
            "the access token is not bound to a certificate (cnf.x5t#S256)",
        ),
        "cnf-without-x5t": (
            sign(good_header, claims_for(acme, cnf={"jkt": "abc"}), key), "not bound"
        ),
        "crit-header": (
            raw_sign({**good_header, "crit": ["x-ext"], "x-ext": 1}, claims_for(acme), key),
            "JWS extensions",
        ),
        "not-a-jwt": ("not.a.jwt", "not a well-formed JWT"),
        "two-parts": ("abc.def", "not a well-formed JWT"),
        "payload-not-an-object": (
            f"{h}.{b64(b'[1, 2]')}.{s}", "not a well-formed JWT"
        ),
        "too-long": ("a" * 9000, "too long"),
    }


CASES = [
    "expired", "not-yet-valid", "issued-in-the-future", "wrong-audience", "wrong-issuer",
    "no-issuer", "no-jti", "no-client-id", "no-exp", "unknown-kid", "kid-of-ours-key-of-theirs",
    "no-kid", "alg-none", "hs256-keyed-with-the-public-key", "tampered-payload", "typ-jwt",
    "no-typ", "missing-cnf", "cnf-without-x5t", "crit-header", "not-a-jwt", "two-parts",
    "payload-not-an-object", "too-long",
]


@pytest.mark.parametrize("case", CASES)
async def test_forged_or_broken_tokens_are_refused(
    service: TokenService, ring: KeyRing, acme: str, case: str
) -> None:
    token, reason = forged_cases(ring, acme)[case]
    assert reason in await refused(service.verify(token, acme))


async def test_the_untouched_forgery_baseline_verifies(
    service: TokenService, ring: KeyRing, acme: str
) -> None:
    # Guards the table above: the same construction without the flaw is accepted.
    token = sign(own_header(ring), claims_for(acme), ring.signer().key)
    assert (await service.verify(token, acme)).scopes == {SHIP}


async def test_token_presented_with_another_certificate_is_refused(
    service: TokenService, acme: str, globex: str
) -> None:
    token = service.issue("acme", "acme-client", acme, [SHIP], None).access_token
    reason = await refused(service.verify(token, globex))
    assert reason == "the access token was issued to another certificate"
    assert "another partner" in await refused(service.verify(token, acme, partner="globex"))


# -- scopes against the current policy ------------------------------------------------------


def test_required_scope_covers_every_document_type() -> None:
    assert {d: required_scope(d) for d in DOC_TYPES} == {
        "purchase_order": "purchase-orders:write",
        "acknowledgment": "acknowledgments:write",
        "ship_notice": SHIP,
        "invoice": INVOICES,
        "inventory_advice": "inventory:write",
        "price_catalog": "catalog:write",
        "lead_time_change": "catalog:write",
        "rebate_claim": "rebate-claims:write",
        "return_authorization": "returns:write",
    }
    assert len(ALL_SCOPES) == 9 and PURCHASE_ORDERS_READ in ALL_SCOPES
    assert "purchase-orders:write" not in ALL_SCOPES  # partners never send purchase orders
    assert required_scopes(["ship_notice", "invoice", "ship_notice"]) == {SHIP, INVOICES}


def test_authorize_intersects_the_token_with_the_current_grant() -> None:
    token = AccessToken(
        partner="acme", client_id="c", scopes=frozenset({SHIP, INVOICES}), jti="j", exp=T0,
        issuer="i",
    )
    assert authorize(token, SHIP, {SHIP, INVOICES}) == {SHIP, INVOICES}
    assert authorize(token, [SHIP, INVOICES], {SHIP, INVOICES, TRACES_READ}) == {SHIP, INVOICES}
    with pytest.raises(BearerError) as caught:  # invoices:write revoked since issuance
        authorize(token, [SHIP, INVOICES], {SHIP})
    assert (caught.value.status, caught.value.error) == (403, "insufficient_scope")
    assert caught.value.www_authenticate == (
        'Bearer realm="wharf", error="insufficient_scope", '
        'error_description="this request needs scope invoices:write", '
        'scope="invoices:write ship-notices:write"'
    )
    with pytest.raises(BearerError):  # granted now, but not in the token
        authorize(token, TRACES_READ, {SHIP, TRACES_READ})


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    assert bearer_token("bearer   abc") == "abc"
    with pytest.raises(BearerError) as caught:
        bearer_token(None)
    assert (caught.value.status, caught.value.error) == (401, None)
    assert caught.value.www_authenticate == 'Bearer realm="wharf"'
    for bad in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", ""):
        with pytest.raises(BearerError) as caught:
            bearer_token(bad)
        assert (caught.value.status, caught.value.error) == (400, "invalid_request")


def test_error_description_cannot_break_the_header() -> None:
    error = BearerError("invalid_token", 'quote " backslash \\ newline \n é')
    assert error.www_authenticate.endswith('error_description="quote ? backslash ? newline ? ?"')


# -- the key ring ----------------------------------------------------------------------------


def test_keys_are_private_files_and_survive_a_restart(
    ring: KeyRing, settings: OAuthSettings, clock: FakeClock
) -> None:
    files = list(ring.directory.iterdir())
    assert [f.name for f in files] == [f"{ring.signer().kid}.json"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(ring.directory.stat().st_mode) == 0o700
    stored = json.loads(files[0].read_text())
    assert stored["created"] == T0 and stored["not_after"] is None
    assert stored["jwk"]["kid"] == ring.signer().kid and "d" in stored["jwk"]
    again = KeyRing(settings.signing, token_lifetime=600, clock=clock)
    assert again.signer().kid == ring.signer().kid
    assert all("d" not in key for key in again.jwks()["keys"])


async def test_rotated_key_verifies_until_not_after_then_is_pruned(
    service: TokenService, ring: KeyRing, clock: FakeClock, acme: str
) -> None:
    old = ring.signer()
    before = service.issue("acme", "acme-client", acme, [SHIP], None).access_token
    # A token the old key signed that would outlive the key (only a forger makes one).
    long_lived = sign(own_header(ring), claims_for(acme, exp=T0 + 10**6), old.key)
    clock.advance(60)
    new_kid = ring.rotate()
    assert ring.signer().kid == new_kid != old.kid
    after = service.issue("acme", "acme-client", acme, [SHIP], None).access_token
    assert unb64(after.split(".")[0])["kid"] == new_kid
    assert (await service.verify(before, acme)).partner == "acme"
    assert {k["kid"] for k in ring.jwks()["keys"]} == {old.kid, new_kid}
    retired = {k.kid: k for k in ring.signing_keys()}[old.kid]
    assert retired.not_after == T0 + 60 + 600 + 300  # retirement + token lifetime + grace

    clock.advance(600 + 299)
    assert (await service.verify(long_lived, acme)).partner == "acme"
    assert ring.prune() == ()
    clock.advance(1)
    assert [k["kid"] for k in ring.jwks()["keys"]] == [new_kid]
    reason = await refused(service.verify(long_lived, acme))
    assert reason == "the access token is signed by an unknown key"
    assert ring.prune() == (old.kid,)
    assert [p.stem for p in ring.directory.iterdir()] == [new_kid]


def test_maintain_rotates_when_the_signer_is_old(ring: KeyRing, clock: FakeClock) -> None:
    first = ring.signer().kid
    clock.advance(29 * 86400)
    assert ring.maintain().rotated_to is None
    clock.advance(86400)
    done = ring.maintain()
    assert done.rotated_to == ring.signer().kid != first
    clock.advance(900)
    assert ring.maintain().pruned == (first,)


async def test_another_process_rotation_is_picked_up_on_an_unknown_kid(
    settings: OAuthSettings, ring: KeyRing, clock: FakeClock, acme: str
) -> None:
    other = KeyRing(settings.signing, token_lifetime=600, clock=clock)
    mine = TokenService(ring, settings, clock=clock)
    theirs = TokenService(other, settings, clock=clock)
    other.rotate()
    token = theirs.issue("acme", "acme-client", acme, [SHIP], None).access_token
    # Rate-limited: the directory was read just now, an unknown kid does not re-read it.
    assert "unknown key" in await refused(mine.verify(token, acme))
    clock.advance(5)
    assert (await mine.verify(token, acme)).partner == "acme"
    assert ring.signer().kid == other.signer().kid  # and this process now signs with it too


def test_two_signers_on_disk_leave_only_the_newest_signing(
    settings: OAuthSettings, ring: KeyRing, clock: FakeClock
) -> None:
    # As if a second process created its own key at the same start, or a rotation was cut.
    first = ring.signer()
    stray = json.loads((ring.directory / f"{first.kid}.json").read_text())
    fresh = ECKey.generate_key("P-256")
    kid = fresh.thumbprint()
    stray.update(
        kid=kid, created=T0 + 10,
        jwk={**fresh.as_dict(private=True), "kid": kid, "alg": "ES256", "use": "sig"},
    )
    path = ring.directory / f"{kid}.json"
    path.write_text(json.dumps(stray))
    path.chmod(0o600)
    again = KeyRing(settings.signing, token_lifetime=600, clock=clock)
    assert again.signer().kid == kid
    not_after = {k.kid: k.not_after for k in again.signing_keys()}
    assert not_after == {kid: None, first.kid: T0 + 10 + 900}


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [
        ("{not json", 0o600, "not a Wharf key file"),
        ('{"kid": "x"}', 0o600, "not a Wharf key file"),
        (None, 0o644, "readable by others"),
    ],
)
def test_a_bad_key_file_is_a_clear_error_naming_it(
    settings: OAuthSettings, ring: KeyRing, clock: FakeClock,
    content: str | None, mode: int, message: str,
) -> None:
    path = ring.directory / f"{ring.signer().kid}.json"
    if content is not None:
        path = ring.directory / "broken.json"
        path.write_text(content)
    path.chmod(mode)
    with pytest.raises(PkiError) as caught:
        KeyRing(settings.signing, token_lifetime=600, clock=clock)
    assert str(path) in str(caught.value) and message in str(caught.value)
    # A running ring keeps its keys when the directory turns bad under it.
    signer = ring.signer().kid
    ring.reload()
    assert ring.signer().kid == signer


def test_a_key_file_whose_kid_differs_from_its_name_is_refused(
    settings: OAuthSettings, ring: KeyRing, clock: FakeClock
) -> None:
    source = ring.directory / f"{ring.signer().kid}.json"
    copy = ring.directory / "renamed.json"
    copy.write_bytes(source.read_bytes())
    os.chmod(copy, 0o600)
    with pytest.raises(PkiError, match="renamed.json: kid does not match"):
        KeyRing(settings.signing, token_lifetime=600, clock=clock)


# -- external identity providers -------------------------------------------------------------


class Idp:
    """An external provider: its keys, its JWKS file, and tokens it signs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys: list[Key] = []
        self.extra: list[dict[str, Any]] = []
        self.add_key("idp-1")

    def add_key(self, kid: str) -> Key:
        key = ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256", "use": "sig"})
        self.keys.append(key)
        self.publish()
        return key

    def publish(self) -> None:
        jwks = [key.as_dict(private=False) for key in self.keys] + self.extra
        self.path.write_text(json.dumps({"keys": jwks}))

    def token(self, fingerprint: str, key: Key | None = None, **changes: Any) -> str:
        key = key or self.keys[-1]
        defaults = {
            "iss": IDP, "sub": "svc-acme", "client_id": "acme-idp-client",
            "scope": f"{SHIP} openid profile",
        }
        claims = claims_for(fingerprint, **{**defaults, **changes})
        return sign({"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}, claims, key)


ExternalService = tuple[TokenService, Idp]


@pytest.fixture
def external(
    tmp_path: Path, ring: KeyRing, settings: OAuthSettings, clock: FakeClock
) -> Callable[..., ExternalService]:
    def make(**issuer: Any) -> ExternalService:
        idp = Idp(tmp_path / "idp-jwks.json")
        config = msgspec.structs.replace(
            settings,
            external_issuers=[
                ExternalIssuer(issuer=IDP, jwks_file=str(idp.path), **issuer)
            ],
        )
        clients = {"acme-idp-client": "acme", "svc-acme": "acme"}
        return TokenService(ring, config, clock=clock, partner_for_client=clients.get), idp

    return make


async def test_external_issuer_token_maps_to_a_partner_with_known_scopes(
    external: Callable[..., ExternalService], acme: str
) -> None:
    service, idp = external(partner_claim="client_id")
    token = await service.verify(idp.token(acme), acme, partner="acme")
    assert (token.partner, token.client_id, token.issuer) == ("acme", "acme-idp-client", IDP)
    assert token.scopes == {SHIP}  # the provider's own scopes (openid, profile) are dropped
    service, idp = external()  # partner_claim "sub"
    assert (await service.verify(idp.token(acme), acme)).partner == "acme"


async def test_external_keys_refresh_on_an_unknown_kid_at_most_every_interval(
    external: Callable[..., ExternalService], clock: FakeClock, acme: str
) -> None:
    service, idp = external(refresh_interval=30)
    assert (await service.verify(idp.token(acme), acme)).partner == "acme"
    rotated = idp.add_key("idp-2")
    clock.advance(10)
    token = idp.token(acme, key=rotated, iat=int(clock()), nbf=int(clock()))
    assert "unknown key" in await refused(service.verify(token, acme))
    clock.advance(20)
    assert (await service.verify(token, acme)).partner == "acme"


async def test_external_keys_are_refetched_when_the_ttl_passes(
    external: Callable[..., ExternalService], clock: FakeClock, acme: str
) -> None:
    service, idp = external(jwks_ttl=100, refresh_interval=30)
    first = idp.keys[0]
    assert (await service.verify(idp.token(acme), acme)).partner == "acme"
    idp.keys = [ECKey.generate_key("P-256", parameters={"kid": "idp-3"})]
    idp.publish()  # the provider withdrew idp-1
    clock.advance(101)
    now = int(clock())
    stale = idp.token(acme, key=first, iat=now, nbf=now, exp=now + 600)
    assert "unknown key" in await refused(service.verify(stale, acme))


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong-audience", "'aud'"),
        ("unregistered-client", "not a registered partner"),
        ("cnf-of-another-certificate", "issued to another certificate"),
        ("no-cnf", "not bound to a certificate"),
        ("hs256-with-a-symmetric-key-in-the-jwks", "algorithm 'HS256' is not accepted"),
        ("typ-jwt", "typ must be at+jwt"),
        ("signed-by-wharf-key-claiming-the-idp", "unknown key"),
        ("signed-by-idp-key-claiming-wharf", "unknown key"),
    ],
)
async def test_external_tokens_get_the_same_checks(
    external: Callable[..., ExternalService], ring: KeyRing, acme: str, globex: str,
    case: str, reason: str,
) -> None:
    service, idp = external(partner_claim="client_id")
    key = idp.keys[0]
    header = {"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}
    idp_claims = claims_for(acme, iss=IDP, client_id="acme-idp-client")
    match case:
        case "wrong-audience":
            token = idp.token(acme, aud="urn:someone-else")
        case "unregistered-client":
            token = idp.token(acme, client_id="who-knows")
        case "cnf-of-another-certificate":
            token = idp.token(globex)
        case "no-cnf":
            token = idp.token(acme, cnf=None)
        case "hs256-with-a-symmetric-key-in-the-jwks":
            secret = OctKey.generate_key(256, parameters={"kid": "hs"})
            idp.extra.append(secret.as_dict(private=True))
            idp.publish()
            token = sign({"alg": "HS256", "kid": "hs", "typ": "at+jwt"}, idp_claims, secret)
        case "typ-jwt":
            token = sign({**header, "typ": "JWT"}, idp_claims, key)
        case "signed-by-wharf-key-claiming-the-idp":
            token = sign(own_header(ring), idp_claims, ring.signer().key)
        case "signed-by-idp-key-claiming-wharf":
            token = sign(header, claims_for(acme), key)
    assert reason in await refused(service.verify(token, acme))


async def test_external_provider_without_typ_can_be_allowed(
    external: Callable[..., ExternalService], acme: str
) -> None:
    service, idp = external(require_at_jwt=False)
    key = idp.keys[0]
    claims = claims_for(acme, iss=IDP, client_id="acme-idp-client", sub="svc-acme")
    token = sign({"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims, key)
    assert (await service.verify(token, acme)).partner == "acme"


async def test_symmetric_and_private_keys_in_a_jwks_are_ignored(
    external: Callable[..., ExternalService], acme: str
) -> None:
    service, idp = external()
    leaked = RSAKey.generate_key(2048, parameters={"kid": "leaked"})
    idp.extra.append(leaked.as_dict(private=True))
    idp.publish()
    claims = claims_for(acme, iss=IDP, client_id="acme-idp-client", sub="svc-acme")
    token = sign({"alg": "RS256", "kid": "leaked", "typ": "at+jwt"}, claims, leaked)
    assert "unknown key" in await refused(service.verify(token, acme))


def test_external_issuer_settings_are_checked(ring: KeyRing, settings: OAuthSettings) -> None:
    for bad in (
        {"issuer": IDP},
        {"issuer": IDP, "jwks_file": "a", "jwks_url": "https://x/jwks"},
        {"issuer": IDP, "jwks_url": "http://x/jwks"},
        {"issuer": IDP, "jwks_file": "a", "surprise": 1},
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, ExternalIssuer)
    own = msgspec.structs.replace(
        settings, external_issuers=[ExternalIssuer(issuer=settings.issuer, jwks_file="a")]
    )
    with pytest.raises(ValueError, match="Wharf's own issuer"):
        TokenService(ring, own)
