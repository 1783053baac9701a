"""Every HTTP request gets an id (echoed as `X-Request-ID`), its log context and its metrics.

A plain ASGI middleware, not Starlette's `BaseHTTPMiddleware`: that one buffers nothing but
runs the endpoint in another task, which breaks contextvars for the log context and costs a
task per request; this one wraps `send` and sees the status and the end of every response,
streams (Server-Sent Events) included.

The metric's `route` label is the route template (`/api/v1/agents/{agent_id}`), read from the
scope after routing, never the raw path: ids in paths would make one series per object. A
path no route claims is `unmatched`; the web app's own paths count under their mount.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_platform.observability import logs, metrics

HEADER = b"x-request-id"
# A caller's id is kept (a proxy's or a client's, to follow one request through), if sane.
GOOD_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def route_label(scope: Scope) -> str:
    route: object = scope.get("route")
    if route is None:
        return "unmatched"
    path = str(getattr(route, "path", "")) or "/"
    return f"{path.rstrip('/')}/*" if isinstance(route, Mount) else path


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            given = bytes(value).decode("latin-1")
            if GOOD_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        started = time.perf_counter()
        status = [500]  # an exception before any response is a 500

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers: list[Any] = list(message.get("headers", []))
                headers.append((HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            with logs.request_scope(request_id=request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            metrics.record_request(
                scope["method"], route_label(scope), status[0], time.perf_counter() - started
            )
