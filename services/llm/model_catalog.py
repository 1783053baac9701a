"""The models a person can pick for an agent: what the org's providers list, plus what each
provider says it serves (its `/models` endpoint, where it has one).

Why fetch through the guard: the base URL is user-supplied, so the listing is an outbound
request like any other (SSRF rules, the org's own private hosts, no redirects to loopback).
The key is read here and never leaves the server; a listing that fails is a note in words,
never the server's response body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlmodel import Session

from agent_platform.models import ProviderKind, Role
from services import private_hosts, secrets
from services.access import Actor, require_role
from services.llm.providers import list_providers
from services.outbound import OutboundError, default_guard

MAX_LISTED = 200  # per provider: a picker, not a catalogue
ANTHROPIC_BASE = "https://api.anthropic.com/v1"
OPENAI_BASE = "https://api.openai.com/v1"
GEMINI_BASE = "https://generativelanguage.googleapis.com/v1beta"


@dataclass(frozen=True)
class ListingTarget:
    """One provider's model listing request (holds a secret: never log it)."""

    provider: str
    kind: ProviderKind
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    allow_hosts: tuple[str, ...] = ()

    def __repr__(self) -> str:  # keep the key out of logs and tracebacks
        return f"ListingTarget({self.provider!r})"


@dataclass(frozen=True)
class Listing:
    provider: str
    models: list[str]  # "<provider>/<model>", as an agent's config names them
    note: str = ""  # why nothing was fetched, in words ("" when it worked)


def configured(session: Session, actor: Actor) -> list[str]:
    """The models the org's admins listed for each provider, as `<provider>/<model>`."""
    return [f"{row.name}/{model}" for row in list_providers(session, actor) for model in row.models]


def _target(kind: ProviderKind, base: str, key: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """Where a kind of provider lists its models, and how it wants the key."""
    if kind == ProviderKind.ANTHROPIC:
        headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
        return f"{base or ANTHROPIC_BASE}/models", headers, {"limit": "1000"}
    if kind == ProviderKind.GEMINI:
        return f"{base or GEMINI_BASE}/models", {"x-goog-api-key": key}, {}
    if kind == ProviderKind.OLLAMA:
        return f"{base}/api/tags", {}, {}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return f"{base or OPENAI_BASE}/models", headers, {}


def listing_targets(session: Session, actor: Actor) -> list[ListingTarget]:
    """Every provider that can say what it serves. Azure cannot: its "models" are deployment
    names the admin chose, so they come only from the provider's own list."""
    require_role(actor, Role.BUILDER)
    allow = private_hosts.org_entries(session, actor.org_id)
    targets = []
    for row in list_providers(session, actor):
        if row.kind == ProviderKind.AZURE:
            continue
        key = secrets.get(session, row.secret_ref) if row.secret_ref else ""
        url, headers, params = _target(row.kind, (row.api_base or "").rstrip("/"), key)
        targets.append(ListingTarget(row.name, row.kind, url, headers, params, allow))
    return targets


def parse_listing(kind: ProviderKind, body: Any) -> list[str]:
    """Model names from a listing response of each wire format, in the order given."""
    if not isinstance(body, dict):
        return []
    if kind == ProviderKind.OLLAMA:
        items, key = body.get("models"), "name"
    elif kind == ProviderKind.GEMINI:
        items, key = body.get("models"), "name"
    else:
        items, key = body.get("data"), "id"
    names: list[str] = []
    for item in items if isinstance(items, list) else []:
        name = item.get(key) if isinstance(item, dict) else None
        if isinstance(name, str) and name.strip():
            names.append(name.strip().removeprefix("models/"))
    return list(dict.fromkeys(names))[:MAX_LISTED]


async def fetch(target: ListingTarget) -> Listing:
    """Ask one provider what it serves. Redirects are checked hop by hop by the guard; a
    refusal or failure becomes a note, never the server's body."""
    guard = default_guard(target.allow_hosts)
    try:
        response = await guard.request(
            "GET", target.url, headers=target.headers, params=target.params, timeout=10
        )
    except OutboundError as exc:
        return Listing(target.provider, [], f"{target.provider}: {exc.message}")
    if response.status != 200:
        return Listing(
            target.provider, [], f"{target.provider}: the model list answered {response.status}."
        )
    try:
        names = parse_listing(target.kind, response.json())
    except ValueError:
        names = []
    if not names:
        return Listing(target.provider, [], f"{target.provider}: no models listed.")
    return Listing(target.provider, [f"{target.provider}/{n}" for n in names])


async def fetch_all(targets: list[ListingTarget]) -> list[Listing]:
    """All providers at once, so one slow provider does not hold up the others."""
    results: list[Listing | None] = [None] * len(targets)

    async def one(i: int, target: ListingTarget) -> None:
        results[i] = await fetch(target)

    async with anyio.create_task_group() as group:
        for i, target in enumerate(targets):
            group.start_soon(one, i, target)
    return [r for r in results if r is not None]


def merged(listed: list[str], fetched: list[Listing]) -> list[str]:
    """The picker's choices: the admins' own list first, then what the providers serve."""
    return list(dict.fromkeys([*listed, *(m for found in fetched for m in found.models)]))


__all__ = [
    "Listing",
    "ListingTarget",
    "configured",
    "fetch",
    "fetch_all",
    "listing_targets",
    "merged",
    "parse_listing",
]
