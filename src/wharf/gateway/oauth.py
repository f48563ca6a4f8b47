"""The OAuth 2.0 endpoints on the partner listener: ``POST /oauth/token`` and the JWKS.

The token endpoint implements the client-credentials grant with RFC 8705
``tls_client_auth``: the TLS client certificate is the only credential. A request that also
tries another client authentication (``client_secret``, a client assertion, an
``Authorization`` header) is refused rather than ignored, so a partner never believes a
secret protects it. The optional ``client_id`` must be the one the policy gives the
certificate's partner -- a partner cannot obtain a token as another client.

What a partner may have is decided by the current (hot-reloaded) policy, reached through the
two callables given to :class:`OAuthEndpoints`; this module knows nothing of policy files.

authlib's server framework (``AuthorizationServer`` and its grants) expects its own request
wrappers, has no Starlette integration and is untyped; the endpoint is small enough to
write against RFC 6749 §4.4/§5 directly, with joserfc doing all the JOSE work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Protocol, TypeVar
from urllib.parse import parse_qsl

import anyio
import msgspec
from joserfc import jws
from starlette.responses import Response
from starlette.routing import Route

from wharf.errors import AuthError
from wharf.gateway.problems import problem
from wharf.security.tokens import BearerError, TokenEndpointError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request
    from starlette.types import Scope

    from wharf.pki import CertificateInfo
    from wharf.security.tokens import TokenService

__all__ = (
    "BEARER_ERROR_HANDLERS",
    "ClientGrant",
    "OAuthEndpoints",
    "PartnerLike",
    "TokenEvent",
    "bearer_error_response",
)

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FORM = "application/x-www-form-urlencoded"
_OTHER_CLIENT_AUTH = ("client_secret", "client_assertion", "client_assertion_type")
_PARAMETERS = {"grant_type", "scope", "client_id", *_OTHER_CLIENT_AUTH}


class PartnerLike(Protocol):
    """What the endpoints need of a partner: its id."""

    @property
    def id(self) -> str: ...


P = TypeVar("P", bound=PartnerLike)


class ClientGrant(msgspec.Struct, frozen=True, kw_only=True):
    """A partner's OAuth client as the current policy declares it."""

    client_id: str
    scopes: frozenset[str]


