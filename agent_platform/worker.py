"""RQ job entry points and the worker processes. Jobs are thin: load ids, call a service."""

from __future__ import annotations

import asyncio
import os
import uuid

from rq import Queue, Worker

from agent_platform.redis_client import get_redis

QUEUES = ("agents", "testing", "integrations", "default")
GENERAL_QUEUES = ("testing", "integrations", "default")
RUN_JOB = "agent_platform.worker.execute_run"


def ping(value: str = "pong") -> str:
    """Trivial job used by readiness checks and tests to prove a worker consumes its queues."""
    return value


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=get_redis())


def ingest_document(document_id: str) -> str | None:
    """Index one staged knowledge upload; progress goes to Redis for the page that waits."""
    from agent_platform.db import session_scope
    from services.memory import ingest

    doc_id = uuid.UUID(document_id)
    redis = get_redis()

    def progress(done: int, total: int) -> None:
        redis.set(ingest.progress_key(doc_id), f"{done}/{total}", ex=3600)

    with session_scope() as session:
        document = ingest.ingest_document(session, doc_id, progress=progress)
        status = document.status.value if document is not None else None
    redis.delete(ingest.progress_key(doc_id))
    return status


def enqueue_run(run_id: uuid.UUID, org_id: uuid.UUID | None = None, cap: int = -1) -> None:
    """The job id is the run id: enqueueing the same run twice leaves one job.

    `org_id` and `cap` (the tier's concurrent-run limit) let the agent worker hold back an
    organization's runs beyond its cap without a database query per job.
    """
    queue("agents").enqueue(
        RUN_JOB,
        str(run_id),
        str(org_id) if org_id else None,
        cap,
        job_id=str(run_id),
        result_ttl=300,
        failure_ttl=86400,
    )


def execute_run(run_id: str, org_id: str | None = None, cap: int = -1) -> str | None:
    """Job body when a plain RQ worker takes an `agents` job (the async worker is faster)."""
    from redis.asyncio import Redis as AsyncRedis

    from agent_platform.settings import get_settings
    from services.runtime import engine

    async def _run() -> str | None:
        redis = AsyncRedis.from_url(get_settings().resolved_redis_url)
        try:
            status = await engine.execute(uuid.UUID(run_id), redis)
            return status.value if status else None
        finally:
            await redis.aclose()

    return asyncio.run(_run())


def reconcile_runs() -> dict[str, int]:
    """Periodic job (scheduled by the scheduler process): unstick runs after crashes."""
    from datetime import timedelta

    from agent_platform.db import session_scope
    from agent_platform.run_worker import leased
    from agent_platform.settings import get_settings
    from services import runs

    grace = timedelta(seconds=2 * get_settings().run_lease_seconds)
    with session_scope() as session:
        return runs.reconcile(session, alive=leased, lease_grace=grace)


def run_worker(queues: list[str], *, burst: bool = False) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    worker = Worker([queue(q) for q in queues], connection=get_redis())
    worker.work(burst=burst, logging_level="WARNING")


RECONCILE_EVERY_SECONDS = 30


def schedule_periodic_jobs(scheduler) -> None:  # type: ignore[no-untyped-def]
    """Register the platform's own periodic jobs once (fixed ids: re-registering replaces)."""
    from datetime import UTC, datetime

    scheduler.cancel("reconcile-runs")
    scheduler.schedule(
        scheduled_time=datetime.now(UTC),
        func=reconcile_runs,
        interval=RECONCILE_EVERY_SECONDS,
        repeat=None,
        id="reconcile-runs",
        queue_name="default",
        result_ttl=60,
    )
