"""An organization's usage this month against its limits: runs, tokens, cost, seats, agents.

Limits come from `organizations.limits_for` (the tier's numbers with billing on, unlimited
otherwise, an instance admin's override either way); the spend cap is the organization's own.
One read for the usage page, the REST API and anything else that shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, col, func, select

from agent_platform.models import Agent, AgentStatus, Execution, ExecutionStatus
from services import organizations, spend
from services.access import Actor
from services.money import format_money
from services.plan_limits import next_tier, tier_name
from services.read_scope import where_of
from services.run_reads import visible_runs

UNLIMITED = "unlimited"


@dataclass(frozen=True)
class Meter:
    """One line of the usage page: what is used of what is allowed (-1: unlimited)."""

    key: str
    label: str
    used: int
    limit: int

    @property
    def limit_text(self) -> str:
        return UNLIMITED if self.limit < 0 else f"{self.limit:,}"

    @property
    def percent(self) -> int | None:
        """Share of the limit used, 0–100 (None: unlimited; a limit of 0 counts as full)."""
        if self.limit < 0:
            return None
        if self.limit == 0:
            return 100
        return min(100, self.used * 100 // self.limit)


@dataclass(frozen=True)
class Usage:
    month: str  # "2026-12"
    tier: str
    plans_enabled: bool
    next_tier: str | None  # with plans on: the tier to upgrade to (None: the top one)
    meters: list[Meter]  # runs this month, runs at once, agents, seats
    tokens: int
    cost: Decimal
    test_runs: int  # this month's test-suite runs (counted in cost, not in the run limit)
    spend_cap: Decimal | None

    @property
    def cost_text(self) -> str:
        return format_money(self.cost)

    @property
    def spend_percent(self) -> int | None:
        if self.spend_cap is None:
            return None
        return min(100, int(self.cost * 100 / self.spend_cap))


def usage_of(session: Session, actor: Actor) -> Usage:
    """The actor's organization's usage this month (UTC); any member may read it."""
    limits = organizations.tier_limits(session, actor)
    month = spend.month_start()
    in_org = where_of(visible_runs(actor))
    this_month = (in_org, col(Execution.created_at) >= month)
    runs, test_runs, tokens, cost = session.exec(
        select(
            func.count(col(Execution.id)).filter(col(Execution.test_run_id).is_(None)),
            func.count(col(Execution.id)).filter(col(Execution.test_run_id).is_not(None)),
            func.coalesce(func.sum(Execution.tokens_used), 0),
            func.coalesce(func.sum(Execution.cost), 0),
        ).where(*this_month)
    ).one()
    active = session.exec(
        select(func.count()).where(
            in_org,
            col(Execution.status).in_([ExecutionStatus.QUEUED, ExecutionStatus.RUNNING]),
            col(Execution.test_run_id).is_(None),
        )
    ).one()
    agents = session.exec(
        select(func.count()).where(
            Agent.org_id == actor.org_id, Agent.status != AgentStatus.ARCHIVED
        )
    ).one()
    seats = organizations.member_count(session, actor.org_id)
    upgrade = next_tier(limits.tier) if limits.plans_enabled else None
    settings = spend.get_spend_settings(session, actor)
    return Usage(
        month=f"{month:%Y-%m}",
        tier=tier_name(limits.tier),
        plans_enabled=limits.plans_enabled,
        next_tier=tier_name(upgrade) if upgrade else None,
        meters=[
            Meter("runs", "Runs this month", runs, limits.max_runs_per_month),
            Meter("concurrent_runs", "Runs at once", active, limits.max_concurrent_runs),
            Meter("agents", "Agents", agents, limits.max_agents),
            Meter("seats", "Seats (members)", seats, limits.max_members),
        ],
        tokens=int(tokens),
        cost=Decimal(str(cost)),
        test_runs=test_runs,
        spend_cap=settings.monthly_spend_cap_usd,
    )
