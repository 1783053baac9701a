"""Built-in tools: what each returns, and the ToolError the model gets for bad input.

HTTP tools run against a real stdlib server on 127.0.0.1 (a fake SearXNG speaking its JSON
format), reached through an injected guard that allow-lists 127.0.0.1.
"""

from __future__ import annotations

import ast
import asyncio
import json
import math
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.outbound import OutboundGuard
from services.tools import calculator as calculator_module
from services.tools import web_search
from services.tools.base import Tool, ToolContext, ToolError
from services.tools.calculator import Calculator
from services.tools.clock import CurrentDateTime
from services.tools.http_request import MAX_BODY_CHARS, HttpRequest
from services.tools.json_extract import JsonExtract
from services.tools.web_search import WebSearch

CTX = ToolContext(org_id=uuid.uuid4())


def call(tool: Tool, **args: Any) -> dict[str, Any]:
    return asyncio.run(tool.run(args, CTX))


def tool_error(tool: Tool, **args: Any) -> str:
    with pytest.raises(ToolError) as caught:
        call(tool, **args)
    return caught.value.message


SEARX_RESULTS = [
    {
        "title": f"Result <b>{i}</b>",
        "url": f"https://example.org/{i}",
        "content": f"Snippet {i} &amp; <em>more</em>",
    }
    for i in range(7)
]


