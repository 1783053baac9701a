"""Dashboard queries at a million runs, each range beside a plain count of the same runs.

Seeds a throwaway PostgreSQL database (127.0.0.1:5432) with `--runs` executions (default
1,000,000): 90 % in the measured organization over the last 30 days, 10 % in another one, one
model step per run and a tool step for 30 % of them; rows are generated inside PostgreSQL
(INSERT … SELECT generate_series), which is faster than any client-side COPY. Then VACUUM
ANALYZE (what autovacuum does on a live system; index-only scans need the visibility map).

For each range (24h, 7d, 30d) it times, median of `--repeat` runs after one warm-up:
- baseline: `SELECT count(*)` over the same org and window (the cheapest query that touches
  the same rows),
- `services.dashboard.summary()` cold: its Redis entries deleted before every call, so every
  bucket comes from the database (the first view of a range),
- `summary()` warm: ended buckets come from Redis, the open one and the latency percentiles
  from the database (what every later view and every live refresh costs),
- the same two for the org's busiest agent (the per-agent dashboard),
- `services.dashboard.change_marker()` (what a live page asks every few seconds).
Prints a table and one JSON line, then drops the database (unless --keep). Needs Redis
(REDIS_URL, default redis://127.0.0.1:6379/15; only this org's dashboard keys are touched).

    python benchmarks/dashboard.py [--runs 1000000] [--repeat 5] [--keep | --database NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
MODELS = [
    ("openai/gpt-4o", 0.000010),
    ("openai/gpt-4o-mini", 0.0000006),
    ("anthropic/claude-sonnet", 0.000015),
    ("anthropic/claude-haiku", 0.000004),
    ("gemini/gemini-2.5-flash", 0.0000025),
    ("local/llama-3.1-8b", 0.0),
]
MAIN_AGENTS, OTHER_AGENTS = 20, 3
CHUNK = 200_000


def create_database(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # our own generated name


def drop_database(name: str) -> None:
    import psycopg

    from agent_platform.db import reset_engine

    reset_engine()
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_org(name: str, agents: int):
    """A registered user's organization (enterprise tier: no agent cap) with `agents` agents."""
    from agent_platform.db import session_scope
    from agent_platform.models import Organization, Tier
    from services import accounts
    from services import agents as agents_service
    from services.access import actor_for

    with session_scope() as s:
        user = accounts.register(
            s,
            email=f"{name}-{uuid.uuid4().hex[:6]}@example.com",
            name=name,
            password="benchmark password",
        )
        s.flush()
        org_id = accounts.default_org_id(s, user.id)
        org = s.get(Organization, org_id)
        assert org is not None
        org.tier = Tier.ENTERPRISE
        s.flush()
        actor = actor_for(s, user, org_id)
        ids = [
            agents_service.create_agent(
                s, actor, name=f"{name} agent {i}", config={"model": MODELS[0][0]}
            ).id
            for i in range(agents)
        ]
    return actor, ids


