"""Dashboard figures for an organization (or one of its agents) over the last 24 h, 7 d or 30 d.

Why it is shaped this way (figures from benchmarks/dashboard.py, a million runs):
- Every query is bounded by `org_id` and a `created_at` window, so it reads one range of the
  (org_id, created_at) index, which on PostgreSQL also holds every column the aggregates read
  (see models/runs.py): the size of the whole table does not matter, only the window's runs.
- The window is whole buckets (hours for 24 h, UTC days otherwise), the current one included,
  so the chart and the figures above it always count the same runs.
- A bucket that has ended and whose runs have all ended does not change any more (runs are
  created "now"), so its additive figures (a `Slice`) are kept in Redis, and today's daily
  bucket is the sum of its hours: a refresh reads only the current hour's runs. One count of
  the cached span checks the cache (a backfill into the past makes it recompute), and Redis
  may lose it all: the database is the source. Latency percentiles are not additive and are
  always computed exactly from the runs.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args

from pydantic import BaseModel
from sqlmodel import Session

from agent_platform.models import Execution, ExecutionStatus
from agent_platform.models.base import utcnow
from services import dashboard_queries as queries
from services.access import Actor
from services.agent_reads import get_agent
from services.dashboard_cache import (
    CACHE_TTL,
    DAY,
    HOUR,
    Slice,
    add,
    add_usage,
    cache_get,
    cache_set,
)
from services.dashboard_queries import FAILED, Window
from services.errors import Invalid

logger = logging.getLogger(__name__)

RangeKey = Literal["24h", "7d", "30d"]
RANGE_KEYS: tuple[str, ...] = get_args(RangeKey)
# range → (bucket width in seconds, number of buckets)
_RANGES: dict[str, tuple[int, int]] = {"24h": (HOUR, 24), "7d": (DAY, 7), "30d": (DAY, 30)}
# Cancelled runs were stopped by a person and active ones have no outcome yet: neither says
# anything about how well the agent works, so the success rate leaves them out.
DECIDED = (ExecutionStatus.SUCCEEDED, *FAILED)
TOP_AGENTS = 5
# A bucket is cached only once it ended this long ago, so a run created on a machine whose
# clock is a little behind still lands in a bucket that is not cached yet.
SETTLE = timedelta(minutes=5)
MICRO = Decimal("0.000001")


class Bucket(BaseModel):
    start: datetime
    counts: dict[str, int]  # every ExecutionStatus value, zero included


class Latency(BaseModel):
    """Milliseconds, interpolated like PostgreSQL's percentile_cont; None without finished runs."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class Usage(BaseModel):
    name: str  # "<provider>/<model>" for models, "<provider>" for providers
    calls: int  # failed attempts included
    tokens: int
    cost: Decimal  # of the priced calls
    failed: int = 0  # attempts that failed (the next model of the chain answered, or none)
    unpriced: int = 0  # calls whose model had no known price: `cost` is a lower bound


class AgentFigures(BaseModel):
    agent_id: uuid.UUID | None  # None: runs of agents deleted since
    name: str
    runs: int
    cost: Decimal


class Failure(BaseModel):
    run_id: uuid.UUID
    agent_id: uuid.UUID | None
    agent_name: str
    status: ExecutionStatus
    error: str
    created_at: datetime


class DashboardData(BaseModel):
    range_key: str
    since: datetime
    until: datetime
    bucket_seconds: int
    agent_id: uuid.UUID | None = None
    agent_name: str = ""
    buckets: list[Bucket]
    total_runs: int
    by_status: dict[str, int]
    success_rate: float | None  # succeeded / (succeeded + failed + timed out), 0..1
    latency: Latency
    tokens: int
    cost: Decimal
    unpriced_calls: int = 0  # model calls without a known price: `cost` is a lower bound
    by_model: list[Usage]
    by_provider: list[Usage]
    top_by_runs: list[AgentFigures]
    top_by_cost: list[AgentFigures]
    failures: list[Failure]


@dataclass(frozen=True)
class Marker:
    """What changes whenever a figure may change: any new run moves `latest_created`, and
    without new runs every transition lowers 2·queued + running, so the pair never repeats."""

    latest_created: datetime | None
    queued: int
    running: int


def window(range_key: str, now: datetime | None = None) -> Window:
    """The last `count` whole buckets, the current (partial) one included."""
    if range_key not in _RANGES:
        raise Invalid(f"Unknown range {range_key!r}; use one of {', '.join(RANGE_KEYS)}.")
    step, count = _RANGES[range_key]
    current = math.floor((now or utcnow()).timestamp() / step)
    since = datetime.fromtimestamp((current - count + 1) * step, UTC)
    return Window(since, since + timedelta(seconds=step * count), step, count)


