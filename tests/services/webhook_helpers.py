"""Builders for webhook-trigger tests: an org with an agent that can run, and a trigger on it."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlmodel import Session

from services import agents, webhooks
from services.access import Actor
from services.webhook_delivery import sign
from tests.factories import make_user, personal_actor


def agent_of(session: Session, actor: Actor, *, model: str = "fake/gpt-a") -> uuid.UUID:
    """A saved agent (it has a version, so it can run)."""
    config = {"model": model, "first_token_timeout_seconds": 3, "timeout_seconds": 30}
    agent = agents.create_agent(session, actor, name="Hooked", config=config)
    session.flush()
    return agent.id


def org_with_agent(session: Session) -> tuple[Actor, uuid.UUID]:
    actor = personal_actor(session, make_user(session))
    agent_id = agent_of(session, actor)
    session.commit()
    return actor, agent_id


def make_trigger(
    session: Session, actor: Actor, agent_id: uuid.UUID, **settings: Any
) -> webhooks.IssuedWebhook:
    data = {"name": "Orders", "require_signature": False, **settings}
    issued = webhooks.create_webhook(session, actor, agent_id, data=data)
    session.commit()
    return issued


def signed_headers(secret: str, body: bytes, *, at: float | None = None) -> dict[str, str]:
    """The headers a sender adds: X-Timestamp and X-Signature over f"{timestamp}.{body}"."""
    timestamp = str(int(time.time() if at is None else at))
    return {"X-Timestamp": timestamp, "X-Signature": sign(secret, timestamp, body)}
