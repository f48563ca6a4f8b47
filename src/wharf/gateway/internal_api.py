"""The internal (ops) API: health, readiness and traces, on the internal listener only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import msgspec
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wharf.gateway.problems import EXCEPTION_HANDLERS, problem
from wharf.observability.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

if TYPE_CHECKING:
    from starlette.requests import Request

    from wharf.observability.metrics import Metrics
    from wharf.observability.tracestore import TraceStore

__all__ = ("InternalApi", "create_internal_app")

_encode = msgspec.json.Encoder().encode

ReadinessCheck = Callable[[], Awaitable[Mapping[str, bool]]]


class InternalApi:
    """Endpoints for operations; ``readiness`` reports each named check (all must pass),
    ``informational`` what operators should see but must not take the instance out of service
    (a rejected policy reload, for one)."""

    def __init__(
        self,
        *,
        traces: TraceStore,
        readiness: ReadinessCheck,
        informational: Callable[[], Mapping[str, object]] = dict,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._traces = traces
        self._readiness = readiness
        self._informational = informational

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        checks = dict(await self._readiness())
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks,
             "info": dict(self._informational())},
            status_code=200 if ready else 503,
        )

    async def metrics(self, request: Request) -> Response:
        if self._metrics is None:
            return problem(404, "not-found", "Not found", "metrics are off")
        return Response(self._metrics.render(), media_type=METRICS_CONTENT_TYPE)

    async def trace(self, request: Request) -> Response:
        """A document's timeline; with ``?payload=true`` also what the partner sent (as text)
        and its canonical JSON."""
        correlation_id = request.path_params["correlation_id"]
        trace = await self._traces.get(correlation_id)
        if trace is None:
            return problem(404, "not-found", "Not found", "no such trace")
        body = msgspec.to_builtins(trace)
        if request.query_params.get("payload") in ("1", "true"):
            payload = await self._traces.payload(correlation_id)
            if payload is not None:
                body["payload"] = {
                    "media_type": payload.media_type,
                    "raw": payload.raw.decode("utf-8", "replace"),
                    "canonical": msgspec.json.decode(payload.canonical),
                }
        return Response(_encode(body), media_type="application/json")


def create_internal_app(api: InternalApi, *, extra: Sequence[BaseRoute] = ()) -> Starlette:
    """The ASGI app for the internal listener (``extra``: the other ops areas' routes)."""
    routes: list[BaseRoute] = [
        *extra,
        Route("/healthz", api.healthz, methods=["GET"]),
        Route("/readyz", api.readyz, methods=["GET"]),
        Route("/metrics", api.metrics, methods=["GET"]),
        Route("/internal/v1/traces/{correlation_id}", api.trace, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS)
