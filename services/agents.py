"""Agents and their immutable versions: every save of a changed config makes a new version."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, func, select

from agent_platform.models import (
    Agent,
    AgentConfig,
    AgentStatus,
    AgentVersion,
    Integration,
    Role,
    ToolRef,
)
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor, require_role
from services.errors import Invalid, NotFound
from services.organizations import limits_for
from services.validation import parse


class AgentInput(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)


def validate_config(data: dict[str, Any]) -> AgentConfig:
    """Parse a config; the error names the exact field (e.g. `config.temperature`)."""
    return parse(AgentConfig, data)


def _visible(actor: Actor):  # type: ignore[no-untyped-def]
    return select(Agent).where(Agent.org_id == actor.org_id)


def get_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> Agent:
    agent = session.exec(_visible(actor).where(Agent.id == agent_id)).first()
    if agent is None:
        raise NotFound("Agent not found.")
    return agent


def list_agents(
    session: Session,
    actor: Actor,
    *,
    search: str = "",
    status: AgentStatus | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Agent], int]:
    query = _visible(actor)
    if search:
        query = query.where(col(Agent.name).ilike(f"%{search.strip()}%"))
    if status is not None:
        query = query.where(Agent.status == status)
    else:
        query = query.where(Agent.status != AgentStatus.ARCHIVED)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(col(Agent.updated_at).desc()).offset(offset).limit(min(limit, 200))
    ).all()
    return list(rows), total


def _check_agent_limit(session: Session, org_id: uuid.UUID) -> None:
    limits = limits_for(session, org_id)
    if limits is None or limits.max_agents < 0:
        return
    count = session.exec(
        select(func.count()).where(Agent.org_id == org_id, Agent.status != AgentStatus.ARCHIVED)
    ).one()
    if count >= limits.max_agents:
        raise Invalid(f"Your plan allows {limits.max_agents} agents; archive one or upgrade.")


def _check_agent_tools(session: Session, actor: Actor, config: AgentConfig) -> AgentConfig:
    """Agent tools must name agents of this organization; their label follows the agent's name.
    Integration grants must name a connection of this organization and one of its provider's
    actions; the provider and connection name are copied in so a run needs no lookup."""
    for ref in config.tools:
        if ref.kind == "integration":
            _check_grant(session, actor, ref)
        if ref.kind != "agent":
            continue
        try:
            other = session.get(Agent, uuid.UUID(ref.name))
        except ValueError:
            other = None
        if other is None or other.org_id != actor.org_id:
            raise Invalid(
                f"Tool agent {ref.name!r} does not exist.", fields={"tools": "Unknown agent"}
            )
        ref.settings = {**ref.settings, "label": other.name}
    return config


def _check_grant(session: Session, actor: Actor, ref: ToolRef) -> None:
    from services.integrations.providers import find_action

    try:
        row = session.get(Integration, uuid.UUID(str(ref.settings.get("connection"))))
    except ValueError:
        row = None
    if row is None or row.org_id != actor.org_id:
        raise Invalid(
            f"The connection granted for {ref.name!r} does not exist.",
            fields={"tools": "Unknown connection"},
        )
    if find_action(row.provider, ref.name) is None:
        raise Invalid(
            f"{ref.name!r} is not an action of the {row.provider} connection {row.name!r}.",
            fields={"tools": "Unknown action"},
        )
    extra = set(ref.settings) - {"connection", "approval", "provider", "connection_name"}
    if extra:
        raise Invalid(
            f"Unknown grant setting(s) for {ref.name!r}: {', '.join(sorted(extra))}",
            fields={"tools": "Unknown grant setting"},
        )
    ref.settings = {
        "connection": str(row.id),
        "provider": row.provider,
        "connection_name": row.name,
        "approval": bool(ref.settings.get("approval", False)),
    }


def _new_version(session: Session, actor: Actor, agent: Agent, config: AgentConfig) -> AgentVersion:
    latest = session.exec(
        select(func.max(AgentVersion.version)).where(AgentVersion.agent_id == agent.id)
    ).one()
    version = AgentVersion(
        agent_id=agent.id,
        org_id=agent.org_id,
        version=(latest or 0) + 1,
        config=config.model_dump(mode="json"),
        created_by_id=actor.user_id,
    )
    session.add(version)
    session.flush()
    agent.current_version_id = version.id
    agent.config = version.config
    agent.updated_at = utcnow()
    session.add(agent)
    return version


def create_agent(
    session: Session,
    actor: Actor,
    *,
    name: str,
    description: str = "",
    config: dict[str, Any] | None = None,
) -> Agent:
    require_role(actor, Role.BUILDER)
    data = parse(AgentInput, {"name": name.strip(), "description": description})
    parsed = _check_agent_tools(session, actor, validate_config(config or {}))
    _check_agent_limit(session, actor.org_id)
    agent = Agent(
        org_id=actor.org_id,
        name=data.name,
        description=data.description,
        config={},
        created_by_id=actor.user_id,
    )
    session.add(agent)
    session.flush()
    _new_version(session, actor, agent, parsed)
    audit.record(
        session,
        "agent.created",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="agent",
        target_id=agent.id,
    )
    return agent


def update_agent(
    session: Session,
    actor: Actor,
    agent_id: uuid.UUID,
    *,
    name: str | None = None,
    description: str | None = None,
    config: dict[str, Any] | None = None,
) -> tuple[Agent, AgentVersion | None]:
    """Returns the agent and the new version, or None when the config did not change."""
    require_role(actor, Role.BUILDER)
    agent = get_agent(session, actor, agent_id)
    if name is not None or description is not None:
        data = parse(
            AgentInput,
            {
                "name": (name if name is not None else agent.name).strip(),
                "description": description if description is not None else agent.description,
            },
        )
        agent.name, agent.description = data.name, data.description
        agent.updated_at = utcnow()
        session.add(agent)
    version = None
    if config is not None:
        parsed = _check_agent_tools(session, actor, validate_config(config))
        if parsed.model_dump(mode="json") != agent.config:
            version = _new_version(session, actor, agent, parsed)
    return agent, version


def current_config(agent: Agent) -> AgentConfig:
    return AgentConfig.model_validate(agent.config)


def list_versions(session: Session, actor: Actor, agent_id: uuid.UUID) -> list[AgentVersion]:
    get_agent(session, actor, agent_id)
    return list(
        session.exec(
            select(AgentVersion)
            .where(AgentVersion.agent_id == agent_id, AgentVersion.org_id == actor.org_id)
            .order_by(col(AgentVersion.version).desc())
        ).all()
    )


def archive_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> Agent:
    require_role(actor, Role.BUILDER)
    agent = get_agent(session, actor, agent_id)
    agent.status = AgentStatus.ARCHIVED
    agent.archived_at = utcnow()
    session.add(agent)
    return agent


def delete_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> None:
    """Runs are kept (their agent reference becomes empty)."""
    require_role(actor, Role.ADMIN)
    agent = get_agent(session, actor, agent_id)
    agent.current_version_id = None
    session.add(agent)
    session.flush()
    session.delete(agent)
    audit.record(
        session,
        "agent.deleted",
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="agent",
        target_id=agent_id,
    )
