"""The partner API (mTLS listener): document intake, traces and schemas under ``/v1``.

Endpoints stay thin: authenticate → read the body within its limit → decode at the edge →
hand to :class:`Intake` → answer 202. Every refusal is problem+json.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from typing import TYPE_CHECKING, get_args

import anyio
import msgspec
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wharf.codecs.base import decode_off_loop
from wharf.errors import AuthError, DocumentError, NotRouted, PayloadTooLarge, RequestTimeout
from wharf.gateway.guard import GUARD_HANDLERS, RateLimitHeaders
from wharf.gateway.intake import (
    Intake,
    Unavailable,
    body_digest,
    child_traceparent,
    part_key,
    request_key,
)
from wharf.gateway.oauth import BEARER_ERROR_HANDLERS
from wharf.gateway.problems import EXCEPTION_HANDLERS, MEDIA_TYPE, PROBLEM_BASE, Problem, problem
from wharf.model import DocType, doc_type_of
from wharf.model.schema import json_schema
from wharf.security.tokens import TRACES_READ, required_scope, required_scopes

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from starlette.requests import Request

    from wharf.codecs import Codec, CodecRegistry, Decoded, Part, Reply
    from wharf.codecs.registry import PartnerCodecs
    from wharf.gateway.guard import Guard
    from wharf.gateway.receipts import Receipt, ReceiptStore
    from wharf.observability.metrics import Metrics
    from wharf.observability.tracestore import TraceStore
    from wharf.policies import Partner
    from wharf.policies.model import Format

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
log = logging.getLogger(__name__)

_MAX_KEY = 255
_encode = msgspec.json.Encoder().encode


@dataclasses.dataclass
class _Outcome:
    replayed: bool
    accepted: list[tuple[Part, Receipt]] = dataclasses.field(default_factory=list)
    rejected: list[tuple[Part, DocumentError]] = dataclasses.field(default_factory=list)


_SHARED_SECRET = re.compile(rb"(<(?:[\w.-]+:)?SharedSecret\b[^>]*>).*?(</(?:[\w.-]+:)?SharedSecret\s*>)",
                            re.DOTALL)


def _without_secrets(fmt: str, body: bytes) -> bytes:
    """The body as it may be stored for the trace: a cXML SharedSecret is masked."""
    if fmt != "cxml":
        return body
    return _SHARED_SECRET.sub(rb"\1***\2", body)


def _no_documents(request: Request, decoded: Decoded) -> Response:
    """A body that carried no business document: a partner's 997/CONTRL/Response to Wharf,
    or an empty interchange."""
    reply = decoded.reply
    if reply is not None and _wants(request, reply):
        return Response(reply.body, status_code=202 if decoded.acks else 422,
                        media_type=reply.media_type)
    answer: dict[str, object] = {
        "documents": [],
        "acknowledgments": [msgspec.to_builtins(ack) for ack in decoded.acks],
    }
    if reply is not None:
        answer["acknowledgment"] = _reply_json(reply)
    if not decoded.acks:
        problem_body = msgspec.to_builtins(Problem(
            type=PROBLEM_BASE + "no-documents", title="No documents", status=422,
            detail="the body holds no business document", pointer="",
        ))
        return Response(msgspec.json.encode({**problem_body, **answer}), status_code=422,
                        media_type=MEDIA_TYPE)
    log.info("acknowledgments received: %s", answer["acknowledgments"])
    return JSONResponse(answer, status_code=202)


def _rejection(part: Part, error: DocumentError) -> dict[str, object]:
    entry: dict[str, object] = {
        "source": part.where, "status": error.status, "title": error.title, "detail": error.detail,
    }
    for name in ("pointer", "segment", "segment_id", "element", "code"):
        value = getattr(error, name)
        if value is not None:
            entry[name] = value
    if part.control is not None:
        entry["control"] = part.control
    return entry


def _reply_json(reply: Reply) -> dict[str, object]:
    return {
        "kind": reply.kind, "media_type": reply.media_type, "accepted": reply.accepted,
        "body": reply.body.decode("latin-1"),
    }


def _wants(request: Request, reply: Reply) -> bool:
    """cXML clients always get the cXML Response; EDI clients when they Accept the EDI type."""
    if reply.kind == "cxml-response":
        return True
    accept = request.headers.get("accept", "")
    return reply.media_type in accept


def _problem_with_parts(
    first: DocumentError, rejected: list[dict[str, object]], reply: Reply | None
) -> Response:
    """Every document was refused: the first one's problem, with each document's reason."""
    detail = first.detail
    if len(rejected) > 1:
        detail = f"none of the {len(rejected)} documents was accepted; the first: {detail}"
    body = msgspec.to_builtins(
        Problem(type=PROBLEM_BASE + "rejected-documents", title="Documents rejected",
                status=first.status, detail=detail, pointer=first.pointer)
    )
    body["rejected"] = rejected
    if reply is not None:
        body["acknowledgment"] = _reply_json(reply)
    return Response(msgspec.json.encode(body), status_code=first.status, media_type=MEDIA_TYPE)


class PartnerApi:
    """The partner listener's endpoints and their collaborators."""

    def __init__(
        self,
        *,
        guard: Guard,
        intake: Intake,
        codecs: CodecRegistry,
        partner_codecs: PartnerCodecs,
        traces: TraceStore,
        receipts: ReceiptStore,
        max_body_bytes: int,
        body_timeout: float = 30.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._body_timeout = body_timeout
        self._metrics = metrics
        self._guard = guard
        self._intake = intake
        self._codecs = codecs
        self._partner_codecs = partner_codecs
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
        # A client that trickles its body would hold a worker forever: bound the whole read.
        with anyio.move_on_after(self._body_timeout) as scope:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"the body exceeds the limit of {limit} bytes")
                chunks.append(chunk)
        if scope.cancelled_caught:
            raise RequestTimeout(f"the body did not arrive within {self._body_timeout:g} s")
        return b"".join(chunks)

    def submit_endpoint(self, doc_type: DocType | None) -> Callable[[Request], object]:
        async def submit(request: Request) -> Response:
            caller = await self._guard.enter(request)
            partner = caller.partner
            if doc_type is not None:
                await self._guard.require(request, caller, required_scope(doc_type))
            key = request.headers.get("idempotency-key")
            if key is not None and not (0 < len(key) <= _MAX_KEY and key.isprintable()):
                return problem(
                    400, "invalid-idempotency-key", "Invalid Idempotency-Key",
                    f"1 to {_MAX_KEY} printable characters", header="Idempotency-Key",
                )
            content_type = request.headers.get("content-type", "")
            body = await self._body(request, partner)
            fmt = self._codecs.detect(content_type, body)
            if not partner.accepts(fmt):
                raise AuthError(f"partner {partner.id} may not send {fmt} documents")
            codec = self._partner_codecs.get(partner, fmt)
            try:
                decoded = await decode_off_loop(codec, body, doc_type=doc_type)
            except DocumentError as exc:
                # Formats with their own error answer (cXML Response) use it; others problem+json.
                error_reply = getattr(codec, "error_reply", None)
                if error_reply is None:
                    raise
                reply: Reply = error_reply(exc)
                return Response(reply.body, status_code=exc.status, media_type=reply.media_type)
            # Each contained document needs its own scope (an X12 interchange may mix types).
            types = {doc_type_of(d) for d in decoded.documents}
            if types:
                await self._guard.require(request, caller, required_scopes(types))
            await self._guard.charge(request, partner, "documents", max(1, len(decoded.parts)))
            try:
                outcome = await self._accept(request, partner, fmt, body, key, decoded)
            except Unavailable as exc:
                return problem(503, "unavailable", "Service unavailable", str(exc),
                               headers={"Retry-After": "5"})
            return self._answer(request, fmt, decoded, outcome, codec)

        return submit

    async def _accept(
        self,
        request: Request,
        partner: Partner,
        fmt: Format,
        body: bytes,
        key: str | None,
        decoded: Decoded,
    ) -> _Outcome:
        digest = body_digest(body)
        request_key_ = request_key(key, digest)
        replayed = await self._intake.earlier(partner, request_key_, digest)
        traceparent = child_traceparent(request.headers.get("traceparent"))
        outcome = _Outcome(replayed=replayed)
        for index, part in enumerate(decoded.parts):
            error = part.error
            document = part.document
            if document is not None and not partner.routes.get(doc_type_of(document)):
                error = NotRouted(
                    f"partner {partner.id} has no route for {doc_type_of(document)} documents"
                )
            version = document.source.version if document and document.source else None
            if document is not None and fmt != "json" and not partner.accepts(fmt, version):
                error = DocumentError(
                    f"partner {partner.id} may not send {fmt} version {version}; "
                    f"its policy allows {', '.join(partner.versions.get(fmt, []))}"
                )
            if error is not None or document is None:
                assert error is not None
                outcome.rejected.append((part, error))
                if self._metrics is not None:
                    self._metrics.rejected_parts.labels(partner.id, fmt).inc()
                continue
            try:
                receipt, _ = await self._intake.submit(
                    partner, document, key=part_key(request_key_, index), request_sha256=digest,
                    fmt=fmt, source=part.where if len(decoded.parts) > 1 or fmt != "json" else None,
                    raw=_without_secrets(fmt, body),
                    media_type=request.headers.get("content-type", "application/json"),
                    traceparent=traceparent,
                )
            except PayloadTooLarge as exc:
                # This document alone is too big for the mailbox; the others still count.
                outcome.rejected.append((part, exc))
                continue
            outcome.accepted.append((part, receipt))
            if self._metrics is not None:
                self._metrics.documents.labels(partner.id, fmt, receipt.doc_type).inc()
        if decoded.reply is not None and decoded.reply.kind != "cxml-response":
            await self._intake.reply(partner, request_key_, decoded.reply)
        return outcome

    def _answer(
        self, request: Request, fmt: str, decoded: Decoded, outcome: _Outcome, codec: Codec
    ) -> Response:
        if not decoded.parts:
            return _no_documents(request, decoded)
        documents = []
        for part, receipt in outcome.accepted:
            status_url = str(request.url_for("partner_trace", correlation_id=receipt.correlation_id))
            entry: dict[str, object] = {
                "correlation_id": receipt.correlation_id,
                "doc_type": receipt.doc_type,
                "document_id": receipt.document_id,
                "status_url": status_url,
            }
            if len(decoded.parts) > 1 or fmt != "json":
                entry["source"] = part.where
            documents.append(entry)
        rejected = [_rejection(part, error) for part, error in outcome.rejected]
        reply = decoded.reply
        error_reply = getattr(codec, "error_reply", None)
        if reply is not None and reply.kind == "cxml-response" and outcome.rejected \
                and error_reply is not None:
            # cXML's Response is the business answer: it must say what the gateway refused.
            reply = error_reply(outcome.rejected[0][1])
        headers: dict[str, str] = {}
        if outcome.replayed:
            headers["Idempotent-Replayed"] = "true"
        if documents:
            headers["Location"] = str(documents[0]["status_url"])
            headers["Wharf-Correlation-Id"] = str(documents[0]["correlation_id"])
        if reply is not None and _wants(request, reply):
            # The format's own answer in the format's own media type (cXML always; EDI on Accept).
            if reply.kind == "cxml-response":
                status = 200 if not outcome.rejected else outcome.rejected[0][1].status
            else:
                status = 202 if documents else 422
            return Response(reply.body, status_code=status, media_type=reply.media_type,
                            headers=headers)
        if not documents:
            first = outcome.rejected[0][1]
            if len(decoded.parts) == 1 and reply is None:
                raise first
            return _problem_with_parts(first, rejected, reply)
        answer: dict[str, object] = {
            "correlation_id": documents[0]["correlation_id"],
            "status_url": documents[0]["status_url"],
            "documents": documents,
        }
        if rejected:
            answer["rejected"] = rejected
        if reply is not None:
            answer["acknowledgment"] = _reply_json(reply)
        return JSONResponse(answer, status_code=202, headers=headers)

    async def trace(self, request: Request) -> Response:
        caller = await self._guard.enter(request)
        await self._guard.require(request, caller, TRACES_READ)
        partner = caller.partner
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
        await self._guard.enter(request)
        name = request.path_params["doc_type"]
        if name not in get_args(DocType):
            return problem(404, "not-found", "Not found", f"no document type {name!r}")
        return Response(_schema_bytes(name), media_type="application/schema+json")


@functools.cache
def _schema_bytes(doc_type: str) -> bytes:
    """A document type's JSON Schema, built once (the model does not change while running)."""
    return msgspec.json.encode(json_schema(doc_type))  # type: ignore[arg-type]


def create_partner_app(api: PartnerApi, *, oauth: Sequence[BaseRoute] = ()) -> Starlette:
    """The ASGI app for the partner listener (``oauth``: the token endpoint and JWKS)."""
    routes: list[BaseRoute] = [
        *oauth,
        Route("/v1/documents", api.submit_endpoint(None), methods=["POST"]),
        *(
            Route(f"/v1/{alias}", api.submit_endpoint(doc_type), methods=["POST"])
            for alias, doc_type in ALIASES.items()
        ),
        Route("/v1/traces/{correlation_id}", api.trace, methods=["GET"], name="partner_trace"),
        Route("/v1/schemas/{doc_type}", api.schema, methods=["GET"]),
    ]
    handlers = {**EXCEPTION_HANDLERS, **BEARER_ERROR_HANDLERS, **GUARD_HANDLERS}
    return Starlette(
        routes=routes, exception_handlers=handlers, middleware=[Middleware(RateLimitHeaders)]
    )
