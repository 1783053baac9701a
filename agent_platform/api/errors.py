"""One error shape for the whole API: RFC 9457 problem details (`application/problem+json`).

Every refusal — a domain error from a service, a request body or query that does not parse,
an unknown path, a missing key, a rate limit, a body too large — answers the same object:
`type` (a stable identifier per kind of problem), `title` (the HTTP status in words), `status`,
`detail` (the sentence to show a user) and, when fields are wrong, `errors` (field -> sentence).
A client writes one error handler, not one per endpoint.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_platform.settings import get_settings
from services.errors import DomainError
from services.ratelimit import Throttled
from services.validation import in_words, label_of

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/"

# Routes whose bodies may be larger than API_MAX_BODY_BYTES (each route still checks its own
# limit): marketplace images are up to 2 MB, knowledge uploads up to MAX_UPLOAD_BYTES.
LARGER_BODIES: list[tuple[re.Pattern[str], Callable[[], int]]] = [
    (re.compile(r"/api/v1/marketplace/listings/[^/]+/(icon|screenshots)"), lambda: 2_100_000),
    (
        re.compile(r"/api/v1/knowledge/collections/[^/]+/documents"),
        lambda: get_settings().max_upload_bytes,
    ),
]

# The `type` of each kind of problem: stable identifiers clients may switch on.
SLUGS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "request-too-large",
    415: "unsupported-media-type",
    422: "invalid",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}

log = logging.getLogger(__name__)

NOT_JSON = "The body is not valid JSON."
NUL_TEXT = "Text cannot contain the NUL character (\\u0000 in JSON, %00 in a URL); remove it."
OUT_OF_RANGE = "A number in the request is too large (or too small); use a smaller one."
UNREADABLE_BODY = "There was an error parsing the body"  # FastAPI's words for an undecodable body


class Problem(BaseModel):
    """An error, as every API endpoint answers it (RFC 9457 problem details)."""

    type: str = Field(description="a stable identifier of the kind of problem")
    title: str = Field(description="the HTTP status in words")
    status: int
    detail: str = Field(description="what went wrong, in words to show a person")
    errors: dict[str, str] | None = Field(
        default=None, description="field -> what is wrong with it (for invalid input)"
    )


def documented(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_JSON: {"schema": schema}},
    }


# Documented on every operation (FastAPI's own 422 schema would describe a shape we never send).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: documented("No valid API key or access token"),
    403: documented("The key's role or scopes do not allow this"),
    404: documented("Not found (another organization's objects included)"),
    409: documented("It conflicts with the current state (a name in use, a change in between)"),
    413: documented("The request body is too large"),
    422: documented("Invalid input; `errors` names each field"),
    429: documented("Too many requests; see Retry-After and RateLimit-* headers"),
    503: documented("A service it needs is unavailable for now; try again"),
}


def problem_type(status: int) -> str:
    return f"urn:agent-platform:problem:{SLUGS.get(status, str(status))}"


def problem(
    status: int,
    detail: str,
    *,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The response for one problem; `errors` names the wrong fields, when there are any."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {
        "type": problem_type(status),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def _field_of(loc: tuple[int | str, ...]) -> str:
    """`("body", "config", "temperature")` -> `config.temperature`; a body that is not JSON
    (or missing) is the field `body`."""
    where = ("body", "query", "path", "header", "cookie")
    parts = loc[1:] if loc and loc[0] in where else loc
    return ".".join(str(p) for p in parts) or "body"


def validation_problem(exc: RequestValidationError) -> JSONResponse:
    """A request FastAPI could not parse, worded like the services' own `Invalid`."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            errors.setdefault("body", NOT_JSON)
            continue
        field = _field_of(tuple(err.get("loc", ())))
        words = in_words(err)
        errors.setdefault(field, f"{label_of(field)} {words}.")
    return problem(422, "Please correct: " + " ".join(errors.values()), errors=errors)


def too_large(limit: int) -> str:
    size = f"{limit // 1024} KiB" if limit < 1024 * 1024 else f"{limit / (1024 * 1024):g} MiB"
    return f"The request body is larger than {size}; send less."


def body_limit(path: str) -> int:
    """The largest body a request to `path` may send: the setting, raised for the routes
    listed in LARGER_BODIES (a route's own limit never lowers it)."""
    limit = get_settings().api_max_body_bytes
    for pattern, larger in LARGER_BODIES:
        if pattern.fullmatch(path):
            return max(limit, larger())
    return limit


class BodyLimit:
    """Refuse `/api/` request bodies over API_MAX_BODY_BYTES with 413, before reading them whole.

    A declared Content-Length over the limit is refused before one byte is read; a body
    without one (chunked) is counted as it arrives and refused the moment it passes the limit,
    so no request makes the server hold more than the limit in memory.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        limit = body_limit(str(scope["path"]))
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await problem(413, too_large(limit), headers={"Connection": "close"})(
                scope, receive, send
            )
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException: FastAPI's body parsing passes it on untouched, and the
                    # handler below turns it into the problem response.
                    raise HTTPException(413, too_large(limit))
            return message

        await self.app(scope, counted, send)


def install(app: FastAPI) -> None:
    app.add_middleware(BodyLimit)

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
        headers = retry_after(exc.retry_after) if isinstance(exc, Throttled) else None
        return problem(exc.status, exc.message, errors=exc.fields or None, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(exc)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if not request.url.path.startswith(API_PREFIX):
            return await http_exception_handler(request, exc)  # the web app's own pages
        if exc.status_code == 400 and exc.detail == UNREADABLE_BODY:
            # FastAPI's answer to a body it cannot decode (not UTF-8): the same 422 as a body
            # that is not JSON, so a client handles one case.
            return problem(422, "Please correct: " + NOT_JSON, errors={"body": NOT_JSON})
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem(exc.status_code, detail, headers=dict(exc.headers or {}) or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(API_PREFIX):
            return PlainTextResponse("Internal Server Error", status_code=500)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Something went wrong on our side; the error was logged.")

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> Response:
        # Values the database cannot take, in a filter as in a stored value: PostgreSQL refuses
        # the NUL character in text (SQLite takes it) and numbers past a column's range (an
        # offset of 10^20). They come from the request, so a 422 in words, not a 500.
        if request.url.path.startswith(API_PREFIX):
            reason = str(exc.orig)
            if "NUL" in reason:
                return problem(422, NUL_TEXT)
            if "out of range" in reason:
                log.warning("out-of-range value on %s: %s", request.url.path, reason)
                return problem(422, OUT_OF_RANGE)
        return await _unexpected(request, exc)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, exc: OverflowError) -> Response:
        # SQLite's driver refuses a Python int past 64 bits before the query runs.
        if request.url.path.startswith(API_PREFIX):
            log.warning("number too large on %s: %s", request.url.path, exc)
            return problem(422, OUT_OF_RANGE)
        return await _unexpected(request, exc)
