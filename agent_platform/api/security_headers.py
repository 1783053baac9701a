"""Security headers on every HTTP response: pages, static assets, the API and Reflex's own routes.

Why an ASGI wrapper around the whole backend (it is the outermost `api_transformer`): the
prebuilt frontend, `/_event`, `/ping` and our FastAPI routes are all served by one process,
and a header set per router would miss whatever the next router adds.

The Content-Security-Policy of a page allows:
- scripts from this origin, plus exactly the inline scripts that page ships (React Router's
  hydration context, the theme and scroll-restoration snippets), pinned by their SHA-256
  hashes computed from the response itself, so an injected `<script>` or `onerror=` does not
  run; and `'unsafe-eval'`, because Reflex runs the events its server sends (toasts, clipboard,
  redirects) through `eval` — only the server can send those;
- inline styles (Radix and emotion insert `<style>` elements at run time);
- connections to this origin and to BASE_URL's origin over http(s) and ws(s) (the websocket);
- no framing at all (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for old browsers).
Anything that is not a page gets `default-src 'none'`: a JSON body or an uploaded file opened
directly can run nothing.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import re
import zlib
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_platform.settings import Settings, get_settings

_INLINE_SCRIPT = re.compile(rb"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script\s*>", re.S | re.I)
_SRC_ATTR = re.compile(rb"\ssrc\s*=", re.I)
NOT_A_PAGE_POLICY = (
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def inline_script_hashes(html: bytes) -> list[str]:
    """CSP source expressions for every inline `<script>` in `html`, in document order."""
    hashes: list[str] = []
    for match in _INLINE_SCRIPT.finditer(html):
        if _SRC_ATTR.search(match.group("attrs")):
            continue
        digest = hashlib.sha256(match.group("body")).digest()
        source = f"'sha256-{base64.b64encode(digest).decode()}'"
        if source not in hashes:
            hashes.append(source)
    return hashes


def page_policy(settings: Settings, script_hashes: Iterable[str] = ()) -> str:
    connect = ["'self'"]
    for origin in settings.app_origins:
        connect += [origin, "ws" + origin.removeprefix("http")]
    directives = [
        "default-src 'self'",
        "script-src " + " ".join(["'self'", "'unsafe-eval'", *script_hashes]),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src " + " ".join(dict.fromkeys(connect)),
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def _decoded(body: bytes, encoding: str) -> bytes | None:
    try:
        if encoding in ("", "identity"):
            return body
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error, EOFError):
        return None
    return None  # an encoding we cannot read: no inline script is allowed


class SecurityHeaders:
    """ASGI middleware; `with_security_headers` is the form `rx.App(api_transformer=…)` takes."""

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        settings = settings or get_settings()
        self.settings = settings
        self.common: list[tuple[bytes, bytes]] = [
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]
        if settings.resolved_base_url.startswith("https://"):
            self.common.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: MutableMapping[str, Any] | None = None
        chunks: list[bytes] = []

        async def send_with_headers(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in self.common if n not in names]
                message = {**message, "headers": headers}
                if b"content-security-policy" in names or message["status"] == 304:
                    # A 304's headers replace the cached page's: it must not drop its hashes.
                    await send(message)
                elif _is_page(headers):
                    held = message  # the policy depends on the body: wait for it
                else:
                    headers.append((b"content-security-policy", NOT_A_PAGE_POLICY.encode()))
                    await send(message)
                return
            if held is None:
                await send(message)
                return
            if message["type"] == "http.response.pathsend":
                # Starlette's FileResponse hands the server a path (granian supports that):
                # read the page ourselves to hash its scripts; it goes out as a plain body.
                chunks.append(await asyncio.to_thread(Path(message["path"]).read_bytes))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
            else:
                await send(message)
                return
            body = b"".join(chunks)
            encoding = _header(held["headers"], b"content-encoding").lower()
            html = _decoded(body, encoding)
            hashes = inline_script_hashes(html) if html is not None else []
            policy = page_policy(self.settings, hashes)
            held["headers"].append((b"content-security-policy", policy.encode()))
            await send(held)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, send_with_headers)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _is_page(headers: list[tuple[bytes, bytes]]) -> bool:
    """An HTML document shown in the browser (an HTML file sent as a download is not one)."""
    if not _header(headers, b"content-type").lower().startswith("text/html"):
        return False
    return not _header(headers, b"content-disposition").lower().startswith("attachment")


def with_security_headers(app: ASGIApp) -> ASGIApp:
    return SecurityHeaders(app)
