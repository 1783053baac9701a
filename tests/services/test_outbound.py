"""The outbound guard: what it refuses, what the allow-list unlocks, and that the connection
itself (not just the URL check) goes only to validated addresses.

Real HTTP against a stdlib server on 127.0.0.1; the only thing replaced is the OS resolver
(`socket.getaddrinfo`), to play DNS answers we cannot get from a machine without internet.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpcore
import httpx
import pytest

from agent_platform.settings import get_settings
from services.outbound import (
    IPAddress,
    OutboundError,
    OutboundGuard,
    OutboundRefused,
    address_problem,
    default_guard,
)
from tests.waiting import async_wait_until


class LocalServer:
    """A real HTTP server on 127.0.0.1 that records every path it is asked for."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.paths: list[str] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.paths.append(self.path)
                server.handle(self)

            do_POST = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/hello":
            self.reply(h, 200, b"hello from the local server")
        elif parts.path == "/secret":
            self.reply(h, 200, b"internal secret")
        elif parts.path == "/big":
            self.reply(h, 200, b"x" * 10_000)
        elif parts.path == "/slow":
            self.release.wait(5)
            self.reply(h, 200, b"finally")
        elif parts.path == "/redirect":
            h.send_response(int(query.get("status", "302")))
            h.send_header("Location", query["to"])
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif parts.path == "/loop":
            h.send_response(302)
            h.send_header("Location", "/loop")
            h.send_header("Content-Length", "0")
            h.end_headers()
        elif parts.path == "/echo":
            length = int(h.headers.get("Content-Length") or 0)
            echo = {
                "method": h.command,
                "headers": {k.lower(): v for k, v in h.headers.items()},
                "body": h.rfile.read(length).decode(),
            }
            self.reply(h, 200, json.dumps(echo).encode(), "application/json")
        else:
            self.reply(h, 404, b"not found")

    @staticmethod
    def reply(
        h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "text/plain"
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[LocalServer]:
    local = LocalServer()
    yield local
    local.close()


Answer = list[str] | Callable[[], list[str]]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Answer]], list[str]]:
    """Make the OS resolver answer the given names; returns the log of names looked up."""

    def install(answers: dict[str, Answer]) -> list[str]:
        real = socket.getaddrinfo
        looked_up: list[str] = []

        def fake(host: object, port: object, *args: object, **kwargs: object) -> list:
            if isinstance(host, str) and host in answers:
                looked_up.append(host)
                answer = answers[host]
                ips = answer() if callable(answer) else answer
                return [
                    (
                        socket.AF_INET6 if ":" in ip else socket.AF_INET,
                        socket.SOCK_STREAM,
                        6,
                        "",
                        (ip, port, 0, 0) if ":" in ip else (ip, port),
                    )
                    for ip in ips
                ]
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", fake)
        return looked_up

    return install


def refusal(guard: OutboundGuard, url: str) -> str:
    with pytest.raises(OutboundRefused) as caught:
        guard.check_url(url)
    assert caught.value.message.startswith("Refused")
    return caught.value.message


