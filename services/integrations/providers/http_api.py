"""Any HTTP API: a base URL plus API key, bearer token, basic auth or a generic OAuth 2.0
connection with user-given endpoints. One action, `http.request`, confined to the base URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from services.integrations.catalog import (
    Action,
    ApiRequest,
    Provider,
    default_error,
    object_schema,
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _confined(path: str) -> bool:
    """True when `path` cannot leave the base URL, however a server decodes it: no scheme, no
    `.`/`..` segment even percent-encoded (decoded repeatedly), no backslash, `;` or encoded
    slash that some servers and proxies normalise into a path separator."""
    part = path.split("?", 1)[0]
    if "://" in path or part.startswith("//"):
        return False
    lowered = part.lower()
    if any(bad in lowered for bad in ("\\", ";", "%2f", "%5c", "%00")):
        return False
    previous = None
    while previous != part:
        previous, part = part, unquote(part)
    return not any(segment in (".", "..") for segment in part.split("/"))


def _request(args: dict[str, Any], _settings: dict[str, Any]) -> ApiRequest:
    path = str(args.get("path") or "/")
    if not _confined(path):
        raise ValueError("'path' must be a path under the connection's base URL, like /v1/items")
    method = str(args.get("method") or "GET").upper()
    if method not in METHODS:
        raise ValueError(f"'method' must be one of {', '.join(METHODS)}")
    return ApiRequest(
        method,
        "/" + path.lstrip("/"),
        host="",
        params=args.get("query") or None,
        json=args.get("json"),
    )


REQUEST = Action(
    name="http.request",
    description=(
        "Call the connected HTTP API. 'path' is relative to its base URL; authentication is "
        "added for you."
    ),
    parameters=object_schema(
        {
            "method": {"type": "string", "enum": list(METHODS), "default": "GET"},
            "path": {"type": "string", "description": "e.g. /v1/items?limit=5"},
            "query": {"type": "object", "additionalProperties": {"type": "string"}},
            "json": {"description": "JSON body for POST/PUT/PATCH"},
        },
        ["path"],
    ),
    build=_request,
    side_effect=True,
)

HTTP = Provider(
    key="http",
    label="HTTP API (API key, bearer or basic auth)",
    auth_kinds=("api_key", "bearer", "basic"),
    actions=(REQUEST,),
    error_of=default_error,
    auth_failed=lambda status, _body: False,
)

OAUTH2 = Provider(
    key="oauth2",
    label="OAuth 2.0 API (your own endpoints)",
    auth_kinds=("oauth2_custom",),
    actions=(REQUEST,),
    error_of=default_error,
    auth_failed=lambda status, _body: status == 401,
)
