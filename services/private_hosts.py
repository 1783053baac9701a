"""An organization's private hosts: addresses its own runs, tools and providers may reach.

Why per organization: the instance-wide OUTBOUND_ALLOW_HOSTS opens a private host to every
tenant. An org that runs its own Ollama on 10.0.0.5 should open it for itself only, managed by
its own admins and audited, and combined with the instance list only for that org's calls.

Why some entries are refused even here: an org admin is not the instance admin, so cloud
metadata addresses, unspecified/multicast addresses and networks wider than a /8 (IPv6 /32)
cannot be opened from an org; instance admins can switch org lists off entirely
(ORG_PRIVATE_HOSTS=false) on an instance whose internal network must stay closed to tenants.
"""

from __future__ import annotations

import ipaddress
import uuid

from sqlmodel import Session

from agent_platform.models import Organization
from agent_platform.settings import get_settings
from services import audit
from services.access import Actor, Permission, require
from services.errors import Forbidden, Invalid, NotFound
from services.llm import chain_cache
from services.outbound import METADATA_ADDRESSES, OutboundGuard, default_guard, parse_allow_entry

MAX_ENTRIES = 50
MIN_PREFIX = {4: 8, 6: 32}


def enabled() -> bool:
    """Whether org admins may open private hosts on this instance (ORG_PRIVATE_HOSTS)."""
    return get_settings().org_private_hosts


def org_entries(session: Session, org_id: uuid.UUID) -> tuple[str, ...]:
    """The org's own entries as stored (empty when org lists are switched off)."""
    if not get_settings().org_private_hosts:
        return ()
    org = session.get(Organization, org_id)
    if org is None:
        return ()
    return tuple(str(entry) for entry in org.outbound_allow_hosts or [])


def guard_for(session: Session, org_id: uuid.UUID) -> OutboundGuard:
    """The outbound guard for this org's calls: the instance list plus the org's own."""
    return default_guard(org_entries(session, org_id))


def get_private_hosts(session: Session, actor: Actor) -> list[str]:
    """Readable by every member: they see why a host is (not) reachable from their runs."""
    org = session.get(Organization, actor.org_id)
    if org is None:
        raise NotFound("Organization not found.")
    return [str(entry) for entry in org.outbound_allow_hosts or []]


def set_private_hosts(session: Session, actor: Actor, entries: list[str]) -> list[str]:
    """Replace the org's list (admins only, audited); each entry checked with a clear reason."""
    require(actor, Permission.PROVIDERS_MANAGE)
    if not get_settings().org_private_hosts:
        raise Forbidden(
            "Private hosts per organization are switched off on this instance; "
            "ask the instance admin to add the host to OUTBOUND_ALLOW_HOSTS."
        )
    org = session.get(Organization, actor.org_id)
    if org is None:
        raise NotFound("Organization not found.")
    cleaned: list[str] = []
    for raw in entries:
        if not raw.strip():
            continue
        entry = _checked(raw)
        if entry not in cleaned:
            cleaned.append(entry)
    if len(cleaned) > MAX_ENTRIES:
        raise Invalid(
            f"At most {MAX_ENTRIES} private hosts; use a network (like 10.0.0.0/24) instead.",
            fields={"hosts": "Too many entries"},
        )
    before = [str(entry) for entry in org.outbound_allow_hosts or []]
    if cleaned == before:
        return cleaned
    org.outbound_allow_hosts = cleaned
    session.add(org)
    chain_cache.changed(session, actor.org_id)  # cached resolutions carry the old list
    audit.record(
        session,
        "org.private_hosts_changed",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="organization",
        target_id=actor.org_id,
        client_ip=actor.client_ip,
        added=[e for e in cleaned if e not in before],
        removed=[e for e in before if e not in cleaned],
    )
    return cleaned


def _checked(raw: str) -> str:
    """One entry in its canonical spelling, or Invalid saying what is wrong with it."""
    try:
        entry = parse_allow_entry(raw)
    except ValueError as exc:
        raise Invalid(f"{exc}.", fields={"hosts": str(exc)}) from None
    if isinstance(entry, str):
        return entry
    problem = _network_problem(entry)
    if problem:
        message = f"{raw.strip()!r} cannot be opened by an organization: {problem}."
        raise Invalid(message, fields={"hosts": message})
    if entry.num_addresses == 1:
        return str(entry.network_address)
    return str(entry)


def _network_problem(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> str | None:
    if network.prefixlen < MIN_PREFIX[network.version]:
        return f"it is wider than a /{MIN_PREFIX[network.version]}"
    if any(
        address in network for address in METADATA_ADDRESSES if address.version == network.version
    ):
        return "it contains the cloud metadata address"
    if network.network_address.is_unspecified or network.is_multicast:
        return "it is an unspecified or multicast address"
    return None
