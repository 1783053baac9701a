"""`RateLimit-*` headers on every counted API response, refusals included.

The count happens in a dependency (after the key is known), but the headers must reach every
response — a model, a streamed body, an error — so the dependency leaves the figures on the
request and this middleware writes them when the response starts.
"""

from __future__ import annotations

import math

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.ratelimit import WindowUse

STATE_KEY = "ratelimit"


def remember(request: Request, uses: list[WindowUse]) -> None:
    """Keep the tightest window (fewest calls left) for the response's headers."""
    if uses:
        request.state.ratelimit = min(uses, key=lambda u: (u.remaining, -u.reset_seconds))


def headers_for(use: WindowUse) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(use.limit),
        "RateLimit-Remaining": str(use.remaining),
        "RateLimit-Reset": str(max(1, math.ceil(use.reset_seconds))),
    }


class RateLimitHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                use = (scope.get("state") or {}).get(STATE_KEY)
                if isinstance(use, WindowUse):
                    headers = MutableHeaders(scope=message)
                    for name, value in headers_for(use).items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
