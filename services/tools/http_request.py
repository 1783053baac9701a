"""Let the model call an HTTP API, only through the outbound guard.

Why a tool-sized response: the body goes back into the model's context, so it is cut to
MAX_BODY_CHARS (with `truncated` saying so) and binary bodies are described, not dumped.
"""

from __future__ import annotations

from typing import Any

from services.outbound import OutboundError, OutboundGuard, default_guard
from services.tools.base import ToolContext, ToolError, ToolSpec

MAX_BODY_CHARS = 20_000
METHODS = ("GET", "POST")
# Headers that describe the connection or message framing are ours to set, not the model's.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
TEXT_TYPES = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "csv")


class HttpRequest:
    spec = ToolSpec(
        name="http_request",
        description=(
            "Make an HTTP GET or POST request to a public http(s) URL and return the status, "
            f"content type and body (first {MAX_BODY_CHARS} characters). Internal and private "
            "addresses are refused."
        ),
        parameters={
            "type": "object",
            "properties": {
                "method": {"type": "string", "enum": list(METHODS), "default": "GET"},
                "url": {"type": "string", "description": "Absolute http(s) URL."},
                "headers": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Optional request headers.",
                },
                "json": {"type": "object", "description": "Optional JSON body (POST only)."},
            },
            "required": ["url"],
            "additionalProperties": False,
        },
    )

    def __init__(self, guard: OutboundGuard | None = None) -> None:
        self._guard = guard

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        url = args.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ToolError("'url' is required: an absolute http(s) URL")
        method = str(args.get("method") or "GET").upper()
        if method not in METHODS:
            raise ToolError(f"'method' must be one of {', '.join(METHODS)}, not {method!r}")
        headers = _headers(args.get("headers"))
        body = args.get("json")
        if body is not None and method != "POST":
            raise ToolError("A 'json' body needs method POST")
        guard = self._guard or default_guard(ctx.allow_hosts)
        try:
            response = await guard.request(
                method, url.strip(), headers=headers, json=body, max_bytes=MAX_BODY_CHARS * 4
            )
        except OutboundError as exc:
            raise ToolError(exc.message) from None
        content_type = response.content_type
        if response.body and not _is_text(content_type):
            text = f"<{len(response.body)} bytes of {content_type or 'binary data'}, not shown>"
        else:
            text = response.text
        return {
            "url": response.final_url,
            "status": response.status,
            "content_type": content_type,
            "body": text[:MAX_BODY_CHARS],
            "truncated": response.truncated or len(text) > MAX_BODY_CHARS,
        }


def _headers(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ToolError("'headers' must be an object of string names to string values")
    reserved = sorted(k for k in raw if k.lower() in RESERVED_HEADERS)
    if reserved:
        raise ToolError(f"These headers cannot be set: {', '.join(reserved)}")
    return raw


def _is_text(content_type: str) -> bool:
    lowered = content_type.lower()
    return not lowered or any(marker in lowered for marker in TEXT_TYPES)
