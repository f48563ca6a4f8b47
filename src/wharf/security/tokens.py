"""Certificate-bound OAuth 2.0 access tokens: issuing them, verifying them, checking scopes.

Wharf is its own authorization server for partners (client credentials, the client
authenticated by its TLS certificate, RFC 8705 ``tls_client_auth``) and the resource server
that checks the tokens. A token is a JWT access token per RFC 9068 (header ``typ: at+jwt``),
signed by the :class:`~wharf.security.keyring.KeyRing`, and bound to the client certificate
through ``cnf.x5t#S256`` (RFC 8705 §3.1): a stolen token is useless without the private key
of the certificate it was issued to.

Verification refuses, before any signature is checked, every algorithm but ES256, RS256 and
EdDSA -- that closes ``alg: none`` and the HS256-keyed-with-the-public-key confusion -- and
picks the key by ``kid`` only from the key source of the token's issuer (Wharf's key ring or
a configured external provider's JWKS); ``jku``/``x5u``/``jwk`` headers are never followed.

Scopes are least privilege twice over: a token carries at most what the policy granted when
it was issued, and :func:`authorize` intersects that with what the policy grants *now*, so
removing a grant takes effect on tokens already out there.

Error types::

    AuthError (wharf.errors)
    ├── BearerError         RFC 6750 refusal of a resource request (400/401/403) with the
    │                       WWW-Authenticate value to send
    └── TokenEndpointError  RFC 6749 §5.2 refusal at the token endpoint (400/401), JSON body

Descriptions never contain the token itself.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import time
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from joserfc import jws
from joserfc.errors import ClaimError, ExpiredTokenError, JoseError
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

from wharf.errors import AuthError
from wharf.security.keyring import (
    ALGORITHMS,
    Clock,
    ExternalIssuer,
    IssuerKeys,
    KeyRing,
    SigningKeySettings,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable

    from joserfc._rfc7515.model import JWSAlgModel
    from joserfc.jwk import Key

    from wharf.model import DocType

__all__ = (
    "ALL_SCOPES",
    "PURCHASE_ORDERS_READ",
    "TRACES_READ",
    "AccessToken",
    "BearerError",
    "OAuthSettings",
    "TokenEndpointError",
    "TokenResponse",
    "TokenService",
    "authorize",
    "bearer_token",
    "cert_thumbprint",
    "required_scope",
    "required_scopes",
)

# -- scopes ----------------------------------------------------------------------------------

PURCHASE_ORDERS_READ = "purchase-orders:read"
TRACES_READ = "traces:read"

_WRITE_SCOPES: dict[DocType, str] = {
    "acknowledgment": "acknowledgments:write",
    "ship_notice": "ship-notices:write",
    "invoice": "invoices:write",
    "inventory_advice": "inventory:write",
    "price_catalog": "catalog:write",
    "lead_time_change": "catalog:write",
    "rebate_claim": "rebate-claims:write",
    "return_authorization": "returns:write",
    # Partners never send purchase orders (Wharf sends them). The scope exists only so that
    # the answer is a plain 403 insufficient_scope; it is not in ALL_SCOPES and a policy
    # cannot grant it.
    "purchase_order": "purchase-orders:write",
}

ALL_SCOPES: frozenset[str] = frozenset(
    {s for d, s in _WRITE_SCOPES.items() if d != "purchase_order"}
    | {PURCHASE_ORDERS_READ, TRACES_READ}
)
"""Every scope a policy may grant (DESIGN.md, Partner API)."""


def required_scope(doc_type: DocType) -> str:
    """The scope a partner needs to send a document of this canonical type."""
    return _WRITE_SCOPES[doc_type]


def required_scopes(doc_types: Iterable[DocType]) -> frozenset[str]:
    """Scopes for an interchange holding several documents: each one needs its own."""
    return frozenset(_WRITE_SCOPES[doc_type] for doc_type in doc_types)


# -- errors ----------------------------------------------------------------------------------

BearerCode = Literal["invalid_request", "invalid_token", "insufficient_scope"]
_BEARER_STATUS: dict[BearerCode | None, tuple[int, str]] = {
    None: (401, "Unauthenticated"),
    "invalid_request": (400, "Bad request"),
    "invalid_token": (401, "Unauthenticated"),
    "insufficient_scope": (403, "Forbidden"),
}
_UNSAFE = re.compile(r'[^\x20-\x21\x23-\x5b\x5d-\x7e]')  # RFC 6749 error_description charset


def _safe(text: str) -> str:
    return _UNSAFE.sub("?", text)


class BearerError(AuthError):
    """A protected request refused per RFC 6750 §3.1.

    ``error`` is None when the request carried no credentials at all (the RFC asks for no
    error code then). :attr:`www_authenticate` is the header value to answer with.
    """

    def __init__(
        self, error: BearerCode | None, description: str, *, scope: str | None = None
    ) -> None:
        status, title = _BEARER_STATUS[error]
        super().__init__(description, status=status, title=title)
        self.error = error
        self.scope = scope

    @property
    def www_authenticate(self) -> str:
        parts = ['realm="wharf"']
        if self.error is not None:
            parts.append(f'error="{self.error}"')
            parts.append(f'error_description="{_safe(self.detail)}"')
        if self.scope is not None:
            parts.append(f'scope="{self.scope}"')
        return "Bearer " + ", ".join(parts)

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.www_authenticate}


TokenErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
]


class _TokenErrorBody(msgspec.Struct, frozen=True):
    error: str
    error_description: str


class TokenEndpointError(AuthError):
    """A token request refused per RFC 6749 §5.2 (401 for ``invalid_client``, else 400)."""

    def __init__(self, error: TokenErrorCode, description: str) -> None:
        unauthenticated = error == "invalid_client"
        status, title = (401, "Unauthenticated") if unauthenticated else (400, "Bad request")
        super().__init__(description, status=status, title=title)
        self.error = error

    def body(self) -> bytes:
        return msgspec.json.encode(_TokenErrorBody(self.error, _safe(self.detail)))


# -- settings and results --------------------------------------------------------------------


class OAuthSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Access tokens: who issues them, for whom, how long they live, which keys sign them."""

    issuer: str = "https://127.0.0.1:8443"
    """``iss`` of Wharf's tokens: the partner listener's public base URL."""
    audience: str = "urn:wharf:partner-api"
    """``aud`` of Wharf's tokens, and what every accepted token must name."""
    token_lifetime: int = 600
    """Seconds an issued token is valid."""
    leeway: int = 30
    """Seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""
    signing: SigningKeySettings = msgspec.field(default_factory=SigningKeySettings)
    external_issuers: list[ExternalIssuer] = msgspec.field(default_factory=list)
    """Identity providers whose tokens are accepted as well (same cnf and scope checks)."""


class TokenResponse(msgspec.Struct, frozen=True):
    """The token endpoint's success body (RFC 6749 §5.1)."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str


