"""Agents and their immutable versions: every save of a changed config makes a new version.

Also the agent library (list with last run, duplicate, archive, delete). Version history, diffs
and restore live in `agent_versions`, publishing in `agent_publishing`; the reads they all
share (`get_agent`, `current_config`, `audit_agent`) live in `agent_reads`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement
from sqlmodel import Session, col, func, or_, select

from agent_platform.models import (
    Agent,
    AgentConfig,
    AgentStatus,
    AgentVersion,
    Execution,
    Integration,
    Organization,
    ToolRef,
)
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor, Permission, require
from services.agent_publishing import keep_publishable
from services.agent_reads import audit_agent as audit_agent
from services.agent_reads import current_config as current_config
from services.agent_reads import get_agent as get_agent
from services.agent_reads import visible_agents
from services.errors import Conflict, Invalid
from services.integrations import connections
from services.integrations.providers import find_action
from services.organizations import limits_for
from services.plan_limits import limit_reached
from services.read_scope import where_of
from services.testing.gates import run_on_new_version
from services.validation import parse

AgentSort = Literal["last_run", "edited", "name"]


class AgentInput(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)


def validate_config(data: dict[str, Any]) -> AgentConfig:
    """Parse a config; the error names the exact field (e.g. `config.temperature`)."""
    return parse(AgentConfig, data)


class AgentListQuery(BaseModel):
    search: str = Field(default="", max_length=200)
    status: AgentStatus | None = None
    sort: AgentSort = "edited"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=50, ge=1, le=200)


@dataclass(frozen=True)
class AgentListing:
    agent: Agent
    last_run_at: datetime | None


def browse_agents(
    session: Session,
    actor: Actor,
    *,
    search: str = "",
    status: AgentStatus | None = None,
    sort: str = "edited",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[AgentListing], int]:
    """One page of agents with each one's last run, and the total matching.

    The last run is a correlated `max(created_at)` per agent: with the (agent_id, created_at)
    index that is one index probe per agent, so sorting 1,000 agents by it never reads the
    runs themselves. No status means "not archived" (archived agents are asked for by name).
    """
    query = parse(
        AgentListQuery,
        {
            "search": search.strip(),
            "status": status,
            "sort": sort,
            "offset": offset,
            "limit": max(1, min(limit, 200)),
        },
    )
    filters: list[ColumnElement[bool]] = [where_of(visible_agents(actor))]
    if query.search:
        filters.append(
            or_(
                col(Agent.name).icontains(query.search, autoescape=True),
                col(Agent.description).icontains(query.search, autoescape=True),
            )
        )
    if query.status is not None:
        filters.append(col(Agent.status) == query.status)
    else:
        filters.append(col(Agent.status) != AgentStatus.ARCHIVED)
    total = session.exec(select(func.count()).select_from(Agent).where(*filters)).one()
    # agent_id alone scopes the runs: an agent's runs are always in the agent's organization
    last_run = (
        select(func.max(Execution.created_at))
        .where(Execution.agent_id == Agent.id)
        .correlate(Agent)
        .scalar_subquery()
    )
    orders: dict[str, list[ColumnElement[Any]]] = {
        "last_run": [last_run.desc().nulls_last(), col(Agent.updated_at).desc()],
        "edited": [col(Agent.updated_at).desc()],
        "name": [func.lower(Agent.name)],
    }
    order = orders[query.sort]
    rows = session.exec(
        select(Agent, last_run)
        .where(*filters)
        .order_by(*order, col(Agent.id))
        .offset(query.offset)
        .limit(query.limit)
    ).all()
    return [AgentListing(agent, last) for agent, last in rows], total


def list_agents(
    session: Session,
    actor: Actor,
    *,
    search: str = "",
    status: AgentStatus | None = None,
    sort: str = "edited",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Agent], int]:
    found, total = browse_agents(
        session, actor, search=search, status=status, sort=sort, offset=offset, limit=limit
    )
    return [row.agent for row in found], total


def _check_agent_limit(session: Session, org_id: uuid.UUID) -> None:
    """Counted under a lock on the organization's row, so two creations at the last free
    place cannot both count one agent less than there will be (PostgreSQL; on SQLite the
    second writer cannot commit on a snapshot older than the first's insert)."""
    limits = limits_for(session, org_id)
    if limits is None or limits.max_agents < 0:
        return
    session.get(Organization, org_id, with_for_update=True, populate_existing=True)
    count = session.exec(
        select(func.count()).where(Agent.org_id == org_id, Agent.status != AgentStatus.ARCHIVED)
    ).one()
    if count >= limits.max_agents:
        raise Invalid(
            limit_reached(
                limits,
                allows=f"{limits.max_agents:,} agents",
                more="more agents",
                instead="Archive one",
            )
        )


def check_agent_tools(
    session: Session, actor: Actor, config: AgentConfig, *, current: dict[str, Any] | None = None
) -> AgentConfig:
    """Agent tools must name agents of this organization; their label follows the agent's name.
    Integration grants must name a connection of this organization and one of its provider's
    actions; the provider and connection name are copied in so a run needs no lookup. A grant
    not in `current` (the agent's config before this save) must be one the actor may make."""
    before = _granted(current)
    for ref in config.tools:
        if ref.kind == "integration":
            _check_grant(session, actor, ref, before)
        if ref.kind != "agent":
            continue
        try:
            other = session.exec(
                visible_agents(actor).where(Agent.id == uuid.UUID(ref.name))
            ).first()
        except ValueError:
            other = None
        if other is None:
            raise Invalid(
                f"Tool agent {ref.name!r} does not exist.", fields={"tools": "Unknown agent"}
            )
        ref.settings = {**ref.settings, "label": other.name}
    return config


def _granted(config: dict[str, Any] | None) -> set[tuple[str, str]]:
    """(connection id, action) pairs an agent's config already grants."""
    tools = (config or {}).get("tools") or []
    return {
        (str((t.get("settings") or {}).get("connection")), str(t.get("name")))
        for t in tools
        if isinstance(t, dict) and t.get("kind") == "integration"
    }


def _check_grant(
    session: Session, actor: Actor, ref: ToolRef, before: set[tuple[str, str]]
) -> None:
    try:
        connection_id = uuid.UUID(str(ref.settings.get("connection")))
    except ValueError:
        connection_id = None
    row = (
        session.exec(
            connections.visible_connections(actor).where(Integration.id == connection_id)
        ).first()
        if connection_id
        else None
    )
    if row is None:
        raise Invalid(
            f"The connection granted for {ref.name!r} does not exist.",
            fields={"tools": "Unknown connection"},
        )
    if (str(row.id), ref.name) not in before:
        connections.check_may_grant(actor, row)
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


def new_version(session: Session, actor: Actor, agent: Agent, config: AgentConfig) -> AgentVersion:
    """The one place a version is written (create, save, restore), so numbering and the agent's
    copy of its current config cannot drift apart. Callers check the config first."""
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
    run_on_new_version(session, actor, agent.id, version.id)
    return version


def create_agent(
    session: Session,
    actor: Actor,
    *,
    name: str,
    description: str = "",
    config: dict[str, Any] | None = None,
) -> Agent:
    require(actor, Permission.AGENTS_WRITE)
    data = parse(AgentInput, {"name": name.strip(), "description": description})
    parsed = check_agent_tools(session, actor, validate_config(config or {}))
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
    new_version(session, actor, agent, parsed)
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
    based_on: uuid.UUID | None = None,
) -> tuple[Agent, AgentVersion | None]:
    """Returns the agent and the new version, or None when the config did not change.

    `based_on` is the version the editor loaded: if another editor (the canvas, the form,
    another tab) saved since, the save is refused instead of silently undoing that work. The
    agent row is locked (PostgreSQL) so two saves cannot both become version N+1.

    A published agent must stay publishable; that check is publishing's (it needs the
    builder's graph rules), which builds on `agent_reads`, not on this module.
    """
    require(actor, Permission.AGENTS_WRITE)
    agent = get_agent(session, actor, agent_id)
    session.exec(select(Agent.id).where(Agent.id == agent.id).with_for_update()).first()
    session.refresh(agent)
    if based_on is not None and agent.current_version_id != based_on:
        raise Conflict(
            "This agent was saved elsewhere since you opened it (another tab or the other "
            "editor). Reload to see the latest version, then make your change again."
        )
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
        parsed = check_agent_tools(session, actor, validate_config(config), current=agent.config)
        if parsed.model_dump(mode="json") != agent.config:
            keep_publishable(session, actor, agent, parsed)
            version = new_version(session, actor, agent, parsed)
    return agent, version


