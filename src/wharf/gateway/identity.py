"""Who is calling: the client certificate, and the partner it belongs to.

The certificate comes from the ASGI TLS extension (see :mod:`wharf.gateway.tls`) or, only
when the TCP peer is a configured trusted proxy, from the forwarded-certificate header (the
URL-encoded PEM that nginx's ``$ssl_client_escaped_cert`` produces). A header from any other
peer is ignored: a partner cannot claim another partner's certificate by sending a header.
A forwarded certificate is verified against Wharf's CA here, as the TLS layer would have done:
trusting the proxy's address is not trusting whatever certificate the proxy let through.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from wharf.errors import AuthError
from wharf.pki import CertificateInfo, describe

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from starlette.types import Scope

    from wharf.policies import Partner, PolicySet
    from wharf.security.revocation import RevocationList

__all__ = ("Authenticator", "certificate_from_pem")


@functools.lru_cache(maxsize=4096)
def certificate_from_pem(pem: str) -> CertificateInfo:
    """Parse a PEM certificate (cached: partners reuse their certificate for every request)."""
    return describe(_load(pem))


@functools.lru_cache(maxsize=4096)
def _load(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


class Authenticator:
    """Maps a request to its partner, or raises :class:`AuthError`."""

    def __init__(
        self,
        policies: Callable[[], PolicySet],
        *,
        trusted_proxies: Iterable[str] = (),
        client_cert_header: str = "x-forwarded-client-cert",
        trust_anchors: Sequence[x509.Certificate] = (),
        revocations: Callable[[], RevocationList] | None = None,
    ) -> None:
        self._policies = policies
        self._revocations = revocations
        self._trusted = frozenset(trusted_proxies)
        self._header = client_cert_header.lower().encode("latin-1")
        self._store = Store(list(trust_anchors)) if trust_anchors else None
        if self._trusted and self._store is None:
            raise ValueError("trusted proxies need trust anchors to verify forwarded certificates")

    def certificate(self, scope: Scope) -> CertificateInfo | None:
        """The client certificate presented for this request, if any."""
        client = scope.get("client")
        if self._trusted and client is not None and client[0] in self._trusted:
            for name, value in scope["headers"]:
                if name == self._header:
                    return self._forwarded(unquote(value.decode("latin-1")))
        tls = scope.get("extensions", {}).get("tls") or {}
        chain = tls.get("client_cert_chain") or []
        return certificate_from_pem(chain[0]) if chain else None

    def _forwarded(self, pem: str) -> CertificateInfo:
        assert self._store is not None
        try:
            cert = _load(pem)
            PolicyBuilder().store(self._store).build_client_verifier().verify(cert, [])
        except ValueError as exc:
            raise AuthError(
                "the forwarded client certificate cannot be parsed",
                status=401, title="Unauthenticated",
            ) from exc
        except VerificationError as exc:
            raise AuthError(
                f"the forwarded client certificate is not trusted: {exc}",
                status=401, title="Unauthenticated",
            ) from exc
        return certificate_from_pem(pem)

    def partner(self, scope: Scope) -> Partner:
        """The partner whose certificate this is (see :meth:`identify`)."""
        return self.identify(scope)[0]

    def identify(self, scope: Scope) -> tuple[Partner, CertificateInfo]:
        """The request's partner and certificate under the policy in force now.

        401 without a certificate, or for a revoked, expired or not-yet-valid one; 403 for a
        certificate no partner owns and for a suspended partner.
        """
        cert = self.certificate(scope)
        if cert is None:
            raise AuthError("a client certificate is required", status=401, title="Unauthenticated")
        if self._revocations is not None and self._revocations().is_revoked(cert.serial):
            raise AuthError(
                f"certificate {cert.fingerprint} (serial {cert.serial:x}) is revoked",
                status=401, title="Unauthenticated",
            )
        return self._policies().identify(cert), cert