class AccessToken(msgspec.Struct, frozen=True, kw_only=True):
    """A verified token: whose it is and what it may do (before the current-policy check)."""

    partner: str
    client_id: str
    scopes: frozenset[str]
    jti: str
    exp: int
    issuer: str


def cert_thumbprint(fingerprint: str) -> str:
    """RFC 8705 ``x5t#S256`` (base64url SHA-256 of the DER) from ``sha256:<hex>``."""
    algorithm, _, digest = fingerprint.partition(":")
    if algorithm != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"not a sha256:<hex> certificate fingerprint: {fingerprint!r}")
    return base64.urlsafe_b64encode(bytes.fromhex(digest)).rstrip(b"=").decode("ascii")


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header value (RFC 6750 §2.1)."""
    if authorization is None:
        raise BearerError(None, "an access token is required")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise BearerError("invalid_request", "the Authorization header is not 'Bearer <token>'")
    return token


def authorize(
    token: AccessToken, needed: str | Iterable[str], granted_now: Collection[str]
) -> frozenset[str]:
    """Check ``needed`` against the token's scopes *and* the partner's current grant.

    Returns the effective scopes; raises ``insufficient_scope`` (403) naming what is needed.
    """
    wanted = frozenset([needed] if isinstance(needed, str) else needed)
    effective = token.scopes & frozenset(granted_now)
    if not wanted <= effective:
        missing = " ".join(sorted(wanted - effective))
        raise BearerError(
            "insufficient_scope",
            f"this request needs scope {missing}",
            scope=" ".join(sorted(wanted)),
        )
    return effective


# -- the service -----------------------------------------------------------------------------


class _AllowList(JWSRegistry):
    """joserfc's registry restricted to Wharf's algorithms.

    Overridden rather than configured because ``JWSRegistry(algorithms=...)`` still warns
    (SecurityWarning) on EdDSA, which RFC 9864 only renames; it is as sound as Ed25519.
    """

    def get_alg(self, name: str) -> JWSAlgModel:
        if not isinstance(name, str) or name not in ALGORITHMS:
            raise BearerError("invalid_token", f"algorithm {name!r} is not accepted")
        return self.algorithms[name]


_REGISTRY = _AllowList(strict_check_header=False)
_MAX_TOKEN = 8192
_TYP = {"at+jwt", "application/at+jwt"}
_claims_decoder = msgspec.json.Decoder(dict[str, Any])


def _invalid(description: str) -> BearerError:
    return BearerError("invalid_token", description)


class TokenService:
    """Issues Wharf's access tokens and verifies Wharf's and external issuers' tokens."""

    def __init__(
        self,
        keyring: KeyRing,
        settings: OAuthSettings,
        *,
        partner_for_client: Callable[[str], str | None] | None = None,
        clock: Clock = time.time,
        issuers: Iterable[IssuerKeys] | None = None,
    ) -> None:
        """``partner_for_client`` maps an external token's client id to a partner id using
        the *current* policy (``oauth_client_id``); without it external tokens are refused.
        ``issuers`` overrides the key sources built from ``settings.external_issuers``."""
        self._keyring = keyring
        self._settings = settings
        self._clock = clock
        self._partner_for_client = partner_for_client
        sources = issuers if issuers is not None else (
            IssuerKeys(issuer, clock=clock) for issuer in settings.external_issuers
        )
        self._issuers = {source.issuer.issuer: source for source in sources}
        if settings.issuer in self._issuers:
            raise ValueError(f"external issuer {settings.issuer} is Wharf's own issuer")

    @property
    def keyring(self) -> KeyRing:
        return self._keyring

    def issue(
        self,
        partner_id: str,
        client_id: str,
        cert_fingerprint: str,
        granted_scopes: Collection[str],
        requested_scope: str | None,
    ) -> TokenResponse:
        """A token for ``partner_id`` bound to the certificate; scope ⊆ what policy granted."""
        scopes = _grantable(granted_scopes, requested_scope)
        signer = self._keyring.signer()
        now = int(self._clock())
        scope = " ".join(sorted(scopes))
        claims = {
            "iss": self._settings.issuer,
            "sub": partner_id,
            "aud": self._settings.audience,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": now + self._settings.token_lifetime,
            "jti": secrets.token_urlsafe(16),
            "cnf": {"x5t#S256": cert_thumbprint(cert_fingerprint)},
        }
        header = {"alg": signer.alg, "kid": signer.kid, "typ": "at+jwt"}
        token = jws.serialize_compact(
            header, msgspec.json.encode(claims), signer.key, registry=_REGISTRY
        )
        return TokenResponse(token, "Bearer", self._settings.token_lifetime, scope)

    async def verify(
        self, token: str, presented_cert_fingerprint: str, *, partner: str | None = None
    ) -> AccessToken:
        """Check signature, ``typ``, algorithm, times, issuer, audience and the cnf binding.

        ``partner`` (the partner the TLS certificate belongs to), when given, must be the
        token's partner too. Raises :class:`BearerError` (``invalid_token``, 401).
        """
        if len(token) > _MAX_TOKEN:
            raise _invalid("the access token is too long")
        try:
            obj = jws.extract_compact(token.encode("ascii"), registry=_REGISTRY)
            header = obj.headers()
            claims = _claims_decoder.decode(obj.payload or b"")
        except (JoseError, UnicodeError, msgspec.DecodeError) as exc:
            raise _invalid("the access token is not a well-formed JWT") from exc
        issuer = claims.get("iss")
        external = self._issuers.get(issuer) if isinstance(issuer, str) else None
        if external is None and issuer != self._settings.issuer:
            raise _invalid("the access token's issuer is not trusted")
        _check_header(header, require_typ=external is None or external.issuer.require_at_jwt)
        key = await self._key(header["kid"], external)
        try:
            if not jws.validate_compact(obj, key, registry=_REGISTRY):
                raise _invalid("the access token's signature does not verify")
        except JoseError as exc:
            raise _invalid("the access token's signature does not verify") from exc
        audience = self._settings.audience
        if external is not None and external.issuer.audience is not None:
            audience = external.issuer.audience
        self._check_claims(claims, issuer=str(issuer), audience=audience)
        _check_binding(claims, presented_cert_fingerprint)
        result = self._access_token(claims, external)
        if partner is not None and result.partner != partner:
            raise _invalid("the access token belongs to another partner")
        return result

    async def authenticate(
        self, authorization: str | None, cert_fingerprint: str, *, partner: str | None = None
    ) -> AccessToken:
        """:func:`bearer_token` then :meth:`verify`: the per-request call."""
        return await self.verify(bearer_token(authorization), cert_fingerprint, partner=partner)

    async def _key(self, kid: str, external: IssuerKeys | None) -> Key:
        if external is not None:
            key = await external.key(kid)
        else:
            own = self._keyring.verification_key(kid)
            key = own.key if own is not None else None
        if key is None:
            raise _invalid("the access token is signed by an unknown key")
        return key

    def _check_claims(self, claims: dict[str, Any], *, issuer: str, audience: str) -> None:
        registry = JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=self._settings.leeway,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
            sub={"essential": True},
            client_id={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise _invalid("the access token has expired") from exc
        except ClaimError as exc:
            raise _invalid(f"the access token's claims are not acceptable: {exc}") from exc

    def _access_token(self, claims: dict[str, Any], external: IssuerKeys | None) -> AccessToken:
        scope_claim = "scope" if external is None else external.issuer.scope_claim
        if external is None:
            partner = claims["sub"]
        else:
            lookup = claims.get(external.issuer.partner_claim)
            partner = (
                self._partner_for_client(lookup)
                if self._partner_for_client is not None and isinstance(lookup, str)
                else None
            )
            if partner is None:
                raise _invalid("the access token's client is not a registered partner")
        if not isinstance(partner, str) or not isinstance(claims["client_id"], str):
            raise _invalid("the access token's sub or client_id is not a string")
        return AccessToken(
            partner=partner,
            client_id=claims["client_id"],
            scopes=_scopes(claims.get(scope_claim)),
            jti=claims["jti"],
            exp=int(claims["exp"]),
            issuer=claims["iss"],
        )


def _grantable(granted: Collection[str], requested: str | None) -> frozenset[str]:
    allowed = frozenset(granted) & ALL_SCOPES
    if not allowed:
        raise TokenEndpointError("invalid_scope", "no scope is granted to this client")
    if requested is None:
        return allowed
    wanted = frozenset(requested.split(" "))
    if "" in wanted:
        raise TokenEndpointError(
            "invalid_scope", "scope must be scope names separated by single spaces"
        )
    unknown = wanted - ALL_SCOPES
    if unknown:
        raise TokenEndpointError("invalid_scope", f"unknown scope {' '.join(sorted(unknown))}")
    refused = wanted - allowed
    if refused:
        raise TokenEndpointError(
            "invalid_scope", f"scope {' '.join(sorted(refused))} is not granted to this client"
        )
    return wanted


def _check_header(header: dict[str, Any], *, require_typ: bool) -> None:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise _invalid(f"algorithm {_safe(str(header.get('alg')))!r} is not accepted")
    if "crit" in header or "b64" in header:
        raise _invalid("the access token uses JWS extensions Wharf does not accept")
    typ = header.get("typ")
    if require_typ and (not isinstance(typ, str) or typ.lower() not in _TYP):
        raise _invalid("the token is not an access token (typ must be at+jwt)")
    if not isinstance(header.get("kid"), str):
        raise _invalid("the access token names no signing key (kid)")


def _check_binding(claims: dict[str, Any], fingerprint: str) -> None:
    cnf = claims.get("cnf")
    bound = cnf.get("x5t#S256") if isinstance(cnf, dict) else None
    if not isinstance(bound, str):
        raise _invalid("the access token is not bound to a certificate (cnf.x5t#S256)")
    if not hmac.compare_digest(bound.encode(), cert_thumbprint(fingerprint).encode()):
        raise _invalid("the access token was issued to another certificate")


def _scopes(value: object) -> frozenset[str]:
    """Known scopes of a ``scope`` claim; unknown ones (an IdP's own) are dropped."""
    if isinstance(value, str):
        names = value.split()
    elif isinstance(value, list) and all(isinstance(name, str) for name in value):
        names = value
    elif value is None:
        names = []
    else:
        raise _invalid("the access token's scope claim is malformed")
    return frozenset(names) & ALL_SCOPES
