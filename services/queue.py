"""Putting jobs on the RQ queues.

Jobs are named by import path (`agent_platform.worker.execute_run`), so services enqueue work
without importing the worker module — the worker imports services, never the other way round.
"""

from __future__ import annotations

import uuid

from rq import Queue, RateLimit

from agent_platform.redis_client import get_redis

RUN_JOB = "agent_platform.worker.execute_run"


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=get_redis())


def org_runs_limit_key(org_id: uuid.UUID | str) -> str:
    """RQ's rate-limit key of an organization's runs (its registry is `rq:rl:<this key>`)."""
    return f"org:{org_id}:runs"


def enqueue_run(run_id: uuid.UUID, org_id: uuid.UUID | None = None, cap: int = -1) -> None:
    """The job id is the run id: enqueueing the same run twice leaves one job.

    `cap` is the organization's limit of runs at once (-1: none). RQ 3's `RateLimit` enforces
    it in Redis, atomically, across every worker: a run over the cap is saved as rate_limited
    and waits in its registry, off the queue, until a run of the organization ends and RQ
    promotes the oldest waiting one. No worker ever holds or re-queues it.
    """
    limit = RateLimit(org_runs_limit_key(org_id), cap) if org_id and cap > 0 else None
    queue("agents").enqueue(
        RUN_JOB,
        str(run_id),
        str(org_id) if org_id else None,
        cap,
        job_id=str(run_id),
        result_ttl=300,
        failure_ttl=86400,
        rate_limit=limit,
    )


GRADE_JOB = "agent_platform.worker.grade_test_run"
# The agent worker takes this queue before `agents` and awaits gradings beside its runs.
GRADING_QUEUE = "grading"


def enqueue_grading(run_id: uuid.UUID) -> None:
    """Grade a finished test run on the `grading` queue; one job per run, however often asked."""
    queue(GRADING_QUEUE).enqueue(
        GRADE_JOB, str(run_id), job_id=f"grade-{run_id}", result_ttl=300, failure_ttl=86400
    )


BADGE_REFRESH_JOB = "agent_platform.worker.refresh_version_badges"


def enqueue_badge_refresh(agent_version_id: uuid.UUID) -> None:
    """Re-check the verified badge of every listing of this agent version (a suite run on it
    just ended). Idempotent: a second job asks the same question again."""
    queue("default").enqueue(
        BADGE_REFRESH_JOB, str(agent_version_id), result_ttl=300, failure_ttl=86400
    )