class TokenEvent(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An issued or refused token request, for the audit log (never holds the token)."""

    outcome: str
    """``issued`` or ``refused``."""
    partner: str | None = None
    client_id: str | None = None
    cert_fingerprint: str | None = None
    scope: str | None = None
    jti: str | None = None
    error: str | None = None
    detail: str | None = None


class OAuthEndpoints(Generic[P]):
    """``token`` and ``jwks`` handlers; :meth:`routes` mounts them."""

    def __init__(
        self,
        tokens: TokenService,
        authenticate: Callable[[Scope], tuple[P, CertificateInfo]],
        grant: Callable[[P], ClientGrant | None],
        *,
        audit: Callable[[TokenEvent], Awaitable[None]] | None = None,
        charge: Callable[[Request, P], Awaitable[None]] | None = None,
        max_body_bytes: int = 4096,
        jwks_max_age: int = 300,
        body_timeout: float = 10.0,
    ) -> None:
        """``authenticate`` gives the request's partner and certificate or raises
        :class:`AuthError`; ``grant`` gives that partner's OAuth client from the current
        policy (None: the partner has no OAuth client)."""
        self._tokens = tokens
        self._authenticate = authenticate
        self._grant = grant
        self._audit = audit
        self._charge = charge
        self._max_body = max_body_bytes
        self._body_timeout = body_timeout
        self._jwks_max_age = jwks_max_age

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/.well-known/jwks.json", self.jwks, methods=["GET"]),
        ]

    async def token(self, request: Request) -> Response:
        """``POST /oauth/token``: client credentials, client authenticated by its certificate."""
        event = TokenEvent(outcome="refused")
        try:
            try:
                partner, cert = self._authenticate(request.scope)
            except AuthError as exc:
                raise TokenEndpointError("invalid_client", exc.detail) from exc
            event = TokenEvent(
                outcome="refused", partner=partner.id, cert_fingerprint=cert.fingerprint
            )
            if self._charge is not None:
                await self._charge(request, partner)  # the partner's request bucket
            if "authorization" in request.headers:
                raise TokenEndpointError(
                    "invalid_client", "clients authenticate with their TLS certificate only"
                )
            form = await self._form(request)
            grant = self._check(form, partner)
            event = msgspec.structs.replace(event, client_id=grant.client_id)
            issued = self._tokens.issue(
                partner.id, grant.client_id, cert.fingerprint, grant.scopes, form.get("scope")
            )
        except TokenEndpointError as exc:
            await self._record(msgspec.structs.replace(event, error=exc.error, detail=exc.detail))
            return Response(
                exc.body(), status_code=exc.status, media_type="application/json",
                headers=_NO_STORE,
            )
        jti = _jti(issued.access_token)
        await self._record(
            msgspec.structs.replace(event, outcome="issued", scope=issued.scope, jti=jti)
        )
        return Response(
            msgspec.json.encode(issued), media_type="application/json", headers=_NO_STORE
        )

    async def jwks(self, request: Request) -> Response:
        """``GET /.well-known/jwks.json``: the public keys that verify Wharf's tokens."""
        return Response(
            msgspec.json.encode(self._tokens.keyring.jwks()),
            media_type="application/json",
            headers={"Cache-Control": f"public, max-age={self._jwks_max_age}"},
        )

    def _check(self, form: dict[str, str], partner: P) -> ClientGrant:
        if any(name in form for name in _OTHER_CLIENT_AUTH):
            raise TokenEndpointError(
                "invalid_client", "clients authenticate with their TLS certificate only"
            )
        grant_type = form.get("grant_type")
        if grant_type is None:
            raise TokenEndpointError("invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise TokenEndpointError(
                "unsupported_grant_type", "only grant_type=client_credentials is supported"
            )
        grant = self._grant(partner)
        if grant is None:
            raise TokenEndpointError(
                "unauthorized_client", f"partner {partner.id} has no OAuth client in its policy"
            )
        client_id = form.get("client_id")
        if client_id is not None and client_id != grant.client_id:
            raise TokenEndpointError(
                "invalid_client", "client_id is not the client of the presented certificate"
            )
        return grant

    async def _form(self, request: Request) -> dict[str, str]:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != _FORM:
            raise TokenEndpointError("invalid_request", f"the body must be {_FORM}")
        body = bytearray()
        with anyio.move_on_after(self._body_timeout) as scope:
            async for chunk in request.stream():
                body += chunk
                if len(body) > self._max_body:
                    raise TokenEndpointError(
                        "invalid_request", f"the body is larger than {self._max_body} bytes"
                    )
        if scope.cancelled_caught:
            raise TokenEndpointError("invalid_request", "the body did not arrive in time")
        try:
            pairs = parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body),
                max_num_fields=len(_PARAMETERS),
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise TokenEndpointError("invalid_request", "the body is not a valid form") from exc
        form: dict[str, str] = {}
        for name, value in pairs:
            if name in form:
                raise TokenEndpointError("invalid_request", f"parameter {name} is repeated")
            form[name] = value
        return form

    async def _record(self, event: TokenEvent) -> None:
        if self._audit is not None:
            await self._audit(event)


def _jti(token: str) -> str:
    """The jti of a token Wharf just signed (read back for the audit record)."""
    payload = jws.extract_compact(token.encode("ascii")).payload or b"{}"
    return msgspec.json.decode(payload, type=_Jti).jti


class _Jti(msgspec.Struct):
    jti: str


async def bearer_error_response(request: Request, exc: Exception) -> Response:
    """problem+json for a :class:`BearerError`, with its RFC 6750 ``WWW-Authenticate``."""
    assert isinstance(exc, BearerError)
    slug = exc.error.replace("_", "-") if exc.error else "unauthenticated"
    return problem(exc.status, slug, exc.title, exc.detail, headers=exc.headers())


BEARER_ERROR_HANDLERS = {BearerError: bearer_error_response}
"""Merge into the partner app's exception handlers (a subclass of AuthError: it wins)."""
