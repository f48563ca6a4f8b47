"""RFC 9457 problem details: every error a partner or operator sees has this shape."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import msgspec
from starlette.exceptions import HTTPException
from starlette.responses import Response

from wharf.errors import AuthError, DocumentError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.requests import Request

__all__ = ("EXCEPTION_HANDLERS", "Problem", "problem")

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://wharf.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True):
    """An RFC 9457 problem; ``pointer`` is a JSON pointer into the request body."""

    type: str
    title: str
    status: int
    detail: str | None = None
    pointer: str | None = None
    header: str | None = None
    instance: str | None = None


_encode = msgspec.json.Encoder().encode


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    pointer: str | None = None,
    header: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response."""
    body = Problem(
        type=PROBLEM_BASE + slug, title=title, status=status, detail=detail,
        pointer=pointer, header=header,
    )
    return Response(_encode(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _slug(title: str) -> str:
    return title.lower().replace(" ", "-")


async def _document_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DocumentError)
    return problem(exc.status, _slug(exc.title), exc.title, exc.detail, pointer=exc.pointer)


async def _auth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthError)
    headers = {"WWW-Authenticate": 'Bearer realm="wharf"'} if exc.status == 401 else None
    return problem(exc.status, _slug(exc.title), exc.title, exc.detail, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {404: "Not found", 405: "Method not allowed"}
    title = titles.get(exc.status_code, "HTTP error")
    return problem(exc.status_code, _slug(title), title, exc.detail, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "internal-error", "Internal error", "the error was logged")


EXCEPTION_HANDLERS = {
    DocumentError: _document_error,
    AuthError: _auth_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}
