"""The one door for outbound HTTP: every tool, integration and user-supplied URL goes through it.

Why one guard: SSRF in agent platforms (Dify CVE-2025-56520, LiteLLM PYSEC-2026-4070) comes
from a URL a user or a model chose reaching the cloud metadata service or an internal admin
port. Checking the URL string is not enough, so the guard:

- refuses non-http(s) schemes and URLs carrying credentials;
- resolves the host itself and refuses it if *any* address is loopback, private, link-local,
  shared, multicast, reserved, unspecified or a metadata address (including IPv4-mapped,
  NAT64 and 6to4 spellings of those, and legacy IPv4 forms such as `0x7f000001` or `127.1`);
- re-resolves and re-validates at connect time inside an httpcore network backend, and
  connects to the validated IP, so a DNS answer that changes between check and connect
  (DNS rebinding) cannot reach an internal address;
- follows redirects itself, checking every hop.

Allow-list semantics (OUTBOUND_ALLOW_HOSTS), matched against the host *as the URL writes it*:
- an IP or CIDR entry permits URLs whose host is an IP literal inside it (`10.0.0.5`,
  `10.0.0.0/8`); it does not permit names that happen to resolve there;
- a hostname entry permits URLs whose host is exactly that name (no subdomains), whatever it
  resolves to, except cloud metadata and unspecified addresses, which a name never unlocks;
- schemes and credentials are refused whatever the allow-list says.

An organization's own private hosts (`Organization.outbound_allow_hosts`, managed by its
admins through `services/private_hosts.py`) are added to the instance's list for that
organization's model calls and tools only: `default_guard(extra_hosts=...)`.
"""

from __future__ import annotations

import codecs
import contextlib
import ipaddress
import json as jsonlib
import re
import select
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import httpcore
import httpx

from agent_platform.settings import get_settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
T = TypeVar("T")

ALLOWED_SCHEMES = ("http", "https")
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")
NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_NETWORK = ipaddress.ip_network("64:ff9b:1::/48")
# Headers that still go to another origin after a redirect; everything else (API keys,
# Authorization, cookies) stays with the origin the caller addressed.
CROSS_ORIGIN_SAFE_HEADERS = frozenset({"accept", "accept-language", "content-type", "user-agent"})
_HOSTNAME = re.compile(r"[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")
_LEGACY_IPV4 = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}")


class OutboundError(Exception):
    """The request could not be made: timeout, DNS failure, connection error, too many hops."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OutboundRefused(OutboundError):
    """The guard's policy forbids this destination; nothing was sent to it."""


