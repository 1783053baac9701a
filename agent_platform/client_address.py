"""The client's address, believing X-Forwarded-For only from a trusted reverse proxy.

Why: the header is written by whoever sends the request. Believed blindly, an attacker picks
a fresh address for every guess (and escapes the sign-in throttle) or writes someone else's;
ignored behind a proxy, every user shares the proxy's address (and one user's failures slow
everyone). So the header is read only when the direct peer is in TRUSTED_PROXIES, and then
from the right, skipping further trusted hops: the first address no trusted proxy vouches
for is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import Request

from agent_platform.settings import get_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Iterable[Network]
) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Iterable[Network]
) -> str | None:
    """The address to throttle and audit: `peer` unless it is a trusted proxy."""
    networks = list(trusted)
    peer_ip = _ip(peer) if peer else None
    if peer_ip is None:
        return peer or None
    if not networks or not forwarded_for or not _trusted(peer_ip, networks):
        return str(peer_ip)
    hops = [h for h in (part.strip() for part in forwarded_for.split(",")) if h]
    for hop in reversed(hops):
        hop_ip = _ip(hop)
        if hop_ip is None:
            # Garbage in the chain: nothing to the left of it can be vouched for.
            return str(peer_ip)
        if not _trusted(hop_ip, networks):
            return str(hop_ip)
    # Every hop is a trusted proxy: the leftmost is the closest we know to the client.
    first = _ip(hops[0]) if hops else None
    return str(first or peer_ip)


def request_address(request: Request) -> str | None:
    """The client of an HTTP request to our API, by the instance's TRUSTED_PROXIES."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    return client_address(peer, forwarded, get_settings().trusted_proxy_networks)
