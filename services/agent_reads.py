"""The reads every agent module builds on: which agents an actor may see, one agent, its
config, and the one way agent changes are audited.

Why a module of its own: `agents` (saving), `agent_publishing` (its rules) and `agent_graph`
(the canvas checks) all need these, and `agents` needs publishing's rule on save. With these
reads here, each of them imports downward only and no import hides a cycle.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import Agent, AgentConfig, AgentStatus, AgentVersion
from services import audit
from services.access import Actor
from services.errors import NotFound


def visible_agents(actor: Actor) -> SelectOfScalar[Agent]:
    """Every agent read starts here: the actor's organization's agents, nothing else."""
    return select(Agent).where(Agent.org_id == actor.org_id)


def get_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> Agent:
    agent = session.exec(visible_agents(actor).where(Agent.id == agent_id)).first()
    if agent is None:
        raise NotFound("Agent not found.")
    return agent


@dataclass(frozen=True)
class AgentHead:
    """What starting a run reads of its agent: no draft config to load and parse."""

    id: uuid.UUID
    status: AgentStatus
    current_version_id: uuid.UUID | None


def get_agent_head(session: Session, actor: Actor, agent_id: uuid.UUID) -> AgentHead:
    """`get_agent`'s read (the same builder, the same 404), of three columns only: a run's
    start is the platform's hottest write and the agent's draft config is its biggest column."""
    row = session.execute(
        visible_agents(actor)
        .where(Agent.id == agent_id)
        .with_only_columns(col(Agent.id), col(Agent.status), col(Agent.current_version_id))
    ).first()
    if row is None:
        raise NotFound("Agent not found.")
    return AgentHead(*row)


def visible_versions(actor: Actor) -> SelectOfScalar[AgentVersion]:
    """Every agent-version read starts here: versions of the actor's organization only."""
    return select(AgentVersion).where(AgentVersion.org_id == actor.org_id)


_version_configs: dict[uuid.UUID, AgentConfig] = {}


def version_config(session: Session, version_id: uuid.UUID | None) -> AgentConfig | None:
    """A saved version's config (None: no such version), parsed once per process: versions
    never change once saved, and both a run's start and its worker read them on the hot path.
    Not tenant-scoped: callers hold a version id taken from a row they already read so."""
    if version_id is None:
        return None
    config = _version_configs.get(version_id)
    if config is None:
        version = session.get(AgentVersion, version_id)
        if version is None:
            return None
        config = AgentConfig.model_validate(version.config)
        if len(_version_configs) > 4096:
            _version_configs.clear()
        _version_configs[version_id] = config
    return config


def current_config(agent: Agent) -> AgentConfig:
    return AgentConfig.model_validate(agent.config)


def audit_agent(
    session: Session, actor: Actor, action: str, agent_id: uuid.UUID, **details: Any
) -> None:
    """Every agent change is audited the same way (who, from where, which agent)."""
    audit.by_actor(session, actor, action, target_type="agent", target_id=agent_id, **details)
