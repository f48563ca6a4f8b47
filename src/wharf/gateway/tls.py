"""TLS for the partner listener: the server SSLContext and the ASGI TLS extension.

uvicorn does not implement the ASGI TLS extension, so the application could not tell which
client certificate was presented. :class:`TLSHttpToolsProtocol` fills
``scope["extensions"]["tls"]`` (``client_cert_chain`` as PEM, ``client_cert_name``,
``tls_version``, ``cipher_suite``) for every request on a TLS connection. When uvicorn ships
the extension, only this module changes.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    from pathlib import Path

    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ("TLSHttpToolsProtocol", "server_context")

# ECDHE with AEAD only for TLS 1.2; TLS 1.3 suites are fixed by OpenSSL and all modern.
_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def server_context(
    *, cert: Path, key: Path, client_ca: Path, require_client_cert: bool = True
) -> ssl.SSLContext:
    """A TLS 1.2+ server context that verifies client certificates against ``client_ca``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(str(cert), str(key))
    context.load_verify_locations(cafile=str(client_ca))
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


def _tls_extension(ssl_object: ssl.SSLObject) -> dict[str, Any]:
    der = ssl_object.getpeercert(binary_form=True)
    chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
        "cipher_name": cipher[0] if cipher else None,
    }


class _WithTLSExtension:
    def __init__(self, app: ASGIApp, extension: dict[str, Any]) -> None:
        self.app = app
        self.extension = extension

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("extensions", {})["tls"] = self.extension
        await self.app(scope, receive, send)


class TLSHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the ASGI TLS extension."""

    def connection_made(self, transport: Any) -> None:  # transport: asyncio.Transport
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.app = _WithTLSExtension(self.app, _tls_extension(ssl_object))
