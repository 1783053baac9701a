"""Dashboard figures over REST (/api/v1/dashboard): the same figures as the dashboard page —
runs by status and bucket, success rate, latency percentiles, tokens, cost by model and
provider, top agents, recent failures — for the organization or one of its agents.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services import dashboard
from services.dashboard import DashboardData, RangeKey

from .v1 import ApiActor, RequestSession

router = APIRouter(prefix="/api/v1", tags=["dashboard"])


@router.get("/dashboard", response_model=DashboardData)
def dashboard_figures(
    session: RequestSession,
    actor: ApiActor,
    range_key: Annotated[RangeKey, Query(alias="range", description="24h, 7d or 30d")] = "7d",
    agent_id: Annotated[uuid.UUID | None, Query(description="one agent; empty: all")] = None,
) -> DashboardData:
    """Money is a decimal string; `cost` counts priced calls only (see `unpriced_calls`)."""
    return dashboard.summary(session, actor, range_key=range_key, agent_id=agent_id)
