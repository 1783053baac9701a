"""Agents and their immutable versions: every save of a changed config makes a new version.

Also the agent library (list with last run, duplicate, archive, delete), version history with
diffs and restore, and publishing — refused while the current config could not run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, col, func, or_, select

from agent_platform.models import (
    Agent,
    AgentConfig,
    AgentStatus,
    AgentVersion,
    Execution,
    Integration,
    Role,
    ToolRef,
    User,
)
from agent_platform.models.base import utcnow
from services import agent_graph, audit
from services.access import Actor, require_role
from services.errors import Invalid, NotFound
from services.organizations import limits_for
from services.validation import parse

AgentSort = Literal["last_run", "edited", "name"]
DiffKind = Literal["added", "removed", "changed", "same"]


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
    filters = [Agent.org_id == actor.org_id]
    if query.search:
        filters.append(
            or_(
                col(Agent.name).icontains(query.search, autoescape=True),
                col(Agent.description).icontains(query.search, autoescape=True),
            )
        )
    if query.status is not None:
        filters.append(Agent.status == query.status)
    else:
        filters.append(Agent.status != AgentStatus.ARCHIVED)
    total = session.exec(select(func.count()).select_from(Agent).where(*filters)).one()
    # agent_id alone scopes the runs: an agent's runs are always in the agent's organization
    last_run = (
        select(func.max(Execution.created_at))
        .where(Execution.agent_id == Agent.id)
        .correlate(Agent)
        .scalar_subquery()
    )
    order = {
        "last_run": [last_run.desc().nulls_last(), col(Agent.updated_at).desc()],
        "edited": [col(Agent.updated_at).desc()],
        "name": [func.lower(Agent.name)],
    }[query.sort]
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
            _keep_publishable(session, actor, agent, parsed)
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


def _audit(
    session: Session, actor: Actor, action: str, agent_id: uuid.UUID, **details: Any
) -> None:
    audit.record(
        session,
        action,
        org_id=actor.org_id,
        actor_id=actor.user_id,
        target_type="agent",
        target_id=agent_id,
        client_ip=actor.client_ip,
        **details,
    )


def archive_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> Agent:
    """Archived agents cannot run and leave the default list; their versions and runs stay."""
    require_role(actor, Role.BUILDER)
    agent = get_agent(session, actor, agent_id)
    if agent.status == AgentStatus.ARCHIVED:
        return agent
    agent.status = AgentStatus.ARCHIVED
    agent.archived_at = utcnow()
    session.add(agent)
    _audit(session, actor, "agent.archived", agent.id)
    return agent


def unarchive_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> Agent:
    """Back as a draft, never straight to published: the org may have changed meanwhile
    (providers, connections), so publishing is checked again. Counts against the plan."""
    require_role(actor, Role.BUILDER)
    agent = get_agent(session, actor, agent_id)
    if agent.status != AgentStatus.ARCHIVED:
        return agent
    _check_agent_limit(session, actor.org_id)
    agent.status = AgentStatus.DRAFT
    agent.archived_at = None
    agent.updated_at = utcnow()
    session.add(agent)
    _audit(session, actor, "agent.unarchived", agent.id)
    return agent


def delete_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> None:
    """Runs are kept (executions.agent_id is ON DELETE SET NULL; they show "(deleted agent)")."""
    require_role(actor, Role.ADMIN)
    agent = get_agent(session, actor, agent_id)
    agent.current_version_id = None
    session.add(agent)
    session.flush()
    session.delete(agent)
    _audit(session, actor, "agent.deleted", agent_id, name=agent.name)


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


# --- versions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    version: int
    created_at: datetime
    author_name: str  # empty when the author's account is gone
    author_email: str
    model: str
    current: bool


def version_history(
    session: Session, actor: Actor, agent_id: uuid.UUID, *, limit: int = 50
) -> list[VersionInfo]:
    """Newest first, with who saved each version (one query, authors joined in)."""
    agent = get_agent(session, actor, agent_id)
    rows = session.exec(
        select(AgentVersion, User.name, User.email)
        .outerjoin(User, col(User.id) == AgentVersion.created_by_id)
        .where(AgentVersion.agent_id == agent.id, AgentVersion.org_id == actor.org_id)
        .order_by(col(AgentVersion.version).desc())
        .limit(max(1, min(limit, 500)))
    ).all()
    return [
        VersionInfo(
            version=v.version,
            created_at=v.created_at,
            author_name=name or "",
            author_email=email or "",
            model=str(v.config.get("model", "")),
            current=v.id == agent.current_version_id,
        )
        for v, name, email in rows
    ]


def get_version(session: Session, actor: Actor, agent_id: uuid.UUID, number: int) -> AgentVersion:
    agent = get_agent(session, actor, agent_id)
    version = session.exec(
        select(AgentVersion).where(
            AgentVersion.agent_id == agent.id,
            AgentVersion.org_id == actor.org_id,
            AgentVersion.version == number,
        )
    ).first()
    if version is None:
        raise NotFound(f"Version {number} not found.")
    return version


@dataclass(frozen=True)
class DiffRow:
    path: str  # dotted, e.g. "memory.window", "tools[builtin:calculator]"
    old: Any  # None when the field is absent on that side
    new: Any
    kind: DiffKind


def _tool_key(tool: dict[str, Any]) -> str:
    """Tools are a set, compared by (kind, name); a grant also names its connection, since
    the same action may be granted on two connections."""
    key = f"{tool.get('kind', 'builtin')}:{tool.get('name', '')}"
    if tool.get("kind") == "integration":
        settings = tool.get("settings") or {}
        key += f"@{settings.get('connection_name') or settings.get('connection', '')}"
    return key


# settings copied in at save time (labels, names): already in a tool's summary row
COPIED = {"label", "provider", "connection_name"}


def _tool_summary(tool: dict[str, Any]) -> str:
    settings = tool.get("settings") or {}
    if tool.get("kind") == "agent":
        return f"hand-off to {settings.get('label') or tool.get('name')}"
    if tool.get("kind") == "integration":
        return f"{tool.get('name')} on {settings.get('connection_name') or 'a connection'}"
    return str(tool.get("name", ""))


def flatten_config(config: dict[str, Any]) -> dict[str, Any]:
    """Leaves by dotted path; lists stay one value (except tools, keyed by (kind, name)),
    None leaves are left out so "not set" and "absent" read the same."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif value is not None:
            flat[prefix] = value

    for key, value in config.items():
        if key == "tools" and isinstance(value, list):
            for tool in value:
                path = f"tools[{_tool_key(tool)}]"
                while path in flat:  # the same tool listed twice stays visible
                    path += "+"
                flat[path] = _tool_summary(tool)
                settings = tool.get("settings") or {}
                walk(f"{path}.settings", {k: v for k, v in settings.items() if k not in COPIED})
        else:
            walk(key, value)
    return flat