class TestCheckUrl:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://017700000001/",
            "http://127.1/",
            "http://127.0.0.1.:8080/",
            "http://169.254.169.254/latest/meta-data",
            "http://2852039166/",  # 169.254.169.254 as one decimal number
            "http://0xa9fea9fe/",
            "http://[fd00:ec2::254]/",
            "http://10.0.0.1/",
            "http://192.168.1.1/",
            "http://172.16.0.1/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://0/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://localhost/",
            "http://localhost./",
            "http://LOCALHOST/",
            "http://api.localhost/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://[fe80::1]/",
            "http://[fc00::1]/",
            "HTTPS://127.0.0.1/",
        ],
    )
    def test_internal_destinations_are_refused(self, url: str) -> None:
        refusal(OutboundGuard([]), url)

    @pytest.mark.parametrize("address", ["10.0.0.0", "10.1.2.3", "10.128.0.1", "10.255.255.255"])
    def test_all_of_10_slash_8_is_refused(self, address: str) -> None:
        assert "private" in refusal(OutboundGuard([]), f"http://{address}/")

    @pytest.mark.parametrize(
        "url",
        [
            "file:///etc/passwd",
            "gopher://x",
            "ftp://x",
            "data:text/plain,hi",
            "dict://x:11211/",
            "http:///no-host",
            "http://93.184.216.34:0/",
        ],
    )
    def test_non_http_schemes_and_hostless_urls_are_refused(self, url: str) -> None:
        refusal(OutboundGuard([]), url)

    def test_credentials_in_url_are_refused(self) -> None:
        assert "credentials" in refusal(OutboundGuard([]), "http://user:pass@example.com/")

    def test_metadata_refusal_says_what_it_is(self) -> None:
        message = refusal(OutboundGuard([]), "http://169.254.169.254/latest/meta-data")
        assert message == "Refused: 169.254.169.254 is a link-local/metadata address"

    def test_public_ip_literal_passes_without_dns(self) -> None:
        OutboundGuard([]).check_url("https://93.184.216.34/path")
        OutboundGuard([]).check_url("http://[64:ff9b::5db8:d822]/")  # NAT64 of a public IPv4

    def test_name_resolving_to_loopback_is_refused(self, dns) -> None:
        dns({"loopback.example": ["127.0.0.1"]})
        message = refusal(OutboundGuard([]), "http://loopback.example/")
        assert message == "Refused: loopback.example resolves to 127.0.0.1, a loopback address"

    def test_one_private_address_among_public_ones_is_refused(self, dns) -> None:
        dns({"mixed.example": ["93.184.216.34", "10.0.0.1"]})
        assert "10.0.0.1" in refusal(OutboundGuard([]), "http://mixed.example/")

    def test_name_resolving_to_public_addresses_passes(self, dns) -> None:
        dns({"public.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]})
        OutboundGuard([]).check_url("https://PUBLIC.example./x")

    def test_unresolvable_name_is_an_error_not_a_refusal(self, dns) -> None:
        def fail() -> list[str]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

        dns({"nowhere.example": fail})
        with pytest.raises(OutboundError) as caught:
            OutboundGuard([]).check_url("http://nowhere.example/")
        assert not isinstance(caught.value, OutboundRefused)
        assert "Could not resolve host nowhere.example" in caught.value.message


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:10.0.0.1", "a private-network address"),
        ("64:ff9b::a00:1", "a tunnelled form of 10.0.0.1, a private-network address"),
        ("64:ff9b:1::1", "a local-use NAT64 address"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo tunnel address"),
        ("198.18.0.1", "a private-network address"),
        ("240.0.0.1", "a private-network address"),
    ],
)
def test_address_problem(address: str, problem: str | None) -> None:
    found = address_problem(ipaddress.ip_address(address))
    assert found == problem


class TestAllowList:
    def test_allow_listed_ip_is_reachable_end_to_end(self, server: LocalServer) -> None:
        guard = OutboundGuard(["127.0.0.1"])
        response = asyncio.run(guard.request("GET", server.url("/hello")))
        assert response.status == 200
        assert response.text == "hello from the local server"
        assert response.final_url == server.url("/hello")
        assert not response.truncated

    def test_ip_entry_does_not_unlock_names_resolving_to_it(self, server: LocalServer) -> None:
        guard = OutboundGuard(["127.0.0.1"])
        refusal(guard, server.url("/hello", host="localhost"))
        with pytest.raises(OutboundRefused):
            asyncio.run(guard.request("GET", server.url("/hello", host="localhost")))
        assert server.paths == []

    def test_ip_entry_covers_other_spellings_of_the_same_address(self) -> None:
        guard = OutboundGuard(["127.0.0.1"])
        for url in ["http://2130706433/", "http://127.1/", "http://[::ffff:127.0.0.1]/"]:
            guard.check_url(url)
        refusal(guard, "http://127.0.0.2/")

    def test_cidr_entry_unlocks_ip_literals_inside_it_only(self, dns) -> None:
        dns({"gpu.lan": ["10.0.0.5"]})
        guard = OutboundGuard(["10.0.0.0/8", " fd00::/8 "])
        guard.check_url("http://10.0.0.5:11434/")
        guard.check_url("http://[fd12::1]/")
        refusal(guard, "http://192.168.1.1/")
        refusal(guard, "http://169.254.169.254/")
        assert "gpu.lan resolves to 10.0.0.5" in refusal(guard, "http://gpu.lan/")

    def test_name_entry_is_reachable_end_to_end(self, server: LocalServer) -> None:
        guard = OutboundGuard(["LOCALHOST."])  # normalised like the URL host
        response = asyncio.run(guard.request("GET", server.url("/hello", host="localhost")))
        assert response.text == "hello from the local server"
        refusal(guard, server.url("/hello", host="api.localhost"))  # no subdomains
        refusal(guard, server.url("/hello"))  # nor the IP it resolves to

    def test_name_entry_never_unlocks_metadata(self, dns) -> None:
        dns({"ollama.internal": ["169.254.169.254"]})
        guard = OutboundGuard(["ollama.internal"])
        assert "metadata" in refusal(guard, "http://ollama.internal/")

    def test_allow_list_never_unlocks_other_schemes_or_credentials(self) -> None:
        guard = OutboundGuard(["127.0.0.1", "localhost"])
        refusal(guard, "file://127.0.0.1/etc/passwd")
        refusal(guard, "gopher://127.0.0.1:6379/_FLUSHALL")
        refusal(guard, "http://admin:admin@127.0.0.1/")

    def test_entry_with_a_port_is_rejected_at_construction(self) -> None:
        with pytest.raises(ValueError, match="ollama:11434"):
            OutboundGuard(["ollama:11434"])

    def test_default_guard_reads_settings(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", " 127.0.0.1, Ollama ,,10.0.0.0/8")
        monkeypatch.setenv("OUTBOUND_TIMEOUT_SECONDS", "3.5")
        get_settings.cache_clear()
        try:
            guard = default_guard()
        finally:
            monkeypatch.undo()
            get_settings.cache_clear()
        assert guard.allowed_names == {"ollama"}
        assert [str(n) for n in guard.allowed_networks] == ["127.0.0.1/32", "10.0.0.0/8"]
        assert guard.timeout == 3.5

    def test_default_guard_allows_nothing_private(self) -> None:
        refusal(default_guard(), "http://127.0.0.1/")

    def test_default_guard_adds_an_organizations_own_hosts(self) -> None:
        default_guard(["10.0.0.5", "ollama.internal"]).check_url("http://10.0.0.5:11434/")
        refusal(default_guard(["10.0.0.5"]), "http://10.0.0.6/")
        refusal(default_guard(), "http://10.0.0.5/")


class TestRedirects:
    @pytest.mark.parametrize(
        "target", ["http://169.254.169.254/latest/meta-data", "http://10.0.0.1/admin"]
    )
    def test_redirect_to_internal_address_is_refused_before_connecting(
        self, server: LocalServer, target: str
    ) -> None:
        guard = OutboundGuard(["127.0.0.1"])
        started = time.monotonic()
        with pytest.raises(OutboundRefused) as caught:
            asyncio.run(guard.request("GET", server.url(f"/redirect?to={target}"), timeout=10))
        assert time.monotonic() - started < 2  # no connection attempt to a black hole
        assert urlsplit(target).hostname in caught.value.message

    def test_redirect_to_a_name_for_the_allowed_ip_is_refused(self, server: LocalServer) -> None:
        guard = OutboundGuard(["127.0.0.1"])
        target = server.url("/secret", host="localhost")
        with pytest.raises(OutboundRefused, match="localhost"):
            asyncio.run(guard.request("GET", server.url(f"/redirect?to={target}")))
        assert [p.split("?")[0] for p in server.paths] == ["/redirect"]

    def test_redirect_to_file_scheme_is_refused(self, server: LocalServer) -> None:
        guard = OutboundGuard(["127.0.0.1"])
        with pytest.raises(OutboundRefused, match="file"):
            asyncio.run(guard.request("GET", server.url("/redirect?to=file:///etc/passwd")))

    def test_relative_redirect_is_followed(self, server: LocalServer) -> None:
        guard = OutboundGuard(["127.0.0.1"])
        response = asyncio.run(guard.request("GET", server.url("/redirect?to=/hello")))
        assert response.text == "hello from the local server"
        assert response.final_url == server.url("/hello")

    def test_endless_redirects_stop(self, server: LocalServer) -> None:
        guard = OutboundGuard(["127.0.0.1"])
        with pytest.raises(OutboundError, match="Too many redirects"):
            asyncio.run(guard.request("GET", server.url("/loop"), max_redirects=3))
        assert server.paths == ["/loop"] * 4

    def test_see_other_turns_post_into_get(self, server: LocalServer) -> None:
        guard = OutboundGuard(["127.0.0.1"])
        response = asyncio.run(
            guard.request("POST", server.url("/redirect?status=303&to=/echo"), json={"a": 1})
        )
        assert response.json()["method"] == "GET"
        assert response.json()["body"] == ""

    def test_credentials_do_not_follow_a_cross_origin_redirect(self, server: LocalServer) -> None:
        guard = OutboundGuard(["127.0.0.1", "localhost"])
        headers = {"Authorization": "Bearer s3cret", "X-Api-Key": "k", "Accept": "text/plain"}
        same = asyncio.run(
            guard.request("GET", server.url("/redirect?to=/echo"), headers=headers)
        ).json()
        assert same["headers"]["authorization"] == "Bearer s3cret"
        other = server.url("/echo", host="localhost")
        cross = asyncio.run(
            guard.request("GET", server.url(f"/redirect?to={other}"), headers=headers)
        ).json()
        assert "authorization" not in cross["headers"]
        assert "x-api-key" not in cross["headers"]
        assert cross["headers"]["accept"] == "text/plain"


class TestLimits:
    def test_body_is_cut_at_max_bytes(self, server: LocalServer) -> None:
        guard = OutboundGuard(["127.0.0.1"])
        response = asyncio.run(guard.request("GET", server.url("/big"), max_bytes=100))
        assert response.body == b"x" * 100
        assert response.truncated

    def test_guard_default_max_bytes_applies(self, server: LocalServer) -> None:
        guard = OutboundGuard(["127.0.0.1"], max_bytes=10)
        response = asyncio.run(guard.request("GET", server.url("/big")))
        assert len(response.body) == 10 and response.truncated

    def test_slow_server_times_out_with_outbound_error(self, server: LocalServer) -> None:
        guard = OutboundGuard(["127.0.0.1"])
        started = time.monotonic()
        with pytest.raises(OutboundError) as caught:
            asyncio.run(guard.request("GET", server.url("/slow"), timeout=0.3))
        assert not isinstance(caught.value, OutboundRefused)
        assert "Timed out after 0.3s" in caught.value.message
        assert time.monotonic() - started < 2

    def test_closed_port_is_an_outbound_error(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        guard = OutboundGuard(["127.0.0.1"])
        with pytest.raises(OutboundError, match="failed"):
            asyncio.run(guard.request("GET", f"http://127.0.0.1:{port}/", timeout=3))


class TestConnectTime:
    def test_dns_rebinding_is_refused_at_connect(self, server: LocalServer, dns) -> None:
        answers = iter([["93.184.216.34"]])
        looked_up = dns({"rebind.example": lambda: next(answers, ["127.0.0.1"])})
        guard = OutboundGuard([])
        with pytest.raises(OutboundRefused) as caught:
            asyncio.run(guard.request("GET", f"http://rebind.example:{server.port}/secret"))
        assert caught.value.message == (
            "Refused: rebind.example resolves to 127.0.0.1, a loopback address"
        )
        assert looked_up == ["rebind.example", "rebind.example"]  # check, then connect
        assert server.paths == []

    def test_connection_goes_to_the_validated_address(self, server: LocalServer, dns) -> None:
        dns({"service.internal": ["127.0.0.1"]})
        guard = OutboundGuard(["service.internal"])
        url = f"http://service.internal:{server.port}/echo"
        echoed = asyncio.run(guard.request("GET", url)).json()
        assert echoed["headers"]["host"] == f"service.internal:{server.port}"

    def test_guarded_client_refuses_even_when_httpx_follows_redirects(
        self, server: LocalServer
    ) -> None:
        async def fetch() -> httpx.Response:
            async with OutboundGuard(["127.0.0.1"]).client(follow_redirects=True) as client:
                return await client.get(server.url("/redirect?to=http://10.0.0.1/"))

        with pytest.raises(OutboundRefused, match="10.0.0.1"):
            asyncio.run(fetch())

    def test_client_refusing_redirects_refuses_even_an_allowed_target(
        self, server: LocalServer
    ) -> None:
        """For SDK clients (model calls): no hop is followed, nothing of the answer is read."""

        async def fetch() -> httpx.Response:
            guard = OutboundGuard(["127.0.0.1"])
            async with guard.client(refuse_redirects=True, follow_redirects=True) as client:
                return await client.post(server.url("/redirect?status=307&to=/hello"))

        with pytest.raises(OutboundRefused) as caught:
            asyncio.run(fetch())
        assert caught.value.message == (
            "Refused: 127.0.0.1 answered with a redirect (307), and redirects are not followed "
            "here; use the final address instead"
        )
        assert server.paths == ["/redirect?status=307&to=/hello"]

    def test_guarded_client_ignores_proxy_environment(
        self, server: LocalServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")

        async def fetch() -> httpx.Response:
            async with OutboundGuard(["127.0.0.1"]).client() as client:
                return await client.get(server.url("/hello"))

        assert asyncio.run(fetch()).text == "hello from the local server"


class TestTls:
    """The TCP peer is the validated IP, yet TLS still checks the certificate against the
    URL's hostname (httpcore sends SNI and verifies after `connect_tcp`)."""

    @pytest.fixture
    def tls_server(self, tmp_path: Path) -> Iterator[tuple[int, ssl.SSLContext]]:
        if shutil.which("openssl") is None:
            pytest.skip("openssl not installed")
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
            + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=service.internal"]
            + ["-addext", "subjectAltName=DNS:service.internal"],
            check=True,
            capture_output=True,
        )
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_context.load_cert_chain(cert, key)
        local = LocalServer(tls=server_context)
        yield local.port, ssl.create_default_context(cafile=str(cert))
        local.close()

    def test_https_to_validated_ip_verifies_the_hostname(self, tls_server, dns) -> None:
        port, trust = tls_server
        dns({"service.internal": ["127.0.0.1"], "other.internal": ["127.0.0.1"]})
        guard = OutboundGuard(["service.internal", "other.internal"], verify=trust)
        response = asyncio.run(guard.request("GET", f"https://service.internal:{port}/hello"))
        assert response.text == "hello from the local server"
        with pytest.raises(OutboundError, match="certificate verify failed"):
            asyncio.run(guard.request("GET", f"https://other.internal:{port}/hello", timeout=5))


class KeepAliveServer:
    """HTTP/1.1 on 127.0.0.1 that keeps connections open (unlike `LocalServer`), counting the
    connections it accepts; `close_after` answers makes it close each one, unannounced, the
    way a server drops an idle keep-alive connection. `hold_until` keeps the answers back
    until that many requests wait at once, so a test knows they overlapped."""

    def __init__(self, *, close_after: int | None = None, hold_until: int = 0) -> None:
        self.close_after = close_after
        self.hold_until = hold_until
        self.connections = 0
        self.closed = 0
        self.held = 0
        self.peak_held = 0
        self.release = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def closed_at_least(self, count: int) -> bool:
        """An awaitable condition for async_wait_until (the count is the server's, in-loop)."""
        return self.closed >= count

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answered = 0
        try:
            while self.close_after is None or answered < self.close_after:
                await reader.readuntil(b"\r\n\r\n")  # a GET: no body follows
                self.held += 1
                self.peak_held = max(self.peak_held, self.held)
                if self.held >= self.hold_until:
                    self.release.set()
                await self.release.wait()
                self.held -= 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
                answered += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            await writer.wait_closed()
            self.closed += 1


class CountingGuard(OutboundGuard):
    """The guard, counting its connect-time checks (one per new connection)."""

    checks = 0

    def permitted_addresses(self, host: str, port: int) -> list[IPAddress]:
        self.checks += 1
        return super().permitted_addresses(host, port)


class TestPooledConnections:
    """The guarded transport pools connections for SDK clients: each new connection is still
    checked, a connection the server dropped is not reused, and the pool stays bounded."""

    def test_an_idle_connection_the_server_closed_is_replaced(self) -> None:
        server = KeepAliveServer(close_after=1)
        guard = CountingGuard(["127.0.0.1"])

        async def twice() -> list[str]:
            url = await server.start()
            async with guard.client() as client:
                first = await client.get(url)
                await async_wait_until(lambda: server.closed_at_least(1), what="the server closed")
                second = await client.get(url)
            return [first.text, second.text]

        assert asyncio.run(twice()) == ["ok", "ok"]
        assert server.connections == 2 and guard.checks == 2

    def test_every_dropped_idle_connection_is_skipped_and_closed(self) -> None:
        server = KeepAliveServer(close_after=1, hold_until=3)
        guard = CountingGuard(["127.0.0.1"])

        async def after_drops() -> tuple[list[str], int]:
            url = await server.start()
            async with guard.client() as client:
                first = await asyncio.gather(*(client.get(url) for _ in range(3)))
                await async_wait_until(
                    lambda: server.closed_at_least(3), what="the server closed all"
                )
                server.hold_until = 0
                last = await client.get(url)
                pooled = len(client._transport._pool.connections)
            return [a.text for a in [*first, last]], pooled

        texts, pooled = asyncio.run(after_drops())
        assert texts == ["ok"] * 4
        assert server.connections == 4 and guard.checks == 4
        assert pooled == 1  # the three dropped ones were closed on the way

    def test_concurrent_requests_share_a_bounded_pool_each_connection_checked(self) -> None:
        server = KeepAliveServer(hold_until=5)
        guard = CountingGuard(["127.0.0.1"])

        async def many() -> list[str]:
            url = await server.start()
            async with guard.client(max_connections=5) as client:
                answers = await asyncio.gather(*(client.get(url) for _ in range(30)))
                again = await client.get(url)  # after the rush: an idle connection, reused
            return [a.text for a in [*answers, again]]

        assert asyncio.run(many()) == ["ok"] * 31
        assert server.connections == 5 and server.peak_held == 5
        assert guard.checks == 5

    def test_a_burst_on_idle_connections_takes_one_each_without_going_round(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """httpcore's pool offered the same idle connection to every request of a burst; all
        but one failed on it and went round the pool again. Each now gets its own."""
        server = KeepAliveServer()
        guard = CountingGuard(["127.0.0.1"])
        rounds: list[object] = []
        pool_request = httpcore._async.connection_pool.AsyncPoolRequest
        clear = pool_request.clear_connection

        def counted(self: object) -> None:
            rounds.append(self)
            clear(self)

        monkeypatch.setattr(pool_request, "clear_connection", counted)

        async def bursts() -> list[str]:
            url = await server.start()
            async with guard.client(max_connections=20) as client:
                server.hold_until = 10
                first = await asyncio.gather(*(client.get(url) for _ in range(10)))
                server.release.clear()
                second = await asyncio.gather(*(client.get(url) for _ in range(10)))
            return [a.text for a in [*first, *second]]

        assert asyncio.run(bursts()) == ["ok"] * 20
        assert server.connections == 10 and guard.checks == 10  # the second burst reused them
        assert server.peak_held == 10 and rounds == []

    def test_the_pool_override_matches_the_pinned_httpcore(self) -> None:
        """`_Pool` copies httpcore 1.0.9's `_assign_requests_to_connections` (one line made
        linear): a new httpcore needs that copy compared with its own method again."""
        assert httpcore.__version__ == "1.0.9"
