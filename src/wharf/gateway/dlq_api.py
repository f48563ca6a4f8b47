"""Dead-letter routes for the internal listener: list, and replay (a dry run unless asked).

``GET /internal/v1/dlq?partner=&type=&error_class=&since=&until=&limit=`` answers a JSON list
of dead letters, oldest first. ``POST /internal/v1/dlq/replay`` takes a JSON selection
(``partner``, ``type``, ``error_class``, ``since``, ``until``, ``seqs``, ``limit``) with
``dry_run`` (default ``true``: a replay that posts must be asked for explicitly) and an
optional ``operator`` for the audit record, and answers the :class:`ReplayReport`.

``since`` and ``until`` take an ISO 8601 date or time (UTC when it names no offset) or an
age such as ``90s``, ``30m``, ``6h``, ``2d``. Bad input is a problem+json 400 naming the
parameter or, for the body, a JSON pointer.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Annotated, get_args

import msgspec
import nats.errors
from starlette.responses import Response
from starlette.routing import Route

from wharf.actors.dlq import ErrorClass, Selection
from wharf.gateway.problems import problem
from wharf.model import DocType
from wharf.pointers import locate
from wharf.policies.model import PartnerId

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from wharf.actors.dlq import DeadLetters, Replayer

__all__ = ("ReplayRequest", "internal_routes", "parse_when")

MAX_LIMIT = 1000
_encode = msgspec.json.Encoder().encode
_AGE = re.compile(r"^(?P<n>\d+(?:\.\d+)?)(?P<unit>[smhd])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_PARTNER = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")
_QUERY = frozenset({"partner", "type", "error_class", "since", "until", "limit"})


class ReplayRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """The body of ``POST /internal/v1/dlq/replay``."""

    partner: PartnerId | None = None
    type: DocType | None = None
    error_class: ErrorClass | None = None
    since: str | None = None
    until: str | None = None
    seqs: Annotated[list[Annotated[int, msgspec.Meta(ge=1)]],
                    msgspec.Meta(max_length=MAX_LIMIT)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_LIMIT)] = 100
    dry_run: bool = True
    operator: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None


_decode_request = msgspec.json.Decoder(ReplayRequest).decode


def parse_when(text: str, now: dt.datetime) -> dt.datetime:
    """An ISO 8601 date/time (naive means UTC), or an age (``30m``) before ``now``."""
    text = text.strip()
    if match := _AGE.match(text):
        try:
            return now - dt.timedelta(seconds=float(match["n"]) * _UNITS[match["unit"]])
        except OverflowError:
            raise ValueError(f"{text!r} is further back than any dead letter") from None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither an ISO 8601 time nor an age like 30m, 6h or 2d"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


class _Invalid(Exception):
    def __init__(self, detail: str, *, pointer: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer


def _times(
    since: str | None, until: str | None, now: dt.datetime, where: str
) -> tuple[dt.datetime | None, dt.datetime | None]:
    parsed: list[dt.datetime | None] = []
    for name, text in (("since", since), ("until", until)):
        try:
            parsed.append(None if text is None else parse_when(text, now))
        except ValueError as exc:
            pointer = f"/{name}" if where == "body" else None
            raise _Invalid(f"{name}: {exc}", pointer=pointer) from None
    first, last = parsed
    if first is not None and last is not None and first > last:
        raise _Invalid("since is after until")
    return first, last


class _DlqApi:
    def __init__(
        self, letters: DeadLetters, replayer: Replayer, now: Callable[[], dt.datetime]
    ) -> None:
        self._letters = letters
        self._replayer = replayer
        self._now = now

    def _query(self, request: Request) -> Selection:
        params = request.query_params
        unknown = sorted(set(params) - _QUERY)
        if unknown:
            raise _Invalid(
                f"unknown query parameter {unknown[0]!r}; use {', '.join(sorted(_QUERY))}"
            )
        partner = params.get("partner") or None
        if partner is not None and not _PARTNER.match(partner):
            raise _Invalid(f"partner: {partner!r} is not a partner id")
        doc_type = params.get("type") or None
        if doc_type is not None and doc_type not in get_args(DocType):
            raise _Invalid(f"type: {doc_type!r} is not one of {', '.join(get_args(DocType))}")
        error_class = params.get("error_class") or None
        if error_class is not None and error_class not in get_args(ErrorClass):
            raise _Invalid(f"error_class: {error_class!r} is not transient or permanent")
        try:
            limit = int(params.get("limit") or 100)
        except ValueError:
            raise _Invalid("limit: not a whole number") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise _Invalid(f"limit: must be from 1 to {MAX_LIMIT}")
        since, until = _times(params.get("since") or None, params.get("until") or None,
                              self._now(), "query")
        return Selection(partner=partner, doc_type=doc_type,  # type: ignore[arg-type]
                         error_class=error_class,  # type: ignore[arg-type]  # both checked
                         since=since, until=until, limit=limit)

    async def list(self, request: Request) -> Response:
        try:
            s = self._query(request)
        except _Invalid as exc:
            return problem(400, "invalid-query", "Invalid query", exc.detail)
        try:
            letters = await self._letters.list(
                partner=s.partner, doc_type=s.doc_type, error_class=s.error_class,
                since=s.since, until=s.until, limit=s.limit,
            )
        except nats.errors.Error as exc:
            return _unavailable(exc)
        return Response(_encode(letters), media_type="application/json")

    async def replay(self, request: Request) -> Response:
        try:
            body = _decode_request(await request.body())
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            where = locate(exc)
            return problem(400, "invalid-request", "Invalid request", where.message,
                           pointer=where.pointer)
        try:
            since, until = _times(body.since, body.until, self._now(), "body")
        except _Invalid as exc:
            return problem(400, "invalid-request", "Invalid request", exc.detail,
                           pointer=exc.pointer)
        selectors = (body.partner, body.type, body.error_class, since, until, body.seqs)
        if not body.dry_run and all(value is None for value in selectors):
            return problem(400, "selection-required", "Selection required",
                           "a replay that posts needs partner, type, error_class, since, "
                           "until or seqs; a dry run may select everything")
        selection = Selection(
            partner=body.partner, doc_type=body.type, error_class=body.error_class,
            since=since, until=until,
            seqs=tuple(body.seqs) if body.seqs is not None else None,
            limit=max(body.limit, len(body.seqs or ())),
        )
        actor = body.operator or (request.client.host if request.client else None)
        try:
            report = await self._replayer.replay(selection, dry_run=body.dry_run, actor=actor)
        except nats.errors.Error as exc:
            return _unavailable(exc)
        return Response(_encode(report), media_type="application/json")


def _unavailable(exc: Exception) -> Response:
    return problem(503, "unavailable", "Service unavailable",
                   f"JetStream did not answer: {exc!r}", headers={"Retry-After": "5"})


def internal_routes(
    dead_letters: DeadLetters,
    replayer: Replayer,
    *,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> list[Route]:
    """The dead-letter routes, for the internal app's route list."""
    api = _DlqApi(dead_letters, replayer, now)
    return [
        Route("/internal/v1/dlq", api.list, methods=["GET"]),
        Route("/internal/v1/dlq/replay", api.replay, methods=["POST"]),
    ]
