"""Installing a template listing: an editable copy of the listed version, in the buyer's org.

What cannot be copied becomes a placeholder the agent page asks for: an integration grant keeps
its action and provider but no connection (the editor's problem list says "Choose the
connection this action uses."), a model whose provider the buyer has not set up stays as the
seller named it (the same list says the provider is missing). Hand-offs to the seller's other
agents and the seller's knowledge collections are dropped, and the install says so.

Downloads count organizations: the install row is unique per (org, listing), so installing
again, or two people of one org at once, never counts twice. A new listing version does not
touch installed agents: the installer sees "update available" and updates when they choose.

A paid template installs only for an organization holding its licence (a paid, unrefunded
purchase: services/billing/purchases.py, which installs right after the sale's webhook); a
refund revokes it, and with it reinstalling and updates. A service listing (run on the
seller's version, billed per run) cannot be installed as a copy, and says so: it is
subscribed to and run (services/marketplace/service_runs.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import (
    Agent,
    ListingKind,
    ListingVersion,
    MarketplaceInstall,
    MarketplaceListing,
    Role,
)
from agent_platform.models.base import utcnow
from services import agents, audit
from services.access import Actor, require_role
from services.agent_publishing import keep_publishable
from services.agent_reads import visible_agents
from services.billing.licences import ever_refunded, licensed
from services.errors import Conflict, Forbidden, NotFound
from services.llm.providers import configured_names
from services.marketplace.listings import get_listing, latest_version, price_label


@dataclass
class InstalledCopy:
    install: MarketplaceInstall
    agent: Agent
    dropped: list[str] = field(default_factory=list)  # what could not come along, in words
    placeholders: list[str] = field(default_factory=list)  # what the agent page will ask for


def visible_installs(actor: Actor) -> SelectOfScalar[MarketplaceInstall]:
    return select(MarketplaceInstall).where(MarketplaceInstall.org_id == actor.org_id)


def get_install(session: Session, actor: Actor, install_id: uuid.UUID) -> MarketplaceInstall:
    found = session.exec(
        visible_installs(actor).where(col(MarketplaceInstall.id) == install_id)
    ).first()
    if found is None:
        raise NotFound("Install not found.")
    return found


def install_of(session: Session, actor: Actor, listing_id: uuid.UUID) -> MarketplaceInstall | None:
    """This org's install of the listing, if any (None also for a listing it cannot see)."""
    return session.exec(
        visible_installs(actor).where(col(MarketplaceInstall.listing_id) == listing_id)
    ).first()


def list_installs(
    session: Session, actor: Actor
) -> list[tuple[MarketplaceInstall, MarketplaceListing]]:  # noqa: E501
    rows = session.exec(
        select(MarketplaceInstall, MarketplaceListing)
        .join(MarketplaceListing, col(MarketplaceListing.id) == MarketplaceInstall.listing_id)
        .where(MarketplaceInstall.org_id == actor.org_id)
        .order_by(col(MarketplaceInstall.updated_at).desc())
    ).all()
    return [(install, listing) for install, listing in rows]


def check_installable(session: Session, listing: MarketplaceListing, org_id: uuid.UUID) -> None:
    """Refuse, in words, a service listing and a paid listing the org holds no licence of."""
    if listing.kind == ListingKind.SERVICE:
        raise Forbidden(
            "This is a service listing: subscribe to it and run the seller's own version "
            "(billed per run) instead of installing a copy."
        )
    if listing.price_cents > 0 and not licensed(session, org_id, listing.id):
        if ever_refunded(session, org_id, listing.id):
            raise Forbidden(
                "Your organization's purchase of this listing was refunded, so its licence "
                "is revoked: buy it again to install or update it."
            )
        raise Forbidden(
            f"This listing costs {price_label(listing.price_cents)}: buy it first; it "
            "installs once the payment is confirmed."
        )


def buyer_config(
    config: dict[str, Any], connections: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[str], list[str]]:
    """The seller's config as the buyer's: (config, dropped, placeholders). `connections`
    maps an action to the buyer's connection id already chosen for it (kept on update)."""
    chosen = connections or {}
    tools: list[dict[str, Any]] = []
    dropped: list[str] = []
    placeholders: list[str] = []
    for tool in config.get("tools") or []:
        kind = tool.get("kind", "builtin")
        settings = tool.get("settings") or {}
        if kind == "agent":
            label = settings.get("label") or "another agent"
            dropped.append(f"the hand-off to the seller's agent “{label}”")
            continue
        if kind == "integration":
            name = str(tool.get("name"))
            connection = chosen.get(name, "")
            if not connection:
                placeholders.append(
                    f"a {settings.get('provider') or 'matching'} connection for {name}"
                )  # noqa: E501
            tool = {
                "kind": "integration",
                "name": name,
                "settings": {
                    "connection": connection,
                    "provider": str(settings.get("provider") or ""),
                    "approval": bool(settings.get("approval", False)),
                },
            }
        tools.append(tool)
    memory = dict(config.get("memory") or {})
    if memory.get("collections"):
        dropped.append("the seller's knowledge collections (add your own under Knowledge)")
        memory["collections"] = []
    copy = {**config, "tools": tools}
    if "memory" in config:
        copy["memory"] = memory
    return copy, dropped, placeholders


