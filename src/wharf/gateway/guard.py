"""The gate every partner route passes: certificate → partner → rate limit → token → scopes.

Order matters. The certificate names the partner (under the policy in force *now*); the
partner's request bucket is charged before anything expensive happens (token verification,
reading the body), so a flood costs little; the bearer token must be bound to the presented
certificate and its scopes are intersected with the partner's grant in the current policy, so
removing a grant bites tokens already issued. Every refusal is audit-logged.

Rate-limit decisions are kept in the ASGI scope; :class:`RateLimitHeaders` puts the
``RateLimit`` / ``RateLimit-Policy`` headers on every response, refusals included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wharf.errors import AuthError, PayloadTooLarge, WharfError
from wharf.gateway.problems import problem
from wharf.security.ratelimit import headers as ratelimit_headers
from wharf.security.tokens import authorize

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from wharf.gateway.identity import Authenticator
    from wharf.observability.audit import AuditLog
    from wharf.observability.metrics import Metrics
    from wharf.pki import CertificateInfo
    from wharf.policies import Partner
    from wharf.security.ratelimit import Decision, Kind, RateLimit, RateLimiter
    from wharf.security.tokens import AccessToken, TokenService

__all__ = ("Caller", "Guard", "RateLimitHeaders", "RateLimited")

_DECISIONS = "wharf.ratelimit"


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated partner request."""

    partner: Partner
    cert: CertificateInfo
    token: AccessToken


class RateLimited(WharfError):
    """Raised when a partner's bucket refuses the request (429, or 503 when it can't tell)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"{decision.kind} limit: {decision.outcome}")
        self.decision = decision


async def rate_limited_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RateLimited)
    d = exc.decision
    if d.outcome == "unavailable":
        return problem(503, "unavailable", "Service unavailable",
                       "the rate limiter cannot be reached; retry later",
                       headers={"Retry-After": str(d.retry_after_seconds or 5)})
    if d.outcome == "exceeds_burst":
        return problem(PayloadTooLarge.status, "payload-too-large", PayloadTooLarge.title,
                       f"one request may carry at most {d.limit} {d.kind}; split it")
    return problem(429, "rate-limited", "Too many requests",
                   f"the {d.kind} limit ({d.policy}) is used up",
                   headers={"Retry-After": str(d.retry_after_seconds or 1)})


class Guard:
    """Authenticates and authorises partner requests."""

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        tokens: TokenService,
        limiter: RateLimiter | None,
        default_limit: RateLimit,
        audit: AuditLog | None,
        metrics: Metrics | None = None,
    ) -> None:
        self._auth = authenticator
        self._metrics = metrics
        self._tokens = tokens
        self._limiter = limiter
        self._default_limit = default_limit
        self._audit = audit

    async def enter(self, request: Request) -> Caller:
        """The caller of a partner route, or an AuthError/RateLimited (audit-logged)."""
        partner: Partner | None = None
        try:
            partner, cert = self._auth.identify(request.scope)
            await self.charge(request, partner, "requests", 1)
            token = await self._tokens.authenticate(
                request.headers.get("authorization"), cert.fingerprint, partner=partner.id
            )
        except AuthError as exc:
            await self.failed(request, exc, partner)
            raise
        return Caller(partner=partner, cert=cert, token=token)

    async def require(self, request: Request, caller: Caller, scopes: str | Iterable[str]) -> None:
        """The token, within the partner's current grant, must hold ``scopes`` (403 if not)."""
        try:
            authorize(caller.token, scopes, caller.partner.scopes)
        except AuthError as exc:
            await self.failed(request, exc, caller.partner)
            raise

    async def charge(self, request: Request, partner: Partner, kind: Kind, cost: int) -> None:
        """Take ``cost`` from the partner's ``kind`` bucket; RateLimited when refused."""
        if self._limiter is None:
            return
        limit = partner.rate_limit or self._default_limit
        decision = await self._limiter.take(partner.id, limit, kind, cost)
        request.scope.setdefault(_DECISIONS, []).append(decision)
        if not decision.allowed:
            if self._metrics is not None:
                self._metrics.rate_limited.labels(partner.id, kind).inc()
            if self._audit is not None:
                await self._audit.record(
                    "auth_failure", outcome="rate_limited", partner=partner.id, peer=_peer(request),
                    detail={"kind": kind, "outcome": decision.outcome, "path": request.url.path},
                )
            raise RateLimited(decision)

    async def failed(self, request: Request, exc: AuthError, partner: Partner | None) -> None:
        if self._metrics is not None:
            self._metrics.auth_failures.labels(str(exc.status)).inc()
        if self._audit is None:
            return
        await self._audit.record(
            "auth_failure", outcome=f"{exc.status}", partner=partner.id if partner else None,
            peer=_peer(request),
            detail={"path": request.url.path, "error": getattr(exc, "error", exc.title),
                    "reason": exc.detail},
        )


def _peer(request: Request) -> str | None:
    client = request.scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None


class RateLimitHeaders:
    """ASGI middleware: the request's rate-limit decisions as headers on its response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                decisions: list[Decision] = scope.get(_DECISIONS, [])
                if decisions:
                    extra = ratelimit_headers(*decisions)
                    present = {name.lower() for name, _ in message.get("headers", [])}
                    added: list[Any] = [
                        (k.lower().encode("latin-1"), v.encode("latin-1"))
                        for k, v in extra.items()
                        if k.lower().encode("latin-1") not in present
                    ]
                    message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


GUARD_HANDLERS: dict[Any, Callable[..., Any]] = {RateLimited: rate_limited_response}