@dataclass(frozen=True)
class OutboundResponse:
    """A finished response, body read up to a byte limit (`truncated` says it was cut)."""

    status: int
    headers: dict[str, str]
    body: bytes
    truncated: bool
    final_url: str

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def text(self) -> str:
        """The body decoded with its declared charset; a cut multi-byte character is dropped."""
        match = re.search(r"charset=[\"']?([\w.:-]+)", self.content_type, re.IGNORECASE)
        try:
            decoder = codecs.getincrementaldecoder(match.group(1) if match else "utf-8")
        except LookupError:
            decoder = codecs.getincrementaldecoder("utf-8")
        return decoder(errors="replace").decode(self.body, final=not self.truncated)

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class OutboundGuard:
    """Policy plus client: `check_url` for a quick verdict, `request` to actually fetch."""

    def __init__(
        self,
        allow_hosts: Iterable[str] = (),
        *,
        timeout: float = 20.0,
        max_bytes: int = 2_000_000,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        """`verify` is for TLS to an internal CA (an SSLContext trusting it); keep it on."""
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in allow_hosts:
            if not raw.strip():
                continue
            entry = parse_allow_entry(raw)
            if isinstance(entry, str):
                names.add(entry)
            else:
                networks.append(entry)
        self.allowed_names = frozenset(names)
        self.allowed_networks = tuple(networks)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.verify = verify

    # --- policy -------------------------------------------------------------------------

    def check_url(self, url: str | httpx.URL) -> None:
        """Raise OutboundRefused (policy) or OutboundError (DNS failure) unless `url` may be
        fetched. Blocking: it resolves DNS."""
        host, port = _target(url)
        self.permitted_addresses(host, port)

    def permitted_addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses `host` may be reached at, or raise. The single policy used both by
        `check_url` and at connect time, so the two can never disagree."""
        name = host.strip("[]").lower().rstrip(".")
        if not name:
            raise OutboundRefused("Refused: the URL has no host")
        literal = _ip_literal(name)
        if literal is not None:
            if any(literal in network for network in self.allowed_networks):
                return [literal]
            problem = address_problem(literal)
            if problem:
                raise OutboundRefused(f"Refused: {literal} is {problem}")
            return [literal]
        if not _HOSTNAME.fullmatch(name):
            raise OutboundRefused(f"Refused: {host!r} is not a valid host name")
        if name in self.allowed_names:
            addresses = _resolve(name, port)
            for address in addresses:
                if address in METADATA_ADDRESSES or address.is_unspecified:
                    raise OutboundRefused(
                        f"Refused: {name} resolves to {address}, {address_problem(address)}"
                    )
            return addresses
        if name == "localhost" or name.endswith(".localhost"):
            raise OutboundRefused(f"Refused: {name} is a loopback name")
        addresses = _resolve(name, port)
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise OutboundRefused(f"Refused: {name} resolves to {address}, {problem}")
        return addresses

    # --- transport ----------------------------------------------------------------------

    def transport(
        self, *, refuse_redirects: bool = False, max_connections: int = 20
    ) -> GuardedTransport:
        """An httpx transport enforcing this guard on every connection it opens.

        `refuse_redirects` turns any 3xx-with-Location answer into `OutboundRefused` before
        its body is read: for SDKs (LiteLLM, OpenAI, Anthropic) that would otherwise follow it
        or put the body of the redirecting answer into their error message."""
        return GuardedTransport(
            self,
            verify=self.verify,
            refuse_redirects=refuse_redirects,
            max_connections=max_connections,
        )

    def client(
        self, *, refuse_redirects: bool = False, max_connections: int = 20, **kwargs: Any
    ) -> httpx.AsyncClient:
        """An httpx client for SDKs that want one (e.g. `AsyncOpenAI(http_client=...)`).

        `trust_env` is forced off: httpx mounts HTTP(S)_PROXY transports *over* a custom
        transport, and a proxy would reach internal addresses on our behalf."""
        kwargs["trust_env"] = False
        kwargs.setdefault("timeout", self.timeout)
        if refuse_redirects:
            kwargs["follow_redirects"] = False
        transport = self.transport(
            refuse_redirects=refuse_redirects, max_connections=max_connections
        )
        return httpx.AsyncClient(transport=transport, **kwargs)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        max_redirects: int = 5,
        max_bytes: int | None = None,
    ) -> OutboundResponse:
        """Fetch `url`, following up to `max_redirects` redirects (each hop checked), reading
        at most `max_bytes` of body. `timeout` bounds the whole exchange, not each read."""
        limit = self.timeout if timeout is None else timeout
        try:
            with anyio.fail_after(limit):
                return await self._exchange(
                    method.upper(),
                    url,
                    headers=_checked_headers(headers or {}),
                    json=json,
                    data=data,
                    params=params,
                    timeout=limit,
                    max_redirects=max_redirects,
                    max_bytes=self.max_bytes if max_bytes is None else max_bytes,
                )
        except (TimeoutError, httpx.TimeoutException):
            raise OutboundError(f"Timed out after {limit:g}s fetching {url}") from None
        except httpx.HTTPError as exc:
            raise OutboundError(f"Request to {url} failed: {exc or type(exc).__name__}") from None

    async def _exchange(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str],
        json: Any,
        data: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
        timeout: float,
        max_redirects: int,
        max_bytes: int,
    ) -> OutboundResponse:
        current = _parse(url)
        async with self.client(
            timeout=timeout, follow_redirects=False, headers={"accept-encoding": "identity"}
        ) as client:
            for _hop in range(max_redirects + 1):
                await _in_thread(self.check_url, current)
                request = client.build_request(
                    method, current, headers=headers, json=json, data=data, params=params
                )
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code not in REDIRECT_STATUSES or not location:
                        body, truncated = await _read_limited(response, max_bytes)
                        return OutboundResponse(
                            status=response.status_code,
                            headers=dict(response.headers.items()),
                            body=body,
                            truncated=truncated,
                            final_url=str(current),
                        )
                finally:
                    await response.aclose()
                following = _join(current, location)
                if following.scheme not in ALLOWED_SCHEMES:
                    raise OutboundRefused(
                        f"Refused: redirect to scheme '{following.scheme}:' is not allowed"
                    )
                if _origin(following) != _origin(current):
                    headers = {
                        k: v for k, v in headers.items() if k.lower() in CROSS_ORIGIN_SAFE_HEADERS
                    }
                if response.status_code == 303 or (
                    response.status_code in (301, 302) and method == "POST"
                ):
                    method = "GET" if method != "HEAD" else method
                    json = data = None
                current, params = following, None
        raise OutboundError(f"Too many redirects (more than {max_redirects}) fetching {url}")


def address_problem(address: IPAddress) -> str | None:
    """Why `address` must not be reached from the platform, or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address_problem(address.ipv4_mapped)
        embedded: ipaddress.IPv4Address | None = None
        if address in NAT64_NETWORK:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address.sixtofour is not None:
            embedded = address.sixtofour
        if embedded is not None:
            problem = address_problem(embedded)
            return f"a tunnelled form of {embedded}, {problem}" if problem else None
        if address in NAT64_LOCAL_NETWORK:
            return "a local-use NAT64 address"
        if address.teredo is not None:
            return "a Teredo tunnel address"
    if address in METADATA_ADDRESSES:
        return "a link-local/metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address in SHARED_NETWORK:
        return "a shared (carrier-grade NAT) address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private-network address"
    if address.is_reserved or not address.is_global:
        return "a reserved, non-public address"
    return None


def parse_allow_entry(raw: str) -> str | IPNetwork:
    """One allow-list entry as a lowercase host name or an IP network; ValueError, in words a
    person can act on, when it is neither. Shared by the instance setting and org lists."""
    entry = raw.strip().strip("[]").lower()
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        pass
    name = entry.rstrip(".")
    if not _HOSTNAME.fullmatch(name) or _LEGACY_IPV4.fullmatch(name):
        raise ValueError(
            f"{raw.strip()!r} is not a host name (like ollama.internal), an IP address "
            "(like 10.0.0.5) or a network (like 10.0.0.0/24)"
        )
    return name


def default_guard(extra_hosts: Iterable[str] = ()) -> OutboundGuard:
    """The guard configured by OUTBOUND_* settings (built per call so tests can change them),
    plus `extra_hosts`: an organization's own private hosts, for that organization's calls."""
    settings = get_settings()
    return OutboundGuard(
        [*settings.outbound_allow_hosts.split(","), *extra_hosts],
        timeout=settings.outbound_timeout_seconds,
        max_bytes=settings.outbound_max_bytes,
    )


async def request(method: str, url: str, **kwargs: Any) -> OutboundResponse:
    """`default_guard().request(...)`, for callers without a guard of their own."""
    return await default_guard().request(method, url, **kwargs)


# --- the connect-time half: network backend and httpx transport ----------------------------


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves and validates at connect time, then connects to the validated IP itself.

    httpcore performs TLS after `connect_tcp` using the URL's hostname, so SNI and
    certificate checks are unchanged while the TCP peer is an address we approved."""

    def __init__(
        self, guard: OutboundGuard, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self._guard = guard
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await _in_thread(self._guard.permitted_addresses, host, port)
        last_error: Exception | None = None
        for address in addresses:
            try:
                stream = await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
                return _PooledStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # permitted_addresses never returns an empty list
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("Refused: unix sockets are not reachable through the guard")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _PooledStream(httpcore.AsyncNetworkStream):
    """A connection's stream with its socket looked up once. The pool asks every idle
    connection "is your socket readable?" (a server-closed keep-alive) on each request it
    places; anyio answers by rebuilding the stream's whole attribute table each time, a
    `getpeername` included, which cost more CPU than the request itself with dozens of idle
    connections. The socket does not change for the connection's life (TLS wraps it)."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._socket: socket.socket | None = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return _PooledStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _socket_readable(self._socket)
        return self._inner.get_extra_info(info)


def _socket_readable(sock: socket.socket | None) -> bool:
    """httpcore's own test (`is_socket_readable`): a gone socket counts as readable, so the
    pool drops its connection."""
    fd = -1 if sock is None else sock.fileno()
    if fd < 0:
        return True
    if sys.platform == "win32" or not hasattr(select, "poll"):
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class _Pool(httpcore.AsyncConnectionPool):
    """httpcore 1.0.9's pool (HTTP/1.1 only, as GuardedTransport builds it) with three costs of
    its bookkeeping taken out; `_assign_requests_to_connections` below is httpcore's method
    with only these changes:

    - its clean-up loop computed `len([c.is_idle() for c in connections])` again for every
      idle connection (quadratic: ~2,500 calls per request with 50 pooled connections); that
      length is `len(self._connections)`, the same number;
    - it handed an idle connection to every queued request that came before the first one had
      sent on it (taking a connection yields to the loop), so in a burst all but one of them
      failed with ConnectionNotAvailable and went round again (~3 extra passes per request at
      50 at once). An HTTP/1.1 connection serves one request, so one already handed to a
      request is not offered, nor closed to make room, again; a request left waiting is
      placed when one finishes or fails, as in httpcore;
    - it asked every idle connection whether the server had dropped it (a `poll` of its
      socket) on every pass; now a connection is asked when it is about to be handed out,
      and one found dropped is closed and the next one tried. A dropped connection is still
      never reused; one not reached yet keeps its pool slot until a request reaches it or
      the pool needs room (then the idle one first in line is closed, as in httpcore)."""

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        closing_connections: list[httpcore.AsyncConnectionInterface] = []
        for connection in list(self._connections):
            if connection.is_closed():
                self._connections.remove(connection)
            elif connection.is_available():
                # Connected and idle: whether the server dropped it is asked when it is picked.
                if len(self._connections) > self._max_keepalive_connections:
                    self._connections.remove(connection)
                    closing_connections.append(connection)
            elif connection.has_expired():
                self._connections.remove(connection)
                closing_connections.append(connection)
            elif connection.is_idle() and len(self._connections) > self._max_keepalive_connections:
                self._connections.remove(connection)
                closing_connections.append(connection)

        queued_requests = [request for request in self._requests if request.is_queued()]
        if not queued_requests:
            return closing_connections
        taken = {request.connection for request in self._requests if request.connection}
        for pool_request in queued_requests:
            origin = pool_request.request.url.origin
            chosen = self._reusable(origin, taken, closing_connections)
            if chosen is None and len(self._connections) < self._max_connections:
                chosen = self.create_connection(origin)
                self._connections.append(chosen)
            elif chosen is None:
                idle = [c for c in self._connections if c not in taken and c.is_idle()]
                if not idle:
                    continue
                self._connections.remove(idle[0])
                closing_connections.append(idle[0])
                chosen = self.create_connection(origin)
                self._connections.append(chosen)
            pool_request.assign_to_connection(chosen)
            taken.add(chosen)
        return closing_connections

    def _reusable(
        self,
        origin: httpcore.Origin,
        taken: set[httpcore.AsyncConnectionInterface],
        closing: list[httpcore.AsyncConnectionInterface],
    ) -> httpcore.AsyncConnectionInterface | None:
        """The first free connection to `origin` the server has not dropped; dropped ones
        met on the way are closed."""
        for connection in list(self._connections):
            if connection in taken or not connection.can_handle_request(origin):
                continue
            if not connection.is_available():
                continue
            if connection.has_expired():
                self._connections.remove(connection)
                closing.append(connection)
                continue
            return connection
        return None


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx's default transport, rebuilt around `GuardedNetworkBackend` (httpx 0.28 offers
    no way to pass a network backend to `AsyncHTTPTransport`)."""

    def __init__(
        self,
        guard: OutboundGuard,
        *,
        verify: ssl.SSLContext | bool = True,
        refuse_redirects: bool = False,
        max_connections: int = 20,
    ) -> None:
        self._refuse_redirects = refuse_redirects
        self._pool = _Pool(
            ssl_context=httpx.create_ssl_context(verify=verify),
            network_backend=GuardedNetworkBackend(guard),
            max_connections=max_connections,
            # Keep every connection the pool may open: with fewer kept than open, a busy
            # client (one per model endpoint, shared by a worker's runs) closed most
            # connections after each answer and opened a new one (TCP, guard DNS check,
            # TLS with a real provider) for nearly every model call.
            max_keepalive_connections=max_connections,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ALLOWED_SCHEMES:
            raise OutboundRefused(f"Refused: scheme '{request.url.scheme}:' is not allowed")
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            core_response = await self._pool.handle_async_request(core_request)
        if self._refuse_redirects and core_response.status in REDIRECT_STATUSES:
            if any(name.lower() == b"location" for name, _ in core_response.headers):
                # Closed unread: the body of a redirecting answer must not reach any message.
                await core_response.aclose()
                raise OutboundRefused(
                    f"Refused: {request.url.host} answered with a redirect "
                    f"({core_response.status}), and redirects are not followed here; "
                    "use the final address instead"
                )
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(core_response.stream),
            extensions=core_response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()


_ERROR_MAP: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore raises its own exceptions; httpx callers expect httpx's."""
    try:
        yield
    except Exception as exc:
        for core_type, httpx_type in _ERROR_MAP:
            if isinstance(exc, core_type):
                raise httpx_type(str(exc) or core_type.__name__) from exc
        raise


