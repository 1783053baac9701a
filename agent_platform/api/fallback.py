"""Unknown `/api/...` paths answer a problem+json 404 (or 405), never the web app's HTML page.

Reflex mounts the UI at `/` behind our routes, so any path no route claims used to reach the
single-page app and come back as `200 text/html` — a client calling a wrong URL saw a web page
instead of an error. This route must be added after every other `/api` route.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import BaseRoute, Match, Mount

from .errors import problem

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
PATH = "/api/{rest:path}"


def install(api: FastAPI) -> None:
    """Add the catch-all for `/api/*` to `api`; call it after all routers are included."""

    @api.api_route(PATH, methods=METHODS, include_in_schema=False)
    def unknown_api_path(request: Request, rest: str) -> JSONResponse:
        # A path that exists with other methods is 405 (as FastAPI says), not "no such path".
        others = [r for r in api.router.routes if getattr(r, "path", "") != PATH]
        allowed = [m for m in METHODS if _endpoint_takes(others, request, m)]
        if allowed:
            return problem(
                405,
                f"This endpoint takes {', '.join(allowed)}, not {request.method}.",
                headers={"Allow": ", ".join(allowed)},
            )
        return problem(404, f"No API endpoint at /api/{rest}.")


def _endpoint_takes(routes: list[BaseRoute], request: Request, method: str) -> bool:
    """Whether a route before the web app answers this path with `method`. Reflex's mount
    (added at "" after this route) matches every path; it is not an endpoint."""
    for route in routes:
        if route.matches({**request.scope, "method": method})[0] == Match.FULL:
            return not (isinstance(route, Mount) and route.path == "")
    return False