def archive_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> Agent:
    """Archived agents cannot run and leave the default list; their versions and runs stay."""
    require(actor, Permission.AGENTS_WRITE)
    agent = get_agent(session, actor, agent_id)
    if agent.status == AgentStatus.ARCHIVED:
        return agent
    agent.status = AgentStatus.ARCHIVED
    agent.archived_at = utcnow()
    session.add(agent)
    audit_agent(session, actor, "agent.archived", agent.id)
    return agent


def unarchive_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> Agent:
    """Back as a draft, never straight to published: the org may have changed meanwhile
    (providers, connections), so publishing is checked again. Counts against the plan."""
    require(actor, Permission.AGENTS_WRITE)
    agent = get_agent(session, actor, agent_id)
    if agent.status != AgentStatus.ARCHIVED:
        return agent
    _check_agent_limit(session, actor.org_id)
    agent.status = AgentStatus.DRAFT
    agent.archived_at = None
    agent.updated_at = utcnow()
    session.add(agent)
    audit_agent(session, actor, "agent.unarchived", agent.id)
    return agent


def delete_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> None:
    """Runs are kept (executions.agent_id is ON DELETE SET NULL; they show "(deleted agent)")."""
    require(actor, Permission.AGENTS_DELETE)
    agent = get_agent(session, actor, agent_id)
    agent.current_version_id = None
    session.add(agent)
    session.flush()
    session.delete(agent)
    audit_agent(session, actor, "agent.deleted", agent_id, name=agent.name)


def duplicate_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> Agent:
    """A new draft "<name> (copy)" whose version 1 is the original's current config; it goes
    through `create_agent`, so the copy obeys today's rules (plan limit, existing grants)."""
    original = get_agent(session, actor, agent_id)
    suffix = " (copy)"
    return create_agent(
        session,
        actor,
        name=original.name[: 120 - len(suffix)] + suffix,
        description=original.description,
        config=dict(original.config),
    )