def summary(
    session: Session,
    actor: Actor,
    *,
    range_key: RangeKey,
    agent_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> DashboardData:
    """Every dashboard figure of the actor's organization, or of one of its agents.

    Any member may read it (viewers included). An agent of another organization is NotFound.
    `now` exists for tests; the window is computed from it.
    """
    now = now or utcnow()
    win = window(range_key, now)
    agent_name = get_agent(session, actor, agent_id).name if agent_id else ""
    postgres = session.get_bind().dialect.name == "postgresql"
    slices = _slices(session, actor, win, agent_id, postgres, now)

    total = Slice()
    for part in slices:
        add(total, part)
    by_status = {s.value: total.counts.get(s.value, 0) for s in ExecutionStatus}
    decided = sum(by_status[s.value] for s in DECIDED)
    by_model = sorted(
        (
            Usage(name=m, calls=c, tokens=t, cost=cost, failed=failed, unpriced=unpriced)
            for m, (c, t, cost, failed, unpriced) in total.models.items()
        ),
        key=lambda u: (-u.cost, -u.tokens, u.name),
    )
    top_runs, top_cost = ([], []) if agent_id else _top_agents(session, actor, total)
    return DashboardData(
        range_key=range_key,
        since=win.since,
        until=win.until,
        bucket_seconds=win.step,
        agent_id=agent_id,
        agent_name=agent_name,
        buckets=[
            Bucket(
                start=win.start(i),
                counts={s.value: part.counts.get(s.value, 0) for s in ExecutionStatus},
            )
            for i, part in enumerate(slices)
        ],
        total_runs=sum(by_status.values()),
        by_status=by_status,
        success_rate=by_status[ExecutionStatus.SUCCEEDED.value] / decided if decided else None,
        latency=_latency(session, queries.runs_in(actor, win.since, win.until, agent_id), postgres),
        tokens=total.tokens,
        cost=total.cost,
        unpriced_calls=sum(u.unpriced for u in by_model),
        by_model=by_model,
        by_provider=_by_provider(by_model),
        top_by_runs=top_runs,
        top_by_cost=top_cost,
        failures=_failures(session, actor, queries.runs_in(actor, win.since, win.until, agent_id)),
    )


def change_marker(session: Session, actor: Actor, *, agent_id: uuid.UUID | None = None) -> Marker:
    """Two index probes, cheap enough to ask every few seconds before recomputing `summary`
    (three for one agent: an agent of another organization is NotFound, as in `summary`)."""
    if agent_id is not None:
        agent_id = get_agent(session, actor, agent_id).id
    latest, active = queries.newest_and_active(session, actor, agent_id)
    return Marker(
        latest_created=latest,
        queued=active.get(ExecutionStatus.QUEUED, 0),
        running=active.get(ExecutionStatus.RUNNING, 0),
    )


def _slices(
    session: Session,
    actor: Actor,
    win: Window,
    agent_id: uuid.UUID | None,
    postgres: bool,
    now: datetime,
) -> list[Slice]:
    """One Slice per bucket: settled ones from the cache, the others from the database."""
    scope = f"dashboard:v1:{actor.org_id}:{agent_id or 'all'}:{win.step}"
    keys = [f"{scope}:{int(win.start(i).timestamp())}" for i in range(win.count)]
    ended = [win.start(i + 1) <= now - SETTLE for i in range(win.count)]
    cached = cache_get({i: keys[i] for i in range(win.count) if ended[i]})
    prefix = 0  # only the leading run of cached buckets is used, so one count checks it
    while prefix in cached:
        prefix += 1
    slices = {i: cached[i] for i in range(prefix)}
    cached_span = queries.runs_in(actor, win.since, win.start(prefix), agent_id)
    if prefix and queries.count_runs(session, cached_span) != sum(
        sum(part.counts.values()) for part in slices.values()
    ):
        # Runs were written into ended buckets (an import, a backfill): recompute them all.
        logger.info("dashboard cache of org %s is out of date; recomputing", actor.org_id)
        slices = {}
    if win.step > HOUR:
        # Today is the sum of its hours, most of them settled and cached (the 24 h view
        # shares them), so a refresh reads only the current hour's runs, not the whole day's.
        today = win.count - 1
        hours = Window(win.start(today), win.until, HOUR, win.step // HOUR)
        slices[today] = Slice()
        for part in _slices(session, actor, hours, agent_id, postgres, now):
            add(slices[today], part)
    missing = [i for i in range(win.count) if i not in slices]
    if missing:
        first, last = min(missing), max(missing)
        fresh = _compute(session, actor, win, first, last, agent_id, postgres)
        found = {i: fresh.get(i, Slice()) for i in missing}
        settled = {keys[i]: s for i, s in found.items() if ended[i] and s.settled()}
        cache_set(settled, CACHE_TTL[win.step])
        slices |= found
    return [slices[i] for i in range(win.count)]


def _index_of(value: datetime | int, win: Window) -> int:
    if isinstance(value, datetime):
        return int((value - win.since).total_seconds()) // win.step
    return int(value)


def _compute(
    session: Session,
    actor: Actor,
    win: Window,
    first: int,
    last: int,
    agent_id: uuid.UUID | None,
    postgres: bool,
) -> dict[int, Slice]:
    """Slices of buckets first..last from the runs and their model steps: two grouped scans
    and the few steps with failed attempts or no price."""
    since, until = win.start(first), win.start(last + 1)
    scope = queries.runs_in(actor, since, until, agent_id)
    bucket = queries.bucket_of(Execution.created_at, win, postgres).label("bucket")
    slices: dict[int, Slice] = {}
    for number, status, agent, count, tokens, cost in queries.run_groups(session, scope, bucket):
        part = slices.setdefault(_index_of(number, win), Slice())
        cost = _money(cost)
        value = ExecutionStatus(status).value
        part.counts[value] = part.counts.get(value, 0) + count
        part.tokens += int(tokens)
        part.cost += cost
        seen = part.agents.get(str(agent or ""), (0, Decimal(0)))
        part.agents[str(agent or "")] = (seen[0] + count, seen[1] + cost)
    for number, ref, calls, tokens, cost in queries.model_step_groups(
        session, scope, bucket, since
    ):
        part = slices.setdefault(_index_of(number, win), Slice())
        part.models[ref] = add_usage(part.models.get(ref), (calls, int(tokens), _money(cost), 0, 0))
    for number, ref, attempts, unpriced in queries.failed_or_unpriced(
        session, scope, bucket, since, postgres
    ):
        part = slices.setdefault(_index_of(number, win), Slice())
        for attempt in attempts or []:
            name = str(attempt.get("model") or "")
            if name:
                part.models[name] = add_usage(part.models.get(name), (1, 0, Decimal(0), 1, 0))
        if unpriced and ref:
            part.models[ref] = add_usage(part.models.get(ref), (0, 0, Decimal(0), 0, 1))
    return slices


def _money(value: Any) -> Decimal:
    """Sums come back as Decimal (PostgreSQL) or float (SQLite): one exact form for both."""
    return Decimal(str(value)).quantize(MICRO)


def _latency(session: Session, scope: queries.Scope, postgres: bool) -> Latency:
    """Exact p50/p95/p99 of finished runs' latency; all None without finished runs."""
    found = queries.latency_percentiles(session, scope, postgres)
    return Latency(**{_name(p): value for p, value in found.items()})


def _name(fraction: float) -> str:
    return f"p{round(fraction * 100)}"


def _by_provider(by_model: list[Usage]) -> list[Usage]:
    """Model refs are "<provider name>/<model>"; a ref without a slash is its own provider."""
    totals: dict[str, Usage] = {}
    for usage in by_model:
        provider = usage.name.split("/", 1)[0]
        seen = totals.get(provider) or Usage(name=provider, calls=0, tokens=0, cost=Decimal(0))
        totals[provider] = Usage(
            name=provider,
            calls=seen.calls + usage.calls,
            tokens=seen.tokens + usage.tokens,
            cost=seen.cost + usage.cost,
            failed=seen.failed + usage.failed,
            unpriced=seen.unpriced + usage.unpriced,
        )
    return sorted(totals.values(), key=lambda u: (-u.cost, -u.tokens, u.name))


def _top_agents(
    session: Session, actor: Actor, total: Slice
) -> tuple[list[AgentFigures], list[AgentFigures]]:
    """Cached buckets may still name agents deleted since: they join the deleted group."""
    names = queries.agent_names(session, actor, {uuid.UUID(a) for a in total.agents if a})
    merged: dict[str, tuple[int, Decimal]] = {}
    for agent, (runs, cost) in total.agents.items():
        key = agent if agent and uuid.UUID(agent) in names else ""
        seen = merged.get(key, (0, Decimal(0)))
        merged[key] = (seen[0] + runs, seen[1] + cost)
    figures = [
        AgentFigures(
            agent_id=uuid.UUID(a) if a else None,
            name=names[uuid.UUID(a)] if a else "(deleted agent)",
            runs=runs,
            cost=cost,
        )
        for a, (runs, cost) in merged.items()
    ]
    by_runs = sorted(figures, key=lambda f: (-f.runs, -f.cost, f.name))[:TOP_AGENTS]
    by_cost = sorted(figures, key=lambda f: (-f.cost, -f.runs, f.name))[:TOP_AGENTS]
    return by_runs, by_cost


def _failures(session: Session, actor: Actor, scope: queries.Scope) -> list[Failure]:
    """The newest failed runs (RECENT_FAILURES), deleted agents named as such."""
    return [
        Failure(
            run_id=run_id,
            agent_id=agent_id,
            agent_name=name or "(deleted agent)",
            status=status,
            error=error,
            created_at=created_at,
        )
        for run_id, agent_id, name, status, error, created_at in queries.recent_failures(
            session, actor, scope
        )
    ]