def diff_configs(
    old: dict[str, Any], new: dict[str, Any], *, include_same: bool = False
) -> list[DiffRow]:
    """Rows in config field order (then by path); unchanged ones only with `include_same`,
    for a side-by-side view of the whole config."""
    before, after = flatten_config(old), flatten_config(new)
    fields = list(AgentConfig.model_fields)

    def rank(path: str) -> int:
        head = path.split(".")[0].split("[")[0]
        return fields.index(head) if head in fields else len(fields)

    paths = sorted(before.keys() | after.keys(), key=lambda path: (rank(path), path))
    rows: list[DiffRow] = []
    for path in paths:
        if path not in after:
            rows.append(DiffRow(path, before[path], None, "removed"))
        elif path not in before:
            rows.append(DiffRow(path, None, after[path], "added"))
        elif before[path] != after[path]:
            rows.append(DiffRow(path, before[path], after[path], "changed"))
        elif include_same:
            rows.append(DiffRow(path, before[path], after[path], "same"))
    return rows


def diff_versions(
    session: Session,
    actor: Actor,
    agent_id: uuid.UUID,
    a: int,
    b: int,
    *,
    include_same: bool = False,
) -> list[DiffRow]:
    """What changed from version `a` to version `b` of one agent (old = a, new = b)."""
    old = get_version(session, actor, agent_id, a)
    new = get_version(session, actor, agent_id, b)
    return diff_configs(old.config, new.config, include_same=include_same)


def restore_version(
    session: Session, actor: Actor, agent_id: uuid.UUID, number: int
) -> AgentVersion:
    """Makes an old config current again as a NEW version: history is never rewritten, and
    runs keep pointing at the versions they used. The old config is checked like any save
    (a connection it granted may be gone since)."""
    require_role(actor, Role.BUILDER)
    agent = get_agent(session, actor, agent_id)
    old = get_version(session, actor, agent_id, number)
    parsed = _check_agent_tools(session, actor, validate_config(dict(old.config)))
    if parsed.model_dump(mode="json") == agent.config:
        raise Invalid(f"Version {number} is already the current configuration.")
    _keep_publishable(session, actor, agent, parsed)
    version = _new_version(session, actor, agent, parsed)
    _audit(
        session, actor, "agent.version_restored", agent.id, restored=number, version=version.version
    )
    return version


# --- publishing -------------------------------------------------------------------------------


def _agent_targets(config: dict[str, Any]) -> list[str]:
    return [
        str(t.get("name"))
        for t in config.get("tools", [])
        if isinstance(t, dict) and t.get("kind") == "agent"
    ]


