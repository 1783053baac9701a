"""Saving the builder's canvas as the agent's next version.

Why a service of its own: the save gate (no node may have a problem that breaks the config)
is a rule, so it lives where the REST API and any other caller find it, not in the builder's
state. `agent_graph` cannot hold it: `agents` imports the graph (through publishing), and
saving needs `agents.update_agent`.
"""

from __future__ import annotations

import uuid

from sqlmodel import Session

from agent_platform.models import AgentVersion
from services import agent_graph, agents
from services.access import Actor
from services.agent_graph import Graph
from services.errors import Invalid


def save_canvas(
    session: Session,
    actor: Actor,
    agent_id: uuid.UUID,
    graph: Graph,
    *,
    based_on: uuid.UUID | None = None,
) -> AgentVersion | None:
    """Save a drawn graph as a new version; None when nothing changed.

    Refused (`Invalid`, naming each marked node) while a node has a problem that would make
    the config wrong; problems that only block publishing (an unconfigured provider, a
    hand-off loop) let a draft be saved.
    """
    targets = [n.name for n in graph.nodes if n.kind == "agent"]
    context = agent_graph.context_for(session, actor, agent_id, targets)
    blocking = agent_graph.problems(graph, context, for_publish=False)
    if blocking:
        labels = {n.id: agent_graph.label_of(n, context) for n in graph.nodes}
        raise Invalid(
            "Fix the marked nodes first: "
            + "; ".join(f"{labels.get(k, k)}: {v}" for k, v in blocking.items())
        )
    agent = agents.get_agent(session, actor, agent_id)
    config = agent_graph.to_config(graph, agents.current_config(agent))
    _agent, version = agents.update_agent(
        session, actor, agent.id, name=agent.name, config=config, based_on=based_on
    )
    return version
