"""Marketplace test data: a seller with a published agent, buyers, the instance admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from agent_platform.models import Integration, MarketplaceListing, ProviderCredential, User
from services import agent_publishing, agents
from services.access import Actor
from services.marketplace import listings, moderation
from tests.factories import make_user, personal_actor


@dataclass
class Market:
    admin: User  # the instance's first user
    seller: Actor
    buyer: Actor
    agent_id: uuid.UUID
    connection_id: uuid.UUID


def give_provider(session: Session, actor: Actor, name: str = "openai") -> None:
    session.add(ProviderCredential(org_id=actor.org_id, name=name, models=["gpt-4o-mini"]))
    session.flush()


def published_agent(
    session: Session,
    actor: Actor,
    *,
    name: str = "Triage bot",
    config: dict[str, Any] | None = None,
) -> uuid.UUID:
    agent = agents.create_agent(
        session, actor, name=name, config=config or {"model": "openai/gpt-4o-mini"}
    )
    agent_publishing.publish_agent(session, actor, agent.id)
    session.flush()
    return agent.id


def make_market(session: Session) -> Market:
    admin = make_user(session, email="admin@example.com", name="Admin")
    seller = personal_actor(session, make_user(session, email="seller@example.com", name="Sam"))
    buyer = personal_actor(session, make_user(session, email="buyer@example.com", name="Bea"))
    give_provider(session, seller)
    connection = Integration(
        org_id=seller.org_id,
        provider="github",
        name="Seller's GitHub",
        credential_ref="test/none",
        builders_may_use=True,
    )
    session.add(connection)
    session.flush()
    config = {
        "model": "openai/gpt-4o-mini",
        "instructions": "Sort the issues.",
        "tools": [
            {
                "kind": "integration",
                "name": "github.create_issue",
                "settings": {"connection": str(connection.id)},
            }
        ],
    }
    agent_id = published_agent(session, seller, config=config)
    return Market(admin, seller, buyer, agent_id, connection.id)


LISTING_FORM = {
    "title": "Issue triage",
    "summary": "Sorts your GitHub issues by urgency.",
    "description": "# Triage\n\nLabels **every** issue. <script>alert(1)</script>",
    "category": "engineering",
    "tags": ["GitHub", "triage"],
}


def live_listing(
    session: Session, market: Market, form: dict[str, Any] | None = None
) -> MarketplaceListing:
    listing = listings.publish_listing(
        session, market.seller, market.agent_id, {**LISTING_FORM, **(form or {})}
    )
    moderation.approve_listing(session, market.admin.id, listing.id)
    session.flush()
    return listing