def seed(runs: int, main_org: uuid.UUID, other_org: uuid.UUID) -> float:
    """Insert `runs` executions and their steps server-side; returns the seconds it took."""
    import psycopg

    from agent_platform.settings import get_settings

    url = get_settings().resolved_database_url.replace("postgresql+psycopg", "postgresql")
    models = "ARRAY[" + ",".join(f"'{m}'" for m, _ in MODELS) + "]"
    prices = "ARRAY[" + ",".join(str(p) for _, p in MODELS) + "]::numeric[]"
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        agents = {
            org: [r[0] for r in conn.execute("SELECT id FROM agents WHERE org_id = %s", (org,))]
            for org in (main_org, other_org)
        }
        done = 0
        while done < runs:
            n = min(CHUNK, runs - done)
            # Per row: r1 picks the org, r2 the time (uniform over 30 days, 10 % in the last
            # day so 24 h is not tiny), r3 the status, r4 the latency (exponential, long tail).
            conn.execute(
                """
                INSERT INTO executions (id, org_id, agent_id, status, input, output,
                    tokens_used, latency_ms, cost, error, created_at, started_at, finished_at)
                SELECT gen_random_uuid(), org, agent, status, '{"message": "summarise this"}',
                    CASE WHEN status = 'succeeded' THEN '{"text": "done"}'::jsonb END,
                    tokens, CASE WHEN final THEN latency END,
                    round(tokens * 0.000005, 6),
                    CASE WHEN status IN ('failed', 'timed_out')
                        THEN 'Provider error 502: upstream timed out after retrying '
                             || (r4 * 1000)::int END,
                    created, created, CASE WHEN final THEN created + latency * interval '1 ms' END
                FROM (
                    SELECT org, agent, status, created, tokens, latency, r4,
                        status NOT IN ('queued', 'running') AS final
                    FROM (
                        SELECT
                            CASE WHEN r1 < 0.9 THEN %(main)s::uuid ELSE %(other)s::uuid END AS org,
                            CASE WHEN r1 < 0.9
                                THEN (%(ma)s::uuid[])[1 + floor(power(r5, 2) * %(nm)s)::int]
                                ELSE (%(oa)s::uuid[])[1 + floor(r5 * %(no)s)::int] END
                                AS agent,
                            CASE WHEN r2 < 0.1 THEN now() - r6 * interval '1 day'
                                ELSE now() - r6 * interval '30 days' END AS created,
                            CASE WHEN r3 < 0.90 THEN 'succeeded' WHEN r3 < 0.96 THEN 'failed'
                                WHEN r3 < 0.98 THEN 'timed_out' WHEN r3 < 0.99 THEN 'cancelled'
                                ELSE 'succeeded' END AS status,
                            100 + floor(r3 * 3000)::int AS tokens,
                            (200 + floor(-ln(1 - r4) * 1500))::int AS latency,
                            r4
                        FROM (
                            SELECT random() AS r1, random() AS r2, random() AS r3,
                                random() AS r4, random() AS r5, random() AS r6
                            FROM generate_series(1, %(n)s)
                        ) r
                    ) s
                ) t
                """,
                {
                    "n": n,
                    "main": main_org,
                    "other": other_org,
                    "ma": agents[main_org],
                    "oa": agents[other_org],
                    "nm": len(agents[main_org]),
                    "no": len(agents[other_org]),
                },
            )
            done += n
            print(f"  executions {done:>9,} / {runs:,}  ({time.perf_counter() - start:5.1f} s)")
        # A few runs still active, as on a live system (the marker counts them).
        conn.execute(
            "UPDATE executions SET status = 'running', finished_at = NULL, latency_ms = NULL "
            "WHERE id IN (SELECT id FROM executions WHERE org_id = %s "
            "ORDER BY created_at DESC LIMIT 20)",
            (main_org,),
        )
        conn.execute(
            f"""
            INSERT INTO execution_steps (id, execution_id, position, kind, model, messages,
                response, tokens, cost, latency_ms, created_at)
            SELECT gen_random_uuid(), e.id, 0, 'model', ({models})[m.i], jsonb_build_array(
                    jsonb_build_object('role', 'system', 'content', 'You summarise documents.'),
                    jsonb_build_object('role', 'user', 'content', 'summarise this'))::jsonb,
                '{{"text": "done"}}', e.tokens_used,
                round(e.tokens_used * ({prices})[m.i], 6), e.latency_ms,
                e.created_at + interval '50 ms'
            FROM executions e
            CROSS JOIN LATERAL (SELECT 1 + (abs(hashtext(e.id::text)) % {len(MODELS)}) AS i) m
            """
        )
        print(f"  model steps done            ({time.perf_counter() - start:5.1f} s)")
        conn.execute(
            """
            INSERT INTO execution_steps (id, execution_id, position, kind, tool_name, arguments,
                result, tokens, cost, latency_ms, created_at)
            SELECT gen_random_uuid(), e.id, 1, 'tool', 'http_request', '{"url": "https://x"}',
                '{"status": 200}', 0, 0, 40, e.created_at + interval '60 ms'
            FROM executions e WHERE abs(hashtext(e.id::text)) % 10 < 3
            """
        )
        print(f"  tool steps done             ({time.perf_counter() - start:5.1f} s)")
        conn.execute("VACUUM ANALYZE executions")
        conn.execute("VACUUM ANALYZE execution_steps")
        conn.execute("VACUUM ANALYZE agents")
    return time.perf_counter() - start


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: plan cache, buffers
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    parser.add_argument("--database", help="reuse a database seeded by an earlier --keep run")
    args = parser.parse_args()

    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="ap-bench-")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    name = args.database or f"ap_bench_dash_{uuid.uuid4().hex[:8]}"
    if not args.database:
        create_database(name)
    os.environ["DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    try:
        run(args, name)
    finally:
        if not (args.keep or args.database):
            drop_database(name)


def run(args: argparse.Namespace, name: str) -> None:
    from sqlalchemy import text
    from sqlmodel import Session, col, func, select

    from agent_platform import migrations
    from agent_platform.db import get_engine
    from agent_platform.models import Execution, Membership, Role
    from agent_platform.redis_client import get_redis
    from services import dashboard
    from services.access import Actor

    migrations.upgrade()
    engine = get_engine()
    if args.database:
        with Session(engine) as s:
            org_id = s.exec(
                select(Execution.org_id).group_by(Execution.org_id).order_by(func.count().desc())
            ).first()
            owner = s.exec(select(Membership.user_id).where(Membership.org_id == org_id)).first()
        actor = Actor(user_id=owner, org_id=org_id, role=Role.OWNER)
        seconds = 0.0
    else:
        actor, _ = make_org("main", MAIN_AGENTS)
        other, _ = make_org("other", OTHER_AGENTS)
        print(f"seeding {args.runs:,} runs into {name} …")
        seconds = seed(args.runs, actor.org_id, other.org_id)
        if args.keep:
            print(f"kept database {name} (reuse with --database {name})")
    with Session(engine) as s:
        total = s.exec(select(func.count()).select_from(Execution)).one()
        in_org = s.exec(select(func.count()).where(Execution.org_id == actor.org_id)).one()
        busiest = s.exec(
            select(Execution.agent_id)
            .where(Execution.org_id == actor.org_id)
            .group_by(Execution.agent_id)
            .order_by(func.count().desc())
        ).first()
        steps = s.execute(text("SELECT count(*) FROM execution_steps")).scalar_one()
    print(
        f"{total:,} runs ({in_org:,} in the measured org), {steps:,} steps; "
        f"seeded in {seconds:.1f} s; PostgreSQL, default settings; median of {args.repeat}"
    )
    print(
        f"{'range':>5} {'runs':>9} {'count(*)':>9} {'cold':>8} {'warm':>8}"
        f" {'agent cold':>11} {'agent warm':>11}   (ms)"
    )
    result: dict[str, float | int] = {"runs": total, "seed_s": round(seconds, 1)}
    redis = get_redis()

    def forget() -> None:
        keys = redis.keys(f"dashboard:v1:{actor.org_id}:*")
        if keys:
            redis.delete(*keys)

    with Session(engine) as s:
        for key in dashboard.RANGE_KEYS:
            win = dashboard.window(key)
            count_query = select(func.count()).where(
                Execution.org_id == actor.org_id,
                col(Execution.created_at) >= win.since,
                col(Execution.created_at) < win.until,
            )
            runs_in_range = s.exec(count_query).one()
            figures = {"count": median_ms(lambda q=count_query: s.exec(q).one(), args.repeat)}
            for label, agent in (("org", None), ("agent", busiest)):

                def cold(k: str = key, a: uuid.UUID | None = agent) -> None:
                    forget()
                    dashboard.summary(s, actor, range_key=k, agent_id=a)

                def warm(k: str = key, a: uuid.UUID | None = agent) -> None:
                    dashboard.summary(s, actor, range_key=k, agent_id=a)

                figures[f"{label}_cold"] = median_ms(cold, args.repeat)
                figures[f"{label}_warm"] = median_ms(warm, args.repeat)
            print(
                f"{key:>5} {runs_in_range:>9,} {figures['count']:>9.1f}"
                f" {figures['org_cold']:>8.1f} {figures['org_warm']:>8.1f}"
                f" {figures['agent_cold']:>11.1f} {figures['agent_warm']:>11.1f}"
            )
            result[f"{key}_runs"] = runs_in_range
            result |= {f"{key}_{name}_ms": round(ms, 1) for name, ms in figures.items()}
        marker = median_ms(lambda: dashboard.change_marker(s, actor), args.repeat * 4)
    print(f"change_marker (asked every few seconds by a live page): {marker:.2f} ms")
    result["change_marker_ms"] = round(marker, 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