def _publish_context(
    session: Session, actor: Actor, agent: Agent, config: AgentConfig
) -> tuple[agent_graph.Context, set[str]]:
    """The builder's `Context`, with only the agents reachable by hand-offs read (however
    many agents the org has), and the ids of those that are archived."""
    from services.integrations import connections
    from services.integrations.providers import PROVIDERS
    from services.llm import providers
    from services.memory import list_collections
    from services.tools.registry import builtin_names

    names: dict[str, str] = {str(agent.id): agent.name}
    hand_offs: dict[str, list[str]] = {}
    archived: set[str] = set()
    asked: set[str] = {str(agent.id)}
    frontier = {t.name for t in config.tools if t.kind == "agent"} - asked
    while frontier:
        asked |= frontier
        ids: list[uuid.UUID] = []
        for raw in frontier:
            try:
                ids.append(uuid.UUID(raw))
            except ValueError:
                continue
        found = session.exec(
            select(Agent.id, Agent.name, Agent.config, Agent.status).where(
                Agent.org_id == actor.org_id, col(Agent.id).in_(ids)
            )
        ).all()
        frontier = set()
        for other_id, name, other_config, status in found:
            key = str(other_id)
            names[key] = name
            hand_offs[key] = _agent_targets(other_config or {})
            if status == AgentStatus.ARCHIVED:
                archived.add(key)
            frontier |= set(hand_offs[key]) - asked
    context = agent_graph.Context(
        agent_id=str(agent.id),
        providers=providers.configured_names(session, actor.org_id),
        builtins=set(builtin_names()),
        collections={c.name for c in list_collections(session, actor)},
        connections={
            str(c.id): (c.name, c.provider) for c in connections.list_connections(session, actor)
        },
        actions={key: {a.name for a in p.actions} for key, p in PROVIDERS.items()},
        agents=names,
        hand_offs=hand_offs,
    )
    return context, archived


def config_problems(session: Session, actor: Actor, agent: Agent, config: AgentConfig) -> list[str]:
    """Why `config` could not be published for `agent`. The per-node rules are the builder's
    (`agent_graph.problems`), so the canvas and this list never disagree; added here: a
    knowledge search with nothing to search, and hand-offs to archived agents."""
    context, archived = _publish_context(session, actor, agent, config)
    graph = agent_graph.to_graph(config, context)
    found = [
        f"{graph.node(node_id).label if graph.node(node_id) else node_id}: {problem}"
        for node_id, problem in agent_graph.problems(graph, context).items()
    ]
    names = {t.name for t in config.tools if t.kind == "builtin"}
    if "knowledge_search" in names and not config.memory.collections:
        found.append(
            "Knowledge: this agent searches a knowledge base but has none; create a collection "
            "(Knowledge) and tick it here."
        )
    for ref in config.tools:
        if ref.kind == "agent" and ref.name in archived:
            found.append(f"{context.agents[ref.name]}: this agent is archived; it cannot run.")
    return found


def publish_problems(session: Session, actor: Actor, agent_id: uuid.UUID) -> list[str]:
    """Why the agent's current config cannot be published; empty when it can."""
    agent = get_agent(session, actor, agent_id)
    return config_problems(session, actor, agent, current_config(agent))


def _keep_publishable(session: Session, actor: Actor, agent: Agent, config: AgentConfig) -> None:
    """A published agent stays publishable: a change that would break it is refused rather
    than silently unpublishing it; unpublish first to work on it as a draft."""
    if agent.status != AgentStatus.PUBLISHED:
        return
    found = config_problems(session, actor, agent, config)
    if found:
        raise Invalid(
            "This agent is published and the change would break it: "
            + "; ".join(found)
            + ". Fix that, or unpublish the agent first.",
            fields={"config": "Not publishable"},
        )


def publish_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> Agent:
    require_role(actor, Role.BUILDER)
    agent = get_agent(session, actor, agent_id)
    if agent.status == AgentStatus.ARCHIVED:
        raise Invalid("This agent is archived; unarchive it before publishing.")
    found = publish_problems(session, actor, agent_id)
    if found:
        raise Invalid("Not ready to publish: " + "; ".join(found))
    if agent.status != AgentStatus.PUBLISHED:
        agent.status = AgentStatus.PUBLISHED
        session.add(agent)
        version = (
            session.get(AgentVersion, agent.current_version_id)
            if agent.current_version_id
            else None
        )
        _audit(
            session,
            actor,
            "agent.published",
            agent.id,
            version=version.version if version else None,
        )
    return agent


def unpublish_agent(session: Session, actor: Actor, agent_id: uuid.UUID) -> Agent:
    require_role(actor, Role.BUILDER)
    agent = get_agent(session, actor, agent_id)
    if agent.status != AgentStatus.PUBLISHED:
        raise Invalid("This agent is not published.")
    agent.status = AgentStatus.DRAFT
    session.add(agent)
    _audit(session, actor, "agent.unpublished", agent.id)
    return agent
