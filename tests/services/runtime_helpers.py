"""Shared set-up for runtime tests: an org with a provider pointing at the scripted server."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from redis.asyncio import Redis as AsyncRedis
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.models import Execution
from agent_platform.settings import get_settings
from services import agents, runs
from services.access import Actor
from services.llm import providers
from services.runtime import engine
from services.runtime.events import channel
from tests.factories import make_user, personal_actor


def org_with_provider(session: Session, base_url: str, *, name: str = "fake") -> Actor:
    actor = personal_actor(session, make_user(session))
    providers.save_provider(
        session,
        actor,
        {
            "name": name,
            "kind": "openai_compatible",
            "api_base": base_url,
            "api_key": "sk-test-123456",
            "models": ["gpt-a", "gpt-b"],
        },
    )
    session.commit()
    return actor


def make_agent(session: Session, actor: Actor, name: str = "Helper", **config: Any) -> uuid.UUID:
    """The one agent builder of the tests: committed, on the scripted provider's first model
    (`org_with_provider`) unless `config` says otherwise."""
    base = {"model": "fake/gpt-a", "first_token_timeout_seconds": 3, "timeout_seconds": 30}
    agent = agents.create_agent(session, actor, name=name, config={**base, **config})
    session.commit()
    return agent.id


def start(actor: Actor, agent_id: uuid.UUID, message: str = "hello", **kwargs: Any) -> uuid.UUID:
    """Start a run the way the UI does (its own transaction); the enqueue happens after commit."""
    with session_scope() as s:
        return runs.start_run(s, actor, agent_id, message=message, **kwargs).id


def execute(run_id: uuid.UUID) -> tuple[Execution, list[dict[str, Any]]]:
    """Run the real engine in-process and collect every event it published on Redis."""

    async def _go() -> list[dict[str, Any]]:
        redis = AsyncRedis.from_url(get_settings().resolved_redis_url)
        pubsub = redis.pubsub()
        await pubsub.subscribe(channel(run_id))
        await engine.execute(session_scope, run_id, redis)
        events: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + 2
        while asyncio.get_running_loop().time() < deadline:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
            if message is not None:
                events.append(json.loads(message["data"]))
                if events[-1]["type"] == "done":
                    break
        await pubsub.aclose()
        await redis.aclose()
        return events

    events = asyncio.run(_go())
    with session_scope() as s:
        run = s.get(Execution, run_id)
        s.expunge(run)
    return run, events
