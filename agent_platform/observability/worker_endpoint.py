"""`/metrics` of a worker process on its own port (METRICS_PORT), for installs where workers run
in their own containers (Kubernetes) and no web process shares their metrics directory.

Under `up` the web process already shows every child's metrics (multiprocess mode), so the
supervisor does not pass METRICS_PORT on. The rule is the web endpoint's: with METRICS_TOKEN
set a scraper sends it as a bearer token; without one, only this machine may read it. A
forking RQ worker in a container needs PROMETHEUS_MULTIPROC_DIR too (an emptyDir), or its
jobs' counts die with each forked horse.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST

from agent_platform.observability import metrics

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _allowed(environ: dict[str, Any], token: str) -> tuple[str, str] | None:
    """None when the request may read the metrics, else (status line, reason)."""
    if token:
        given = str(environ.get("HTTP_AUTHORIZATION", "")).removeprefix("Bearer ").strip()
        if hmac.compare_digest(given.encode(), token.encode()):
            return None
        return "401 Unauthorized", "Send METRICS_TOKEN as a bearer token."
    try:
        loopback = ipaddress.ip_address(str(environ.get("REMOTE_ADDR", ""))).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return "403 Forbidden", "This machine only; set METRICS_TOKEN to scrape it."


def application(token: str) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found; metrics are at /metrics.\n"]
        refused = _allowed(environ, token)
        if refused is not None:
            start_response(refused[0], [("Content-Type", "text/plain")])
            return [refused[1].encode() + b"\n"]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [metrics.exposition()]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        return None  # a scrape every 15 s is not worth a log line


def serve(port: int, token: str, host: str = "0.0.0.0") -> WSGIServer:
    """Serve in a daemon thread for the life of the process; returns the server (tests stop it)."""
    server = make_server(host, port, application(token), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
