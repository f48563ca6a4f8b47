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
    import asyncio
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
    """uvicorn's httptools protocol plus the ASGI TLS extension and request-head limits.

    uvicorn's httptools protocol bounds neither the size of a request head nor the time a
    client may take to send it (its h11 limit does not apply here), so a client could hold a
    connection and memory forever by trickling headers. Here the head (request line and
    headers) must arrive within :attr:`head_timeout` seconds and :attr:`head_limit` bytes,
    else the connection is answered 431 or closed. (Body time is bounded by the partner API.)
    """

    head_limit = 64 * 1024
    head_timeout = 10.0

    def connection_made(self, transport: Any) -> None:  # transport: asyncio.Transport
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.app = _WithTLSExtension(self.app, _tls_extension(ssl_object))
        self._head_bytes = 0
        self._in_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _head_too_slow(self) -> None:
        if self._in_head and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        counting = self._in_head
        super().data_received(data)
        if counting:
            # Still in the head after this chunk (a chunk that completed the head may also
            # carry body bytes: those do not count).
            self._head_bytes += len(data)
            if self._in_head and self._head_bytes > self.head_limit:
                self._in_head = False
                self.transport.write(
                    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                    b"content-length: 0\r\nconnection: close\r\n\r\n"
                )
                self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:  # a new request on a kept-alive connection
            self._in_head = True
            self._head_bytes = 0
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)
