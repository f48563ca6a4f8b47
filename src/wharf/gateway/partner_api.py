"""The partner API (mTLS listener): document intake, traces and schemas under ``/v1``.

Endpoints stay thin: authenticate → read the body within its limit → decode at the edge →
hand to :class:`Intake` → answer 202. Every refusal is problem+json.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

import msgspec
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from wharf.errors import AuthError, DocumentError, PayloadTooLarge
from wharf.gateway.intake import Intake, Unavailable
from wharf.gateway.problems import EXCEPTION_HANDLERS, problem
from wharf.model import DocType, doc_type_of
from wharf.model.schema import json_schema

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from wharf.codecs import CodecRegistry
    from wharf.gateway.identity import Authenticator
    from wharf.gateway.receipts import ReceiptStore
    from wharf.observability.tracestore import TraceStore
    from wharf.policies import Partner

__all__ = ("ALIASES", "PartnerApi", "create_partner_app")

ALIASES: dict[str, DocType] = {
    "acknowledgments": "acknowledgment",
    "ship-notices": "ship_notice",
    "invoices": "invoice",
    "inventory": "inventory_advice",
    "catalog": "price_catalog",
    "lead-times": "lead_time_change",
    "rebate-claims": "rebate_claim",
    "returns": "return_authorization",
}
_MAX_KEY = 255
_encode = msgspec.json.Encoder().encode


class PartnerApi:
    """The partner listener's endpoints and their collaborators."""

    def __init__(
        self,
        *,
        authenticator: Authenticator,
        intake: Intake,
        codecs: CodecRegistry,
        traces: TraceStore,
        receipts: ReceiptStore,
        max_body_bytes: int,
    ) -> None:
        self._auth = authenticator
        self._intake = intake
        self._codecs = codecs
        self._traces = traces
        self._receipts = receipts
        self._max_body = max_body_bytes

    async def _body(self, request: Request, partner: Partner) -> bytes:
        limit = partner.max_body_bytes or self._max_body
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def submit_endpoint(self, doc_type: DocType | None) -> Callable[[Request], object]:
        async def submit(request: Request) -> Response:
            partner = self._auth.partner(request.scope)
            key = request.headers.get("idempotency-key")
            if key is not None and not (0 < len(key) <= _MAX_KEY and key.isprintable()):
                return problem(
                    400, "invalid-idempotency-key", "Invalid Idempotency-Key",
                    f"1 to {_MAX_KEY} printable characters", header="Idempotency-Key",
                )
            content_type = request.headers.get("content-type", "")
            body = await self._body(request, partner)
            fmt = self._codecs.detect(content_type, body)
            if fmt not in partner.formats:
                raise AuthError(f"partner {partner.id} may not send {fmt} documents")
            decoded = self._codecs.get(fmt).decode(body, doc_type=doc_type)
            if decoded.errors:
                raise decoded.errors[0]
            documents = decoded.documents
            if len(documents) != 1:
                raise DocumentError("send one document per request", pointer="")
            document = documents[0]
            if not partner.routes.get(doc_type_of(document)):
                raise AuthError(
                    f"partner {partner.id} has no route for {doc_type_of(document)} documents"
                )
            try:
                receipt, replayed = await self._intake.submit(
                    partner, document, body=body, fmt=fmt,
                    content_type=content_type or "application/json",
                    idempotency_key=key, traceparent=request.headers.get("traceparent"),
                )
            except Unavailable as exc:
                return problem(503, "unavailable", "Service unavailable", str(exc),
                               headers={"Retry-After": "5"})
            status_url = str(request.url_for("partner_trace", correlation_id=receipt.correlation_id))
            reply = {
                "correlation_id": receipt.correlation_id,
                "status_url": status_url,
                "documents": [
                    {
                        "correlation_id": receipt.correlation_id,
                        "doc_type": receipt.doc_type,
                        "document_id": receipt.document_id,
                        "status_url": status_url,
                    }
                ],
            }
            headers = {"Location": status_url}
            if replayed:
                headers["Idempotent-Replayed"] = "true"
            return JSONResponse(reply, status_code=202, headers=headers)

        return submit

    async def trace(self, request: Request) -> Response:
        partner = self._auth.partner(request.scope)
        correlation_id = request.path_params["correlation_id"]
        trace = await self._traces.get(correlation_id)
        if trace is not None and trace.partner == partner.id:
            return Response(_encode(trace), media_type="application/json")
        receipt = await self._receipts.by_correlation(correlation_id)
        if trace is None and receipt is not None and receipt.partner == partner.id:
            accepted = {
                "correlation_id": correlation_id, "partner": partner.id,
                "doc_type": receipt.doc_type, "status": "accepted", "events": [],
            }
            return JSONResponse(accepted)
        # Another partner's id looks exactly like an unknown one: no probing.
        return problem(404, "not-found", "Not found", "no such trace")

    async def schema(self, request: Request) -> Response:
        self._auth.partner(request.scope)
        name = request.path_params["doc_type"]
        if name not in get_args(DocType):
            return problem(404, "not-found", "Not found", f"no document type {name!r}")
        return JSONResponse(json_schema(name), media_type="application/schema+json")


def create_partner_app(api: PartnerApi) -> Starlette:
    """The ASGI app for the partner listener."""
    routes = [
        Route("/v1/documents", api.submit_endpoint(None), methods=["POST"]),
        *(
            Route(f"/v1/{alias}", api.submit_endpoint(doc_type), methods=["POST"])
            for alias, doc_type in ALIASES.items()
        ),
        Route("/v1/traces/{correlation_id}", api.trace, methods=["GET"], name="partner_trace"),
        Route("/v1/schemas/{doc_type}", api.schema, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS)