class FakeWeb:
    """A local server: plain pages, an echo endpoint and SearXNG's /search JSON API."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.search_status = 200
        web = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                web.handle(self)

            do_POST = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.requests.append((parts.path, query))
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length)
        if parts.path == "/hello":
            self.reply(h, 200, b"hello, tool", "text/plain; charset=utf-8")
        elif parts.path == "/echo":
            echo = {"method": h.command, "body": body.decode(), "x-trace": h.headers["X-Trace"]}
            self.reply(h, 201, json.dumps(echo).encode(), "application/json")
        elif parts.path == "/big":
            self.reply(h, 200, "é".encode() * 30_000, "text/plain; charset=utf-8")
        elif parts.path == "/image":
            self.reply(h, 200, b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png")
        elif parts.path == "/search" and query.get("format") == "json":
            results = {"query": query.get("q"), "results": SEARX_RESULTS}
            self.reply(h, self.search_status, json.dumps(results).encode(), "application/json")
        else:
            self.reply(h, 404, b"not found", "text/plain")

    @staticmethod
    def reply(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def web() -> Iterator[FakeWeb]:
    fake = FakeWeb()
    yield fake
    fake.close()


LOCAL = OutboundGuard(["127.0.0.1"])


def test_every_tool_has_an_openai_schema() -> None:
    tools: list[Tool] = [Calculator(), CurrentDateTime(), JsonExtract(), HttpRequest(), WebSearch()]
    names = [tool.spec.openai_schema()["function"]["name"] for tool in tools]
    assert names == ["calculator", "current_datetime", "json_extract", "http_request", "web_search"]
    for tool in tools:
        assert tool.spec.parameters["type"] == "object"


class TestCalculator:
    @pytest.mark.parametrize(
        ("expression", "result"),
        [
            ("2 + 3 * 4", 14),
            ("(2 + 3) * 4", 20),
            ("2 ** 10", 1024),
            ("7 // 2", 3),
            ("7 % 3", 1),
            ("7 / 2", 3.5),
            ("-3 + +1", -2),
            ("sqrt(16)", 4.0),
            ("abs(-2.5)", 2.5),
            ("round(3.14159, 2)", 3.14),
            ("round(2.5001)", 3),
            ("min(3, 1, 2) + max(3, 1, 2)", 4),
            ("log(e)", 1.0),
            ("log(8, 2)", 3.0),
            ("sin(0) + cos(0) + tan(0)", 1.0),
            ("2 ** 0.5", math.sqrt(2)),
            ("10 ** 308", 10**308),
            ("1e3 / 4", 250.0),
        ],
    )
    def test_evaluates(self, expression: str, result: float) -> None:
        assert call(Calculator(), expression=expression) == {
            "expression": expression,
            "result": pytest.approx(result),
        }

    def test_pi(self) -> None:
        assert call(Calculator(), expression="2 * pi")["result"] == pytest.approx(2 * math.pi)

    @pytest.mark.parametrize(
        ("expression", "says"),
        [
            ("__import__('os').system('id')", "functions"),
            ("open('/etc/passwd')", "functions"),
            ("(1).__class__", "Attribute"),
            ("math.pi", "Attribute"),
            ("x + 1", "Unknown name 'x'"),
            ("__builtins__", "Unknown name"),
            ("'abc'", "Only numbers"),
            ("'a' * 10", "Only numbers"),
            ("True + 1", "Only numbers"),
            ("1j * 2", "Only numbers"),
            ("2 ** 10000", "Exponent"),
            ("9 ** 9 ** 9", "Exponent"),
            ("10 ** 400", "too large"),
            ("1e308 * 10", "finite"),
            ("9" * 400, "too large"),
            ("(-8) ** 0.5", "not a real number"),
            ("round(5, -1000000000)", "round()"),
            ("1 / 0", "Division by zero"),
            ("sqrt(-1)", "math domain"),
            ("min()", "Cannot evaluate"),
            ("2 ^ 3", "**"),
            ("[1, 2]", "List"),
            ("lambda: 1", "Lambda"),
            ("1 if 1 else 2", "IfExp"),
            ("1 < 2", "Compare"),
            ("2 +", "Not a valid"),
            ("1 + 1" + " + 1" * 200, "too long"),
            ("", "required"),
        ],
    )
    def test_refuses(self, expression: str, says: str) -> None:
        assert says in tool_error(Calculator(), expression=expression)

    def test_expression_must_be_a_string(self) -> None:
        assert "required" in tool_error(Calculator(), expression=42)

    def test_source_never_calls_eval_or_exec(self) -> None:
        tree = ast.parse(Path(calculator_module.__file__).read_text())
        called = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert not called & {"eval", "exec", "compile", "__import__"}


class TestClock:
    def test_defaults_to_utc(self) -> None:
        result = call(CurrentDateTime())
        moment = datetime.fromisoformat(result["datetime"])
        assert abs(moment - datetime.now(UTC)) < timedelta(seconds=5)
        assert result["timezone"] == "UTC"
        assert result["utc_offset"] == "+00:00"
        assert result["date"] == moment.date().isoformat()
        assert result["weekday"] == moment.strftime("%A")

    def test_named_zone(self) -> None:
        result = call(CurrentDateTime(), timezone="Asia/Tokyo")
        moment = datetime.fromisoformat(result["datetime"])
        assert result["utc_offset"] == "+09:00"
        assert moment.utcoffset() == timedelta(hours=9)
        assert abs(moment - datetime.now(UTC)) < timedelta(seconds=5)
        assert result["time"] == moment.strftime("%H:%M:%S")

    @pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "Europe/"])
    def test_unknown_zone_is_a_tool_error(self, zone: str) -> None:
        assert "IANA" in tool_error(CurrentDateTime(), timezone=zone)


DOC = {
    "items": [
        {"name": "apple", "price": 1.2, "tags": ["fruit", "red"]},
        {"name": "bread", "price": 2.5},
        {"name": "cheese"},
    ],
    "data": {"total": 3, "a.b": "dotted"},
}


class TestJsonExtract:
    @pytest.mark.parametrize(
        ("path", "value"),
        [
            ("items[0].name", "apple"),
            ("$.data.total", 3),
            ("data.total", 3),
            ("items[-1].name", "cheese"),
            ("items.1.price", 2.5),
            ("items[0].tags[1]", "red"),
            ("items[*].name", ["apple", "bread", "cheese"]),
            ("items.*.name", ["apple", "bread", "cheese"]),
            ("items[*].price", [1.2, 2.5]),  # items without the key are skipped
            ('data["a.b"]', "dotted"),
            ("data.*", [3, "dotted"]),
            ("", DOC),
        ],
    )
    def test_extracts(self, path: str, value: Any) -> None:
        assert call(JsonExtract(), json=json.dumps(DOC), path=path) == {"value": value}

    def test_accepts_a_parsed_object(self) -> None:
        assert call(JsonExtract(), json=DOC, path="items[1].name") == {"value": "bread"}

    @pytest.mark.parametrize(
        ("path", "message"),
        [
            ("items[0].nmae", "No key 'nmae' at $.items[0]; keys there: name, price, tags"),
            ("dta.total", "No key 'dta' at $; keys there: items, data"),
            ("items[5]", "Index 5 is out of range at $.items: the list has 3 items"),
            ("items[0].name.first", "Cannot read key 'first' at $.items[0].name: it is a string"),
            ("data[0]", "Cannot read [0] at $.data: it is an object (keys: total, a.b)"),
            ("data.total[*]", "Cannot use * at $.data.total: it is a number"),
            ("items[*].colour", "No key 'colour' at $.items[0]; keys there: name, price, tags"),
            ("items[abc", "Cannot read the path at '[abc'; e.g. items[0].name"),
        ],
    )
    def test_missing_path_says_what_exists(self, path: str, message: str) -> None:
        assert tool_error(JsonExtract(), json=DOC, path=path) == message

    def test_invalid_json_text(self) -> None:
        assert "not valid JSON" in tool_error(JsonExtract(), json="{'single': quotes}", path="a")

    def test_json_is_required(self) -> None:
        assert "required" in tool_error(JsonExtract(), path="a")


class TestHttpRequest:
    def test_get(self, web: FakeWeb) -> None:
        result = call(HttpRequest(guard=LOCAL), url=f"{web.base}/hello")
        assert result == {
            "url": f"{web.base}/hello",
            "status": 200,
            "content_type": "text/plain; charset=utf-8",
            "body": "hello, tool",
            "truncated": False,
        }

    def test_post_json_with_headers(self, web: FakeWeb) -> None:
        result = call(
            HttpRequest(guard=LOCAL),
            method="post",
            url=f"{web.base}/echo",
            headers={"X-Trace": "t-1"},
            json={"q": "hi"},
        )
        assert result["status"] == 201
        assert json.loads(result["body"]) == {
            "method": "POST",
            "body": '{"q":"hi"}',
            "x-trace": "t-1",
        }

    def test_error_status_is_returned_not_raised(self, web: FakeWeb) -> None:
        result = call(HttpRequest(guard=LOCAL), url=f"{web.base}/missing")
        assert (result["status"], result["body"]) == (404, "not found")

    def test_long_body_is_truncated(self, web: FakeWeb) -> None:
        result = call(HttpRequest(guard=LOCAL), url=f"{web.base}/big")
        assert result["body"] == "é" * MAX_BODY_CHARS
        assert result["truncated"] is True

    def test_binary_body_is_described(self, web: FakeWeb) -> None:
        result = call(HttpRequest(guard=LOCAL), url=f"{web.base}/image")
        assert result["body"] == "<108 bytes of image/png, not shown>"

    @pytest.mark.parametrize(
        ("url", "message"),
        [
            ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local"),
            ("http://10.0.0.1/", "10.0.0.1 is a private-network address"),
            ("file:///etc/passwd", "scheme 'file:'"),
        ],
    )
    def test_refused_url_is_a_tool_error(self, url: str, message: str) -> None:
        assert message in tool_error(HttpRequest(guard=LOCAL), url=url)

    def test_default_guard_refuses_local_server(self, web: FakeWeb) -> None:
        message = tool_error(HttpRequest(), url=f"{web.base}/hello")
        assert message == "Refused: 127.0.0.1 is a loopback address"
        assert web.requests == []

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            ({}, "'url' is required"),
            ({"url": "http://x/", "method": "DELETE"}, "'method' must be one of GET, POST"),
            ({"url": "http://x/", "json": {"a": 1}}, "needs method POST"),
            ({"url": "http://x/", "headers": {"Host": "evil"}}, "cannot be set: Host"),
            ({"url": "http://x/", "headers": {"X-N": 1}}, "string values"),
            ({"url": "http://127.0.0.1/", "headers": {"X-A": "a\r\nX-B: b"}}, "printable ASCII"),
        ],
    )
    def test_bad_arguments(self, args: dict[str, Any], message: str) -> None:
        assert message in tool_error(HttpRequest(guard=LOCAL), **args)


class TestWebSearch:
    def test_not_available_by_default(self) -> None:
        assert web_search.available() is False
        assert "not configured" in tool_error(WebSearch(), query="reflex")

    def searx(self, web: FakeWeb, guard: OutboundGuard | None = LOCAL) -> WebSearch:
        return WebSearch(guard=guard, provider="searxng", url=web.base + "/")

    def test_searxng_results(self, web: FakeWeb) -> None:
        result = call(self.searx(web), query="self-hosted agents")
        assert web.requests == [("/search", {"q": "self-hosted agents", "format": "json"})]
        assert len(result["results"]) == 5
        assert result["results"][0] == {
            "title": "Result 0",
            "url": "https://example.org/0",
            "snippet": "Snippet 0 & more",
        }

    def test_max_results(self, web: FakeWeb) -> None:
        result = call(self.searx(web), query="q", max_results=2)
        assert [r["url"] for r in result["results"]] == [
            "https://example.org/0",
            "https://example.org/1",
        ]

    def test_provider_error_is_a_tool_error(self, web: FakeWeb) -> None:
        web.search_status = 500
        assert "HTTP 500" in tool_error(self.searx(web), query="q")

    def test_searxng_goes_through_the_guard(self, web: FakeWeb) -> None:
        message = tool_error(self.searx(web, guard=None), query="q")
        assert message == "Web search failed: Refused: 127.0.0.1 is a loopback address"
        assert web.requests == []

    def test_missing_api_key_for_brave(self) -> None:
        tool = WebSearch(guard=LOCAL, provider="brave", api_key="")
        assert "WEB_SEARCH_API_KEY" in tool_error(tool, query="q")

    @pytest.mark.parametrize(
        ("args", "message"),
        [({}, "'query' is required"), ({"query": "q", "max_results": 9}, "from 1 to 5")],
    )
    def test_bad_arguments(self, web: FakeWeb, args: dict[str, Any], message: str) -> None:
        assert message in tool_error(self.searx(web), **args)
