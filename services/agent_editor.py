"""What the agent editor shows, read in one call.

Why one service: the editor needs the agent and its config, what it may be given (built-in
tools, the connections' actions, other agents, knowledge collections), its versions, why it
cannot be published yet and its latest runs. Read together they come from one transaction,
and the page's state only turns them into what it displays; which tools are offered is
decided here, where a REST view of the editor would find it too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel import Session

from agent_platform.models import Agent, AgentConfig, Execution
from services import agent_publishing, agent_versions, agents, runs
from services.access import Actor
from services.agent_versions import VersionInfo
from services.integrations import connections
from services.integrations.catalog import Action
from services.integrations.providers import PROVIDERS
from services.memory import list_collections
from services.tools.registry import builtin_names

RECENT_RUNS = 5
OTHER_AGENTS = 200  # hand-off choices shown; the builder finds any agent by its graph
# Added to a run by its knowledge collections; offered by hand only to keep an old choice.
IMPLIED_TOOL = "knowledge_search"


@dataclass(frozen=True)
class GrantChoice:
    """One action of one of the organization's connections, which the agent may be given."""

    connection_id: uuid.UUID
    connection_name: str
    action: Action
    provider: str = ""


@dataclass(frozen=True)
class EditorView:
    agent: Agent
    config: AgentConfig
    builtin_tools: list[str]
    grant_choices: list[GrantChoice]
    other_agents: list[Agent]
    collections: list[str]
    versions: list[VersionInfo]
    publish_problems: list[str]
    recent_runs: list[Execution]


def grant_choices(session: Session, actor: Actor) -> list[GrantChoice]:
    """Every action of every connection of the organization: what an agent may be given."""
    return [
        GrantChoice(
            connection_id=row.id, connection_name=row.name, action=action, provider=row.provider
        )
        for row in connections.list_connections(session, actor)
        if row.provider in PROVIDERS
        for action in PROVIDERS[row.provider].actions
    ]


def editor_view(session: Session, actor: Actor, agent_id: uuid.UUID) -> EditorView:
    """The agent (NotFound for another organization's) and everything its editor offers."""
    agent = agents.get_agent(session, actor, agent_id)
    config = agents.current_config(agent)
    chosen = {t.name for t in config.tools if t.kind == "builtin"}
    others, _total = agents.list_agents(session, actor, limit=OTHER_AGENTS)
    found, _total = runs.list_runs(
        session, actor, filters=runs.RunFilter(agent_id=agent_id), limit=RECENT_RUNS
    )
    return EditorView(
        agent=agent,
        config=config,
        builtin_tools=[n for n in builtin_names() if n != IMPLIED_TOOL or n in chosen],
        grant_choices=grant_choices(session, actor),
        other_agents=[a for a in others if a.id != agent.id],
        collections=[c.name for c in list_collections(session, actor)],
        versions=agent_versions.version_history(session, actor, agent_id),
        publish_problems=agent_publishing.publish_problems(session, actor, agent_id),
        recent_runs=[run for run, _agent_name in found],
    )
