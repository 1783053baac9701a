"""The agent list as a query the REST API pages through by cursor (newest first).

The builder's library (`agents.browse_agents`) sorts by last run or name and pages by offset;
an API client walking every agent needs a stable order instead, so this returns the filtered
query and the caller adds the cursor. Same filters, same meaning: no status asked for means
every agent that is not archived.
"""

from __future__ import annotations

from sqlmodel import col, or_
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import Agent, AgentStatus
from services.access import Actor
from services.agent_reads import visible_agents


def agent_list_query(
    actor: Actor, *, search: str = "", status: AgentStatus | None = None
) -> SelectOfScalar[Agent]:
    query = visible_agents(actor)
    search = search.strip()
    if search:
        query = query.where(
            or_(
                col(Agent.name).icontains(search, autoescape=True),
                col(Agent.description).icontains(search, autoescape=True),
            )
        )
    if status is None:
        return query.where(col(Agent.status) != AgentStatus.ARCHIVED)
    return query.where(col(Agent.status) == status)
