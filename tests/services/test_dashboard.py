"""Dashboard figures: real database rows (runs and their steps), a fixed "now", two orgs.

Runs are inserted as the runtime leaves them (status, latency, tokens, cost, error, model
steps); the figures must come out the same on PostgreSQL and SQLite.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from agent_platform.models import (
    Agent,
    Execution,
    ExecutionStatus,
    ExecutionStep,
    Organization,
    Role,
    Tier,
)
from agent_platform.redis_client import get_redis
from services import dashboard, dashboard_queries
from services.access import Actor
from services.errors import Invalid, NotFound
from tests.conftest import require_postgres
from tests.factories import add_member, make_user, personal_actor
from tests.services.runtime_helpers import make_agent

NOW = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
S = ExecutionStatus


def make_org(session: Session, name: str = "Ada") -> Actor:
    actor = personal_actor(session, make_user(session, name=name))
    org = session.get(Organization, actor.org_id)
    assert org is not None
    org.tier = Tier.PRO  # room for more than the starter plan's five agents
    session.add(org)
    session.flush()
    return actor


def add_run(
    session: Session,
    actor: Actor,
    agent_id: uuid.UUID | None,
    *,
    ago: timedelta,
    status: ExecutionStatus = S.SUCCEEDED,
    latency_ms: int | None = None,
    tokens: int = 0,
    cost: str = "0",
    error: str | None = None,
    steps: list[tuple[str, str | None, int, str]] | None = None,
    now: datetime = NOW,
) -> uuid.UUID:
    """One run created `ago` before `now`; `steps` are (kind, model, tokens, cost)."""
    created = now - ago
    final = status not in (S.QUEUED, S.RUNNING)
    if latency_ms is None and final and status != S.CANCELLED:
        latency_ms = 1000
    run = Execution(
        org_id=actor.org_id,
        agent_id=agent_id,
        status=status,
        input={"message": "hi"},
        tokens_used=tokens,
        cost=Decimal(cost),
        latency_ms=latency_ms,
        error=error,
        created_at=created,
        started_at=created if status != S.QUEUED else None,
        finished_at=created + timedelta(milliseconds=latency_ms or 0) if final else None,
    )
    session.add(run)
    session.flush()
    for position, (kind, model, step_tokens, step_cost) in enumerate(steps or []):
        session.add(
            ExecutionStep(
                execution_id=run.id,
                position=position,
                kind=kind,
                model=model,
                tokens=step_tokens,
                cost=Decimal(step_cost),
                created_at=created + timedelta(seconds=1),
            )
        )
    session.flush()
    return run.id


def summary(session: Session, actor: Actor, range_key: str = "24h", **kwargs: object):
    session.commit()
    return dashboard.summary(session, actor, range_key=range_key, now=NOW, **kwargs)


@pytest.fixture
def actor(session: Session) -> Actor:
    return make_org(session)


class TestWindow:
    def test_24h_is_the_last_24_whole_hours_including_the_current_one(self) -> None:
        win = dashboard.window("24h", NOW)
        assert win.since == datetime(2026, 11, 19, 16, tzinfo=UTC)
        assert win.until == datetime(2026, 11, 20, 16, tzinfo=UTC)
        assert win.count == 24 and win.start(23) == datetime(2026, 11, 20, 15, tzinfo=UTC)

    def test_7d_and_30d_are_whole_utc_days(self) -> None:
        week = dashboard.window("7d", NOW)
        assert (week.since, week.until) == (
            datetime(2026, 11, 14, tzinfo=UTC),
            datetime(2026, 11, 21, tzinfo=UTC),
        )
        month = dashboard.window("30d", NOW)
        assert month.since == datetime(2026, 10, 22, tzinfo=UTC) and month.count == 30

    def test_unknown_range_is_invalid(self) -> None:
        with pytest.raises(Invalid):
            dashboard.window("1y", NOW)


class TestBuckets:
    def test_runs_are_counted_per_hour_and_status(self, session: Session, actor: Actor) -> None:
        agent = make_agent(session, actor, "Alpha")
        add_run(session, actor, agent, ago=timedelta(minutes=10))
        add_run(session, actor, agent, ago=timedelta(minutes=29), status=S.FAILED)
        add_run(session, actor, agent, ago=timedelta(minutes=1), status=S.RUNNING)
        add_run(session, actor, agent, ago=timedelta(hours=2, minutes=5))  # 13:25 → 13:00
        add_run(session, actor, agent, ago=timedelta(hours=23, minutes=30))  # 16:00, first hour
        add_run(session, actor, agent, ago=timedelta(hours=23, minutes=31))  # 15:59, outside

        data = summary(session, actor)

        assert [b.start.hour for b in data.buckets][:2] == [16, 17] and len(data.buckets) == 24
        current, two_ago, first = data.buckets[-1], data.buckets[-3], data.buckets[0]
        assert current.counts == {
            "queued": 0,
            "running": 1,
            "succeeded": 1,
            "failed": 1,
            "cancelled": 0,
            "timed_out": 0,
        }
        assert two_ago.counts["succeeded"] == 1 and sum(two_ago.counts.values()) == 1
        assert first.counts["succeeded"] == 1 and sum(first.counts.values()) == 1
        assert sum(sum(b.counts.values()) for b in data.buckets) == 5 == data.total_runs
        assert data.by_status["succeeded"] == 3 and data.by_status["running"] == 1

    def test_7d_buckets_are_days(self, session: Session, actor: Actor) -> None:
        agent = make_agent(session, actor, "Alpha")
        add_run(session, actor, agent, ago=timedelta(hours=15))  # 00:30 today
        add_run(session, actor, agent, ago=timedelta(hours=16))  # 23:30 yesterday
        add_run(session, actor, agent, ago=timedelta(days=6, hours=15))  # first day, 00:30
        add_run(session, actor, agent, ago=timedelta(days=6, hours=16))  # day before: outside

        data = summary(session, actor, "7d")

        assert [sum(b.counts.values()) for b in data.buckets] == [1, 0, 0, 0, 0, 1, 1]
        assert data.buckets[0].start == datetime(2026, 11, 14, tzinfo=UTC)
        assert data.bucket_seconds == 86400


class TestTotals:
    def test_success_rate_leaves_out_cancelled_and_active_runs(
        self, session: Session, actor: Actor
    ) -> None:
        agent = make_agent(session, actor, "Alpha")
        for status in [S.SUCCEEDED] * 3 + [S.FAILED, S.CANCELLED, S.QUEUED, S.RUNNING]:
            add_run(session, actor, agent, ago=timedelta(hours=1), status=status)
        add_run(session, actor, agent, ago=timedelta(hours=1), status=S.TIMED_OUT)

        data = summary(session, actor)

        assert data.success_rate == pytest.approx(3 / 5)
        assert data.total_runs == 8

    def test_tokens_and_cost_are_summed_over_the_window(
        self, session: Session, actor: Actor
    ) -> None:
        agent = make_agent(session, actor, "Alpha")
        add_run(session, actor, agent, ago=timedelta(hours=1), tokens=120, cost="0.010001")
        add_run(session, actor, agent, ago=timedelta(hours=2), tokens=80, cost="0.2")
        add_run(session, actor, agent, ago=timedelta(days=2), tokens=999, cost="9")

        day = summary(session, actor)
        week = summary(session, actor, "7d")

        assert (day.tokens, day.cost) == (200, Decimal("0.210001"))
        assert (week.tokens, week.cost) == (1199, Decimal("9.210001"))

    def test_empty_org_has_zeros_and_no_rates(self, session: Session, actor: Actor) -> None:
        data = summary(session, actor, "30d")
        assert data.total_runs == 0 and data.tokens == 0 and data.cost == 0
        assert data.success_rate is None
        assert data.latency == dashboard.Latency()
        assert len(data.buckets) == 30
        assert all(sum(b.counts.values()) == 0 for b in data.buckets)
        assert data.by_model == data.by_provider == data.top_by_runs == data.failures == []


class TestLatency:
    def test_percentiles_interpolate_like_percentile_cont(
        self, session: Session, actor: Actor
    ) -> None:
        agent = make_agent(session, actor, "Alpha")
        for ms in range(100, 0, -1):  # 1..100 ms, inserted out of order
            add_run(session, actor, agent, ago=timedelta(minutes=ms), latency_ms=ms)
        add_run(session, actor, agent, ago=timedelta(minutes=5), status=S.RUNNING)
        add_run(session, actor, agent, ago=timedelta(days=3), latency_ms=100_000)  # outside

        latency = summary(session, actor).latency

        # percentile_cont: the value at position p·(n−1) of the sorted list, interpolated
        assert latency.p50 == pytest.approx(50.5)
        assert latency.p95 == pytest.approx(95.05)
        assert latency.p99 == pytest.approx(99.01)

    def test_one_finished_run_is_every_percentile(self, session: Session, actor: Actor) -> None:
        agent = make_agent(session, actor, "Alpha")
        add_run(session, actor, agent, ago=timedelta(minutes=3), latency_ms=420)
        add_run(session, actor, agent, ago=timedelta(minutes=2), status=S.QUEUED)

        assert summary(session, actor).latency == dashboard.Latency(p50=420, p95=420, p99=420)

    def test_both_strategies_agree_on_skewed_data(self, session: Session, actor: Actor) -> None:
        """The portable window-function path must equal percentile_cont where both can run."""
        require_postgres("percentile_cont exists on PostgreSQL only; SQLite runs the other path")
        agent = make_agent(session, actor, "Alpha")
        for i, ms in enumerate([5, 7, 7, 9, 40, 41, 300, 2_000, 2_000, 9_999, 12, 13, 14]):
            add_run(session, actor, agent, ago=timedelta(minutes=i + 1), latency_ms=ms)
        session.commit()
        win = dashboard.window("24h", NOW)
        scope = dashboard_queries.runs_in(actor, win.since, win.until, None)
        native = dashboard._latency(session, scope, postgres=True)
        portable = dashboard._latency(session, scope, postgres=False)
        assert native.p50 == portable.p50 == 14
        assert native.p95 == pytest.approx(portable.p95) and native.p95 == pytest.approx(5199.6)
        assert native.p99 == pytest.approx(portable.p99) and native.p99 == pytest.approx(9039.12)


class TestUsage:
    def test_calls_at_different_seconds_of_one_bucket_add_up(
        self, session: Session, actor: Actor
    ) -> None:
        agent = make_agent(session, actor, "Alpha")
        for minutes in (5, 12, 19):  # 15:11, 15:18, 15:25: one hour bucket, three seconds
            add_run(
                session,
                actor,
                agent,
                ago=timedelta(minutes=minutes),
                steps=[("model", "openai/gpt-4o", 10, "1")],
            )
        data = summary(session, actor)
        assert [(u.name, u.calls, u.tokens, u.cost) for u in data.by_model] == [
            ("openai/gpt-4o", 3, 30, Decimal("3")),
        ]

    def test_tokens_and_cost_by_model_and_provider(self, session: Session, actor: Actor) -> None:
        agent = make_agent(session, actor, "Alpha")
        add_run(
            session,
            actor,
            agent,
            ago=timedelta(hours=1),
            steps=[
                ("model", "openai/gpt-4o", 100, "0.010000"),
                ("tool", None, 0, "0"),
                ("model", "openai/gpt-4o", 50, "0.005000"),
            ],
        )
        add_run(
            session,
            actor,
            agent,
            ago=timedelta(hours=3),
            status=S.FAILED,
            steps=[
                ("model", "anthropic/claude-sonnet", 300, "0.020000"),
                ("model", "openai/gpt-4o-mini", 10, "0.000100"),
            ],
        )
        add_run(  # outside the window
            session, actor, agent, ago=timedelta(days=2), steps=[("model", "openai/gpt-4o", 1, "1")]
        )

        data = summary(session, actor)

        assert [(u.name, u.calls, u.tokens, u.cost) for u in data.by_model] == [
            ("anthropic/claude-sonnet", 1, 300, Decimal("0.02")),
            ("openai/gpt-4o", 2, 150, Decimal("0.015")),
            ("openai/gpt-4o-mini", 1, 10, Decimal("0.0001")),
        ]
        assert [(u.name, u.calls, u.tokens, u.cost) for u in data.by_provider] == [
            ("anthropic", 1, 300, Decimal("0.02")),
            ("openai", 3, 160, Decimal("0.0151")),
        ]


class TestTopAgents:
    def test_five_agents_by_runs_and_by_cost(self, session: Session, actor: Actor) -> None:
        # name: (runs, cost per run)
        plan = {"A": (6, "0.01"), "B": (5, "0.50"), "C": (4, "0.02"), "D": (3, "1.00")}
        plan |= {"E": (2, "0.03"), "F": (1, "0.04")}
        ids = {name: make_agent(session, actor, name) for name in plan}
        for name, (count, cost) in plan.items():
            for i in range(count):
                add_run(session, actor, ids[name], ago=timedelta(minutes=i + 1), cost=cost)

        data = summary(session, actor)

        assert [(a.name, a.runs) for a in data.top_by_runs] == [
            ("A", 6),
            ("B", 5),
            ("C", 4),
            ("D", 3),
            ("E", 2),
        ]
        assert [(a.name, a.cost) for a in data.top_by_cost] == [
            ("D", Decimal("3")),
            ("B", Decimal("2.5")),
            ("C", Decimal("0.08")),
            ("A", Decimal("0.06")),
            ("E", Decimal("0.06")),
        ]
        assert data.top_by_runs[0].agent_id == ids["A"]

    def test_runs_of_a_deleted_agent_are_grouped_under_a_label(
        self, session: Session, actor: Actor
    ) -> None:
        add_run(session, actor, None, ago=timedelta(minutes=5), cost="0.3")
        data = summary(session, actor)
        assert [(a.agent_id, a.name, a.runs) for a in data.top_by_runs] == [
            (None, "(deleted agent)", 1)
        ]


class TestFailures:
    def test_last_ten_failures_newest_first_with_short_errors(
        self, session: Session, actor: Actor
    ) -> None:
        agent = make_agent(session, actor, "Alpha")
        failed = [
            add_run(
                session,
                actor,
                agent,
                ago=timedelta(minutes=minutes),
                status=S.TIMED_OUT if minutes == 1 else S.FAILED,
                error=f"boom {minutes} " + "x" * 500,
            )
            for minutes in range(1, 13)
        ]
        add_run(session, actor, agent, ago=timedelta(seconds=5), status=S.CANCELLED, error="stop")

        data = summary(session, actor)

        assert [f.run_id for f in data.failures] == failed[:10]
        first = data.failures[0]
        assert first.status == S.TIMED_OUT and first.agent_name == "Alpha"
        assert first.error.startswith("boom 1 ") and len(first.error) == 200
        assert first.created_at == NOW - timedelta(minutes=1)


class TestScope:
    def test_other_orgs_runs_are_never_counted(self, session: Session, actor: Actor) -> None:
        other = make_org(session, "Mallory")
        theirs = make_agent(session, other, "Theirs")
        add_run(
            session,
            other,
            theirs,
            ago=timedelta(minutes=5),
            status=S.FAILED,
            tokens=50,
            cost="5",
            error="secret failure",
            steps=[("model", "openai/gpt-4o", 50, "5")],
        )
        mine = make_agent(session, actor, "Mine")
        add_run(session, actor, mine, ago=timedelta(minutes=5), tokens=1, cost="0.1")

        data = summary(session, actor)

        assert data.total_runs == 1 and data.tokens == 1 and data.cost == Decimal("0.1")
        assert data.failures == [] and data.by_model == []
        assert [a.name for a in data.top_by_runs] == ["Mine"]
        assert summary(session, other).total_runs == 1

    def test_agent_filter_counts_only_that_agent(self, session: Session, actor: Actor) -> None:
        alpha = make_agent(session, actor, "Alpha")
        beta = make_agent(session, actor, "Beta")
        add_run(
            session,
            actor,
            alpha,
            ago=timedelta(minutes=5),
            status=S.FAILED,
            error="alpha broke",
            steps=[("model", "openai/gpt-4o", 10, "0.1")],
        )
        add_run(
            session,
            actor,
            beta,
            ago=timedelta(minutes=6),
            status=S.FAILED,
            error="beta broke",
            steps=[("model", "anthropic/claude", 20, "0.2")],
        )

        data = summary(session, actor, agent_id=alpha)

        assert data.agent_name == "Alpha" and data.agent_id == alpha
        assert data.total_runs == 1 and [f.error for f in data.failures] == ["alpha broke"]
        assert [u.name for u in data.by_model] == ["openai/gpt-4o"]
        assert data.top_by_runs == data.top_by_cost == []

    def test_agent_of_another_org_is_not_found(self, session: Session, actor: Actor) -> None:
        theirs = make_agent(session, make_org(session, "Mallory"), "Theirs")
        with pytest.raises(NotFound):
            summary(session, actor, agent_id=theirs)
        with pytest.raises(NotFound):
            summary(session, actor, agent_id=uuid.uuid4())

    def test_a_viewer_may_read_the_dashboard(self, session: Session, actor: Actor) -> None:
        add_run(session, actor, make_agent(session, actor, "Alpha"), ago=timedelta(minutes=5))
        _, viewer = add_member(session, actor.org_id, role=Role.VIEWER)
        assert summary(session, viewer).total_runs == 1


class TestChangeMarker:
    def test_moves_when_a_run_starts_or_finishes_and_not_otherwise(
        self, session: Session, actor: Actor
    ) -> None:
        agent = make_agent(session, actor, "Alpha")
        first = add_run(session, actor, agent, ago=timedelta(minutes=5), status=S.QUEUED)
        session.commit()
        before = dashboard.change_marker(session, actor)
        assert before == dashboard.change_marker(session, actor)
        assert (before.queued, before.running) == (1, 0)

        run = session.get(Execution, first)
        assert run is not None
        run.status = S.RUNNING
        session.commit()
        running = dashboard.change_marker(session, actor)
        run.status = S.SUCCEEDED
        session.commit()
        done = dashboard.change_marker(session, actor)
        add_run(session, actor, agent, ago=timedelta(minutes=1), status=S.SUCCEEDED)
        session.commit()
        added = dashboard.change_marker(session, actor)

        assert len({before, running, done, added}) == 4
        assert added.latest_created == NOW - timedelta(minutes=1)

    def test_agent_marker_ignores_other_agents(self, session: Session, actor: Actor) -> None:
        alpha, beta = make_agent(session, actor, "Alpha"), make_agent(session, actor, "Beta")
        add_run(session, actor, alpha, ago=timedelta(minutes=5))
        session.commit()
        before = dashboard.change_marker(session, actor, agent_id=alpha)
        add_run(session, actor, beta, ago=timedelta(minutes=1), status=S.RUNNING)
        session.commit()
        assert dashboard.change_marker(session, actor, agent_id=alpha) == before
        assert dashboard.change_marker(session, actor) != before


class TestCache:
    """Ended buckets whose runs have all ended are kept in Redis; nothing else is."""

    @staticmethod
    def cached(actor: Actor) -> int:
        return len(get_redis().keys(f"dashboard:v1:{actor.org_id}:*"))

    def test_settled_buckets_give_the_same_figures_from_the_cache(
        self, session: Session, actor: Actor
    ) -> None:
        agent = make_agent(session, actor, "Alpha")
        for hours in (0, 1, 5, 20):
            add_run(
                session,
                actor,
                agent,
                ago=timedelta(hours=hours, minutes=10),
                tokens=10,
                cost="0.01",
                steps=[("model", "openai/gpt-4o", 10, "0.01")],
            )

        cold = summary(session, actor)
        assert self.cached(actor) == 23  # every ended hour, empty ones too; not the current one
        warm = summary(session, actor)
        get_redis().flushdb()
        again = summary(session, actor)

        assert cold == warm == again
        assert cold.total_runs == 4 and cold.by_model[0].calls == 4

    def test_a_bucket_with_an_active_run_is_recomputed_until_it_settles(
        self, session: Session, actor: Actor
    ) -> None:
        agent = make_agent(session, actor, "Alpha")
        run_id = add_run(session, actor, agent, ago=timedelta(hours=3), status=S.RUNNING)
        assert summary(session, actor).by_status["running"] == 1
        assert self.cached(actor) == 22

        run = session.get(Execution, run_id)
        assert run is not None
        run.status, run.latency_ms, run.cost = S.SUCCEEDED, 2500, Decimal("0.5")
        after = summary(session, actor)

        assert after.by_status["running"] == 0 and after.by_status["succeeded"] == 1
        assert after.cost == Decimal("0.5") and after.latency.p50 == 2500
        assert self.cached(actor) == 23

    def test_runs_of_the_current_bucket_count_at_once(self, session: Session, actor: Actor) -> None:
        agent = make_agent(session, actor, "Alpha")
        add_run(session, actor, agent, ago=timedelta(minutes=20))
        assert summary(session, actor).total_runs == 1
        add_run(session, actor, agent, ago=timedelta(minutes=1), status=S.FAILED, error="x")
        data = summary(session, actor)
        assert data.total_runs == 2 and data.buckets[-1].counts["failed"] == 1

    def test_each_agent_view_has_its_own_entries(self, session: Session, actor: Actor) -> None:
        alpha, beta = make_agent(session, actor, "Alpha"), make_agent(session, actor, "Beta")
        add_run(session, actor, alpha, ago=timedelta(hours=2))
        add_run(session, actor, beta, ago=timedelta(hours=2))
        assert summary(session, actor).total_runs == 2
        assert summary(session, actor, agent_id=alpha).total_runs == 1
        assert summary(session, actor, agent_id=beta).total_runs == 1

    def test_today_is_the_sum_of_its_hours_shared_with_the_24h_view(
        self, session: Session, actor: Actor
    ) -> None:
        agent = make_agent(session, actor, "Alpha")
        add_run(session, actor, agent, ago=timedelta(minutes=10))  # current hour
        add_run(session, actor, agent, ago=timedelta(hours=3), status=S.FAILED)  # today 12:30
        add_run(session, actor, agent, ago=timedelta(days=1))  # yesterday

        week = summary(session, actor, "7d")
        keys = [k.decode() for k in get_redis().keys(f"dashboard:v1:{actor.org_id}:*")]
        add_run(session, actor, agent, ago=timedelta(minutes=2), cost="0.25")
        later = summary(session, actor, "7d")

        assert [sum(b.counts.values()) for b in week.buckets][-2:] == [1, 2]
        assert week.buckets[-1].counts["failed"] == 1
        # 6 ended days, and today's 15 ended hours (00:00–14:00); never the current hour
        assert sum(":86400:" in k for k in keys) == 6 and sum(":3600:" in k for k in keys) == 15
        assert sum(later.buckets[-1].counts.values()) == 3 and later.cost == Decimal("0.25")
        day = summary(session, actor)  # reads the hours the 7 d view cached
        assert (day.total_runs, day.by_status["failed"], day.cost) == (3, 1, Decimal("0.25"))

    def test_runs_written_into_ended_buckets_are_noticed(
        self, session: Session, actor: Actor
    ) -> None:
        """An import or backfill writes into the past: a count of the cached span catches it."""
        agent = make_agent(session, actor, "Alpha")
        add_run(session, actor, agent, ago=timedelta(hours=5))
        assert summary(session, actor, "7d").total_runs == 1

        add_run(session, actor, agent, ago=timedelta(days=3), status=S.FAILED, error="old")
        add_run(session, actor, agent, ago=timedelta(hours=6))
        week, day = summary(session, actor, "7d"), summary(session, actor)

        assert week.total_runs == 3 and [f.error for f in week.failures] == ["old"]
        assert day.total_runs == 2

    def test_a_cached_agent_deleted_since_joins_the_deleted_group(
        self, session: Session, actor: Actor
    ) -> None:
        kept, gone = make_agent(session, actor, "Kept"), make_agent(session, actor, "Gone")
        add_run(session, actor, kept, ago=timedelta(hours=3))
        add_run(session, actor, gone, ago=timedelta(hours=3))
        add_run(session, actor, None, ago=timedelta(hours=4))
        assert {a.name for a in summary(session, actor).top_by_runs} == {
            "Kept",
            "Gone",
            "(deleted agent)",
        }

        agent = session.get(Agent, gone)
        session.delete(agent)  # its runs keep existing, with agent_id set to NULL
        top = summary(session, actor).top_by_runs

        assert [(a.agent_id, a.name, a.runs) for a in top] == [
            (None, "(deleted agent)", 2),
            (kept, "Kept", 1),
        ]
