"""The buyer exception queue on the internal listener.

``GET /internal/v1/exceptions?partner=&type=&status=`` lists what waits for a buyer (open by
default); ``GET /internal/v1/exceptions/{id}`` shows one with its issues and history;
``POST /internal/v1/exceptions/{id}/resolve`` records a decision —
``{"action": "approve" | "reject" | "correct", "by": "...", "note": "...",
"corrected_document": {...}}`` — and carries it out at once: an approved or corrected document
is posted from where it stopped (nothing before posting runs again); a rejection goes back to
the supplier. Resolving again the same way answers the same and does nothing twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, get_args

import msgspec
from starlette.responses import Response
from starlette.routing import Route

from wharf.business import (
    ExceptionQueueError,
    InvalidCorrection,
    ResolutionConflict,
    UnknownException,
)
from wharf.gateway.problems import problem
from wharf.model import DocType

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from starlette.requests import Request

    from wharf.business import ExceptionQueue, Resolution

__all__ = ("ResolveRequest", "exception_routes")

_encode = msgspec.json.Encoder().encode


class ResolveRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A buyer's decision on one exception."""

    action: Literal["approve", "reject", "correct"]
    by: str
    note: str | None = None
    corrected_document: dict[str, Any] | None = None


def exception_routes(
    queue: ExceptionQueue, carry_out: Callable[[Resolution], Awaitable[bool]]
) -> list[Route]:
    """Routes for the internal app; ``carry_out`` acts on a decision not yet carried out
    (True when done; False leaves it to the background retry)."""

    async def listing(request: Request) -> Response:
        params = request.query_params
        doc_type = params.get("type")
        if doc_type is not None and doc_type not in get_args(DocType):
            return problem(400, "invalid-query", "Invalid query", f"no document type {doc_type!r}")
        status = params.get("status", "open")
        records = await queue.list(
            partner=params.get("partner"), type=doc_type,  # type: ignore[arg-type]
            status=None if status == "all" else status,  # type: ignore[arg-type]
        )
        return Response(_encode(records), media_type="application/json")

    async def one(request: Request) -> Response:
        try:
            record = await queue.get(int(request.path_params["exception_id"]))
        except UnknownException:
            return problem(404, "not-found", "Not found", "no such exception")
        history = await queue.history(record.id)
        body = msgspec.to_builtins(record)
        body["history"] = msgspec.to_builtins(history)
        return Response(_encode(body), media_type="application/json")

    async def resolve(request: Request) -> Response:
        try:
            decision = msgspec.json.decode(await request.body(), type=ResolveRequest)
        except msgspec.ValidationError as exc:
            return problem(422, "invalid-decision", "Invalid decision", str(exc))
        except msgspec.DecodeError as exc:
            return problem(400, "malformed-decision", "Malformed decision", str(exc))
        corrected = (
            None if decision.corrected_document is None
            else msgspec.json.encode(decision.corrected_document)
        )
        try:
            resolution = await queue.resolve(
                int(request.path_params["exception_id"]), decision.action, decision.by,
                decision.note, corrected,
            )
        except UnknownException:
            return problem(404, "not-found", "Not found", "no such exception")
        except ResolutionConflict as exc:
            return problem(409, "already-resolved", "Already resolved", str(exc))
        except InvalidCorrection as exc:
            return problem(422, "invalid-correction", "Invalid correction", str(exc),
                           pointer=exc.pointer)
        except ExceptionQueueError as exc:
            return problem(422, "invalid-decision", "Invalid decision", str(exc))
        record = await queue.get(resolution.exception_id)
        if record.dispatched_at is None and not await carry_out(resolution):
            # Recorded; Wharf keeps trying in the background. Tell the buyer it is pending.
            body = msgspec.to_builtins(resolution)
            body["dispatched"] = False
            return Response(_encode(body), status_code=202, media_type="application/json")
        return Response(_encode(resolution), media_type="application/json")

    return [
        Route("/internal/v1/exceptions", listing, methods=["GET"]),
        Route("/internal/v1/exceptions/{exception_id:int}", one, methods=["GET"]),
        Route("/internal/v1/exceptions/{exception_id:int}/resolve", resolve, methods=["POST"]),
    ]