def _chosen_connections(agent: Agent) -> dict[str, str]:
    return {
        str(t.get("name")): str((t.get("settings") or {}).get("connection") or "")
        for t in agent.config.get("tools") or []
        if isinstance(t, dict) and t.get("kind") == "integration"
    }


def _make_agent(
    session: Session, actor: Actor, listing: MarketplaceListing, version: ListingVersion
) -> InstalledCopy:
    config, dropped, placeholders = buyer_config(version.config)
    without_grants = {
        **config,
        "tools": [t for t in config["tools"] if t.get("kind") != "integration"],
    }
    # create_agent checks today's rules (plan limit, grants); the placeholders it would refuse
    # (no connection yet) are added as the next version, which the editor then asks about
    agent = agents.create_agent(
        session,
        actor,
        name=listing.title,
        description=listing.summary,
        config=without_grants,
    )
    if without_grants != config:
        agents.new_version(session, actor, agent, agents.validate_config(config))
    placeholders += _missing_models(session, actor, version)
    install = MarketplaceInstall(
        org_id=actor.org_id,
        listing_id=listing.id,
        listing_version_id=version.id,
        version=version.version,
        agent_id=agent.id,
        installed_by_id=actor.user_id,
    )
    return InstalledCopy(install, agent, dropped, placeholders)


def _missing_models(session: Session, actor: Actor, version: ListingVersion) -> list[str]:
    have = configured_names(session, actor.org_id)
    return [
        f"a model provider named “{ref.split('/', 1)[0]}” (for {ref})"
        for ref in version.required_models
        if str(ref).split("/", 1)[0] not in have
    ]


def install_listing(session: Session, actor: Actor, listing_id: uuid.UUID) -> InstalledCopy:
    require_role(actor, Role.BUILDER)
    listing = get_listing(session, actor, listing_id)
    if listing.publisher_org_id == actor.org_id:
        raise Conflict("This is your own listing: its agent is already in your organization.")
    check_installable(session, listing, actor.org_id)
    existing = install_of(session, actor, listing.id)
    if existing is not None and existing.agent_id is not None:
        raise Conflict("Your organization installed this listing already; open its agent.")
    version = latest_version(session, listing)
    copy = _make_agent(session, actor, listing, version)
    if existing is not None:  # installed before, its agent deleted since: a new copy, no count
        existing.agent_id = copy.agent.id
        existing.listing_version_id = version.id
        existing.version = version.version
        existing.updated_at = utcnow()
        session.add(existing)
        copy.install = existing
    else:
        try:
            with session.begin_nested():
                session.add(copy.install)
                session.flush()
        except IntegrityError as exc:
            raise Conflict("Your organization installed this listing already.") from exc
        session.exec(
            update(MarketplaceListing)
            .where(col(MarketplaceListing.id) == listing.id)
            .values(downloads=col(MarketplaceListing.downloads) + 1)
        )
    audit.record(
        session,
        "marketplace.installed",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="listing",
        target_id=listing.id,
        version=version.version,
        agent_id=str(copy.agent.id),
    )
    return copy


def update_available(session: Session, install: MarketplaceInstall) -> int | None:
    """The listing's newer version number, if there is one."""
    listing = session.get(MarketplaceListing, install.listing_id)
    if listing is None or listing.latest_version <= install.version:
        return None
    return listing.latest_version


def update_install(session: Session, actor: Actor, install_id: uuid.UUID) -> InstalledCopy:
    """Bring the installed agent to the listing's latest version, keeping the connections
    the buyer chose; a published agent is refused if the update would break it."""
    require_role(actor, Role.BUILDER)
    install = get_install(session, actor, install_id)
    listing = get_listing(session, actor, install.listing_id)
    check_installable(session, listing, actor.org_id)
    if listing.latest_version <= install.version:
        raise Conflict("This agent is on the listing's latest version already.")
    version = latest_version(session, listing)
    agent = (
        session.exec(visible_agents(actor).where(col(Agent.id) == install.agent_id)).first()
        if install.agent_id
        else None
    )
    if agent is None:
        copy = _make_agent(session, actor, listing, version)
        agent = copy.agent
        dropped, placeholders = copy.dropped, copy.placeholders
    else:
        config, dropped, placeholders = buyer_config(version.config, _chosen_connections(agent))
        parsed = agents.validate_config(config)
        keep_publishable(session, actor, agent, parsed)
        agents.new_version(session, actor, agent, parsed)
        placeholders += _missing_models(session, actor, version)
    install.agent_id = agent.id
    install.listing_version_id = version.id
    install.version = version.version
    install.updated_at = utcnow()
    session.add(install)
    audit.record(
        session,
        "marketplace.install_updated",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="listing",
        target_id=listing.id,
        version=version.version,
    )
    return InstalledCopy(install, agent, dropped, placeholders)
