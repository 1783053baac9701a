"""The plumbing every third-party fake shares: a threaded local HTTP server that records requests.

Why fakes that speak the *real* wire formats: the platform's integration code (catalog
declarations → proxy → outbound guard → httpx) must run unmodified in tests. Each fake serves
the real paths of its provider on one local origin, so configuring the platform with a single
base URL per provider (which replaces every real host of that provider, paths kept) is enough::

    with FakeSlack(redirect_uri="http://testserver/integrations/callback") as slack:
        ...  # point the platform's Slack base URL at slack.base_url
        callback = slack.approve(authorize_url)  # what clicking "Allow" does
        ...
        assert slack.posted[0]["text"] == "hello"

Every fake records each request it receives (:class:`RecordedRequest`, header names
lower-cased) in the thread-safe ``requests`` snapshot, and offers test knobs:
``expire_all_tokens()``, ``set_token()``, ``issue_token()``, ``revoked``, ``refresh_count``.

One module per provider (slack, github, google, linkedin, echo_api) builds on this and on
:mod:`tests.fakes.oauth`. Servers are ``http.server.ThreadingHTTPServer`` instances on
``127.0.0.1`` in daemon threads (standard library only), one server per fake instance.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import re
import secrets
import socket
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, unquote, urlsplit

ALNUM = string.ascii_letters + string.digits
PKCE_CHARS = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
CODE_LIFETIME = 600.0  # seconds; authorization codes of all three providers live ~10 minutes


def random_string(n: int, alphabet: str = ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def pkce_challenge(verifier: str) -> str:
    """S256 challenge of ``verifier``: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def pkce_pair() -> tuple[str, str]:
    """A fresh ``(code_verifier, code_challenge)`` for tests that drive OAuth by hand."""
    verifier = secrets.token_urlsafe(48)
    return verifier, pkce_challenge(verifier)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RecordedRequest:
    """One request a fake received, for assertions.

    ``headers`` has lower-cased names (so ``rec.headers["authorization"]`` works whatever the
    client sent); ``header_items`` keeps the names as sent. ``query`` keeps the last value of a
    repeated parameter. ``json`` is the parsed body when it is JSON, ``form`` the parsed body
    when it is form-encoded (empty otherwise).
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    raw_query: str = ""
    header_items: tuple[tuple[str, str], ...] = ()
    client: str = ""
    received_at: float = field(default_factory=time.time)

    def header(self, name: str, default: str | None = None) -> str | None:
        """Case-insensitive header lookup."""
        return self.headers.get(name.lower(), default)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer`` (or GitHub-style ``token``) header."""
        scheme, _, value = (self.header("authorization") or "").strip().partition(" ")
        if scheme.lower() in ("bearer", "token") and value.strip():
            return value.strip()
        return None

    @property
    def basic(self) -> tuple[str, str] | None:
        """``(user, password)`` of an ``Authorization: Basic`` header, if well formed."""
        scheme, _, value = (self.header("authorization") or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (unquote(user), unquote(password)) if sep else None

    @property
    def params(self) -> dict[str, Any]:
        """Query, form and JSON-object body merged (later wins): how most providers read args."""
        merged: dict[str, Any] = dict(self.query)
        merged.update(self.form)
        if isinstance(self.json, dict):
            merged.update(self.json)
        return merged


@dataclass
class Response:
    """What a route answers; the handler adds Content-Length and writes it."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(obj).encode()
    return Response(
        status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    )


def html_response(text: str, status: int = 200) -> Response:
    return Response(
        status,
        text.encode(),
        {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
    )


def redirect(location: str, status: int = 302) -> Response:
    return Response(status, b"", {"Location": location, "Cache-Control": "no-store"})


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""


def _parse_request(handler: BaseHTTPRequestHandler) -> RecordedRequest:
    parts = urlsplit(handler.path)
    body = _read_body(handler)
    items = tuple((k, v) for k, v in handler.headers.items())
    headers: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    parsed_json: Any = None
    form: dict[str, str] = {}
    if body and (content_type.endswith("json") or content_type in ("", "text/plain")):
        try:
            parsed_json = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            parsed_json = None
    if body and content_type == "application/x-www-form-urlencoded":
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return RecordedRequest(
        method=handler.command,
        path=parts.path or "/",
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers,
        body=body,
        json=parsed_json,
        form=form,
        raw_query=parts.query,
        header_items=items,
        client=handler.client_address[0],
    )


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the owning fake; keep-alive HTTP/1.1 like the real APIs."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeProvider/1.0"
    timeout = 30  # an idle keep-alive connection does not pin a thread forever
    disable_nagle_algorithm = True  # headers and body go out as separate writes

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Silent: test output stays readable."""

    def _dispatch(self) -> None:
        fake: FakeServer = self.server.fake
        req = _parse_request(self)
        fake._record(req)
        try:
            resp = fake._handle(req)
        except Exception as exc:  # a bug in the fake must surface as a 500, not a hang
            resp = json_response({"fake_error": f"{type(exc).__name__}: {exc}"}, 500)
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD" and resp.body:
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class _Server(ThreadingHTTPServer):
    """Tracks open connections so ``stop()`` can cut idle keep-alive ones: otherwise a
    client's pooled connection would keep getting answers from a "stopped" fake."""

    daemon_threads = True
    allow_reuse_address = True
    fake: FakeServer

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


Route = tuple[str, re.Pattern[str], Callable[..., Response]]


class FakeServer:
    """Lifecycle, request log and routing shared by every fake.

    Subclasses list ``(method, path regex, handler)`` in ``_routes``; regex groups are
    percent-decoded and passed to the handler after the request.
    """

    title: ClassVar[str] = "Fake"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self._lock = threading.RLock()
        self._requests: list[RecordedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._route_table: list[Route] = []

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: the one origin replacing every real host."""
        if self.port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _Server((self.host, self._requested_port), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._route_table = [(m, re.compile(p), h) for m, p, h in self._routes()]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},  # quick stop(): tests start many servers
            name=f"{type(self).__name__}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ recording

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of every request received, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    # ------------------------------------------------------------------ routing

    def _routes(self) -> list[tuple[str, str, Callable[..., Response]]]:
        return []

    def _handle(self, req: RecordedRequest) -> Response:
        path_matched = False
        for method, pattern, handler in self._route_table:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            path_matched = True
            if method == "*" or req.method == method or (method == "GET" and req.method == "HEAD"):
                return handler(req, *(unquote(g) for g in match.groups()))
        return self._not_found(req, path_matched)

    def _not_found(self, req: RecordedRequest, path_matched: bool) -> Response:
        return json_response({"error": "not_found"}, 405 if path_matched else 404)