# --- small helpers --------------------------------------------------------------------------


def _parse(url: str | httpx.URL) -> httpx.URL:
    """httpx's own parser, so the URL we check is the URL httpx connects to."""
    if isinstance(url, httpx.URL):
        return url
    try:
        return httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise OutboundRefused(f"Refused: not a valid URL ({exc})") from None


def _target(url: str | httpx.URL) -> tuple[str, int]:
    parsed = _parse(url)
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise OutboundRefused(
            f"Refused: scheme '{parsed.scheme}:' is not allowed; only http and https"
        )
    if parsed.userinfo:
        raise OutboundRefused("Refused: URLs carrying credentials (user:password@) are not allowed")
    port = parsed.port if parsed.port is not None else (443 if parsed.scheme == "https" else 80)
    if not 1 <= port <= 65535:
        raise OutboundRefused(f"Refused: port {port} is out of range")
    return parsed.raw_host.decode("ascii"), port


def _checked_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Header names must be HTTP tokens and values printable ASCII: a CR/LF or a stray byte
    in a model-written header is refused here rather than failing deep inside h11."""
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise OutboundError(f"Invalid header name {name!r}")
        if not _HEADER_VALUE.fullmatch(value):
            raise OutboundError(f"Invalid value for header {name!r}: use printable ASCII")
    return dict(headers)


def _join(base: httpx.URL, location: str) -> httpx.URL:
    try:
        return base.join(location)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise OutboundRefused(f"Refused: redirect to an invalid URL ({exc})") from None


def _origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    return url.scheme, url.raw_host, url.port


def _ip_literal(name: str) -> IPAddress | None:
    """`name` as an IP address if it is one, including the legacy IPv4 spellings
    (`0x7f000001`, `2130706433`, `017700000001`, `127.1`) that resolvers still accept."""
    try:
        address: IPAddress = ipaddress.ip_address(name)
    except ValueError:
        if not _LEGACY_IPV4.fullmatch(name):
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _resolve(name: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundError(f"Could not resolve host {name}: {exc}") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = _ip_literal(str(sockaddr[0]))
        if address is not None and address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundError(f"Could not resolve host {name}: no addresses")
    return addresses


async def _read_limited(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """Read at most `max_bytes`, whatever Content-Length claims."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        if size + len(chunk) > max_bytes:
            chunks.append(chunk[: max_bytes - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    """Run blocking DNS off the event loop; a timeout abandons a resolver that hangs."""
    return await anyio.to_thread.run_sync(function, *args, abandon_on_cancel=True)
