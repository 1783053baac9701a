"""Publishing an agent: refused while its current config could not run.

The rules are the builder's (`agent_graph.problems`), so the canvas, the editor's problem list
and the publish button never disagree. A published agent stays publishable: saves and restores
that would break it are refused (`keep_publishable`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlmodel import Session, col, select

from agent_platform.models import Agent, AgentConfig, AgentStatus, AgentVersion, Role
from services import agent_graph
from services.access import Actor, require_role
from services.agent_reads import audit_agent, current_config, get_agent, visible_agents
from services.errors import Invalid
from services.integrations import connections
from services.integrations.providers import PROVIDERS
from services.llm import providers
from services.memory import list_collections
from services.read_scope import where_of
from services.testing.gates import publish_gate_problems
from services.tools.registry import builtin_names


def _agent_targets(config: Mapping[str, Any]) -> list[str]:
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
                where_of(visible_agents(actor)), col(Agent.id).in_(ids)
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
        f"{node.label if (node := graph.node(node_id)) else node_id}: {problem}"
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
    return [
        *config_problems(session, actor, agent, current_config(agent)),
        *publish_gate_problems(session, agent.id, agent.current_version_id),
    ]


def keep_publishable(session: Session, actor: Actor, agent: Agent, config: AgentConfig) -> None:
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
        audit_agent(
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
    audit_agent(session, actor, "agent.unpublished", agent.id)
    return agent
