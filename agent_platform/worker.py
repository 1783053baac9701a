"""RQ job entry points and the worker processes. Jobs are thin: load ids, call a service."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

from redis.client import Pipeline
from rq import Queue, Worker
from rq.executions import Execution as JobExecution
from rq.job import Job, JobStatus
from rq_scheduler import Scheduler

from agent_platform.observability import metrics, tracing
from agent_platform.reachability import redacted
from agent_platform.redis_client import REDIS_DOWN, get_redis
from agent_platform.run_worker import ensure_registered, lease_key, leased
from services.queue import enqueue_grading, queue

log = logging.getLogger("agent_platform.worker")

QUEUES = ("agents", "grading", "testing", "integrations", "default")
GENERAL_QUEUES = ("testing", "integrations", "default")


def ping(value: str = "pong") -> str:
    """Trivial job used by readiness checks and tests to prove a worker consumes its queues."""
    return value


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


def grade_test_run(run_id: str) -> str | None:
    """Job body when a plain RQ worker takes a `grading` job (the agent worker awaits the same
    coroutine beside its runs, which is much faster: no fork per grading)."""
    from agent_platform import grading_job

    return asyncio.run(grading_job.grade(uuid.UUID(run_id)))


def score_online_run(rule_id: str, run_id: str) -> str | None:
    """Score one sampled production run against its evaluation rule (alerting when low)."""
    from agent_platform.db import session_scope
    from services.testing import grading, online

    with session_scope() as session:
        task = online.collect(session, uuid.UUID(rule_id), uuid.UUID(run_id))
    if task is None:
        return None
    evaluation = asyncio.run(grading.evaluate(task, grading.call_judge))
    with session_scope() as session:
        online.record(session, task, evaluation)
    return f"{evaluation.score:.2f}"


def deliver_quality_alert(alert_id: str) -> str:
    """POST one quality alert to its webhook through the outbound guard; the outcome is kept."""
    from agent_platform.db import session_scope
    from services.testing import alerts

    with session_scope() as session:
        target = alerts.delivery_target(session, uuid.UUID(alert_id))
    if target is None:
        return "nothing to deliver"
    url, body, hosts = target
    error = asyncio.run(alerts.post(url, body, hosts))
    with session_scope() as session:
        alerts.record_delivery(session, uuid.UUID(alert_id), error)
    return error or "delivered"


def sample_online_runs() -> int:
    """Choose the production runs the evaluation rules score (run by the scheduler's loop)."""
    from agent_platform.db import session_scope
    from services.testing import online

    with session_scope() as session:
        return len(online.sample(session))


def execute_run(run_id: str, org_id: str | None = None, cap: int = -1) -> str | None:
    """Job body when a plain RQ worker takes an `agents` job (the async worker is faster)."""
    from redis.asyncio import Redis as AsyncRedis

    from agent_platform.db import session_scope
    from agent_platform.settings import get_settings
    from services.runtime import engine

    async def _run() -> str | None:
        redis = AsyncRedis.from_url(get_settings().resolved_redis_url)
        try:
            status = await engine.execute(session_scope, uuid.UUID(run_id), redis)
            return status.value if status else None
        finally:
            await redis.aclose()

    return asyncio.run(_run())


def waiting(run_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these queued runs Redis still holds a job for: in the `agents` queue, waiting
    for a slot under its organization's cap (RQ's rate_limited status), or taken by a worker
    that holds its lease. Any other queued run was lost by Redis (a crash, a flush, a restart
    without persistence) or by a worker that died between dequeue and start."""
    if not run_ids:
        return set()
    redis = get_redis()
    # redis-py types its sync and async clients alike (Awaitable | Any); ours is sync.
    queued = {i.decode() for i in cast("list[bytes]", redis.lrange(queue("agents").key, 0, -1))}
    leases = cast("list[bytes | None]", redis.mget([lease_key(r) for r in run_ids]))
    with redis.pipeline(transaction=False) as pipe:
        for run_id in run_ids:
            pipe.hget(Job.key_for(str(run_id)), "status")
        statuses = pipe.execute()
    held = set()
    for run_id, lease, status in zip(run_ids, leases, statuses, strict=True):
        if lease is not None or str(run_id) in queued or status == JobStatus.RATE_LIMITED.encode():
            held.add(run_id)
    return held


def requeue_gradings(run_ids: list[uuid.UUID]) -> int:
    """Enqueue grading again for test runs left without a verdict, except those whose grading
    job is still waiting or working (a long queue is slow, not lost)."""
    if not run_ids:
        return 0
    redis = get_redis()
    with redis.pipeline(transaction=False) as pipe:
        for run_id in run_ids:
            pipe.hget(Job.key_for(f"grade-{run_id}"), "status")
        statuses = pipe.execute()
    busy = {
        status.encode()
        for status in (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED)
    }
    lost = [run_id for run_id, status in zip(run_ids, statuses, strict=True) if status not in busy]
    for run_id in lost:
        enqueue_grading(run_id)
    return len(lost)


def reconcile_runs() -> dict[str, int]:
    """Periodic job (kept registered by the scheduler process): unstick runs after crashes."""
    from datetime import timedelta

    from agent_platform.db import session_scope
    from agent_platform.settings import get_settings
    from services import runs
    from services.memory import ingest
    from services.testing import grading

    grace = timedelta(seconds=2 * get_settings().run_lease_seconds)
    with session_scope() as session:
        outcome = runs.reconcile(session, alive=leased, waiting=waiting, lease_grace=grace)
    with session_scope() as session:
        outcome["documents_requeued"] = ingest.requeue_lost(session)
    with session_scope() as session:
        ungraded = grading.stranded(session, older_than=grace)
    outcome["gradings_requeued"] = requeue_gradings(ungraded)
    beat(RECONCILER_BEAT)
    return outcome


def recheck_marketplace_badges() -> int:
    """Periodic job: ask the testing engine again whether listed versions are verified; a
    failing or stale answer takes the badge away (services.marketplace.badges)."""
    from agent_platform.db import session_scope
    from services.marketplace import badges

    with session_scope() as session:
        return badges.recheck_badges(session)


def maintain_executions() -> dict[str, object]:
    """Periodic job (daily): next months' partitions of the runs table made ahead, runs older
    than EXECUTION_RETENTION_MONTHS dropped, a month per transaction
    (agent_platform.execution_upkeep)."""
    from agent_platform.execution_upkeep import upkeep_executions
    from agent_platform.settings import get_settings

    months = get_settings().execution_retention_months
    upkeep = upkeep_executions(now=datetime.now(UTC), retention_months=months)
    if upkeep.refused:
        log.warning(
            "runs of %s sit in the default partition; those months stay unpartitioned",
            ", ".join(upkeep.refused),
        )
    return dataclasses.asdict(upkeep)


def refresh_version_badges(agent_version_id: str) -> int:
    """Job: a suite run on this agent version ended; its listings' badges are asked again now
    rather than at the next hourly re-check (services.testing.closing enqueues it)."""
    from agent_platform.db import session_scope
    from services.marketplace import badges

    with session_scope() as session:
        return badges.refresh_badges_of(session, uuid.UUID(agent_version_id))


def fire_schedules() -> int:
    """One schedule tick in its own transaction (the DB decides what fires; see
    services.schedule_tick): run by every scheduler process, however many there are."""
    from datetime import timedelta

    from agent_platform.db import session_scope
    from agent_platform.settings import get_settings
    from services import schedule_tick

    settings = get_settings()
    with session_scope() as session:
        result = schedule_tick.tick(
            session,
            batch=settings.schedule_tick_batch,
            misfire_grace=timedelta(seconds=settings.schedule_misfire_grace_seconds),
        )
    return result.schedules


def requeue_lost_fires() -> int:
    """Fires recorded in the database whose job Redis lost (restart, flush): enqueue again."""
    from agent_platform.db import session_scope
    from services import schedule_tick

    with session_scope() as session:
        return schedule_tick.requeue_lost(session, waiting=waiting)


class PlatformWorker(Worker):
    """RQ's worker, registering itself again when Redis lost its registration.

    RQ keeps retrying after a Redis outage, but a restarted or flushed Redis no longer lists
    the worker, so `/ready` would report no workers while every queue is being served."""

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        if pipeline is None:
            ensure_registered(self)
        super().heartbeat(timeout, pipeline)

    def perform_job(self, job: Job, queue: Queue, execution: JobExecution) -> bool:
        """In the forked horse: its spans are sent before it ends with `os._exit`."""
        try:
            return super().perform_job(job, queue, execution)
        finally:
            tracing.flush()

    def monitor_work_horse(self, job: Job, queue: Queue, execution: JobExecution) -> None:
        """In the parent, once the horse is gone: its metric files are folded into ours, so
        a fork per job does not leave a file per job (observability/metrics.py)."""
        horse = self.horse_pid
        try:
            super().monitor_work_horse(job, queue, execution)
        finally:
            if horse:
                metrics.fold_dead_process(horse)


def run_worker(queues: list[str], *, burst: bool = False) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    if "testing" in queues:
        # Grading jobs call judge models: import the grading path and LiteLLM once, here, so
        # every forked job starts with them loaded.
        from services.llm import gateway
        from services.testing import grading  # noqa: F401 - imported for the forked jobs

        gateway.preload()
    worker = PlatformWorker([queue(q) for q in queues], connection=get_redis())
    worker.work(burst=burst, logging_level="WARNING")


RECONCILE_EVERY_SECONDS = 10
TICK_OFFSET_SECONDS = 0.005
RECONCILE_JOB = "reconcile-runs"
BADGE_RECHECK_EVERY_SECONDS = 3600
BADGE_JOB = "marketplace-badges"
EXECUTIONS_UPKEEP_EVERY_SECONDS = 86400
EXECUTIONS_UPKEEP_JOB = "executions-upkeep"
STRIPE_EVENTS_EVERY_SECONDS = 60
STRIPE_EVENTS_JOB = "stripe-events-requeue"
# Sellers' service-run earnings are paid per ended month; checked daily, so a month is paid on
# the first run after it ends (or once the seller's account can receive payouts).
SERVICE_PAYOUTS_EVERY_SECONDS = 86400
SERVICE_PAYOUTS_JOB = "service-payouts"
SCHEDULER_BEAT = "platform:beat:scheduler"
RECONCILER_BEAT = "platform:beat:reconciler"


def beat(key: str) -> None:
    """Record that a periodic part of the platform just ran (read by `/ready`)."""
    get_redis().set(key, str(time.time()), ex=86400)


def last_beat(key: str) -> float | None:
    value = cast("bytes | None", get_redis().get(key))  # a sync client (see waiting())
    return float(value) if value is not None else None


def requeue_stripe_events() -> int:
    """Stripe webhook events whose job never finished, queued again (periodic)."""
    from agent_platform import billing_jobs

    return billing_jobs.requeue_stripe_events()


def pay_service_earnings() -> int:
    """Sellers' ended months of service-run earnings, transferred (periodic)."""
    from agent_platform import billing_jobs

    return billing_jobs.pay_service_earnings()


def schedule_periodic_jobs(scheduler: Scheduler) -> None:
    """Register the platform's own periodic jobs if Redis does not hold them.

    Called on every scheduler tick, not once at start: Redis may lose them (a crash without
    persistence, a flush, a failover), and a reconciler that never runs again leaves runs
    stuck for ever. The fixed ids keep one registration each."""
    periodic = [
        (RECONCILE_JOB, reconcile_runs, RECONCILE_EVERY_SECONDS),
        (BADGE_JOB, recheck_marketplace_badges, BADGE_RECHECK_EVERY_SECONDS),
        (EXECUTIONS_UPKEEP_JOB, maintain_executions, EXECUTIONS_UPKEEP_EVERY_SECONDS),
        (STRIPE_EVENTS_JOB, requeue_stripe_events, STRIPE_EVENTS_EVERY_SECONDS),
        (SERVICE_PAYOUTS_JOB, pay_service_earnings, SERVICE_PAYOUTS_EVERY_SECONDS),
    ]
    for job_id, func, every in periodic:
        if job_id in scheduler:
            continue
        scheduler.schedule(
            scheduled_time=datetime.now(UTC),
            func=func,
            interval=every,
            repeat=None,
            id=job_id,
            queue_name="default",
            result_ttl=60,
        )


class PlatformScheduler(Scheduler):  # type: ignore[misc]  # rq-scheduler ships no types
    """rq-scheduler that keeps the periodic jobs registered, beats, and outlives Redis outages.

    rq-scheduler's own loop dies on the first connection error and registers its jobs only
    when it starts; here each tick re-checks them and a Redis outage is one log line and a
    retry, so the reconciler comes back by itself when Redis does."""

    def run(self, burst: bool = False) -> None:
        from agent_platform.settings import get_settings

        url = redacted(get_settings().resolved_redis_url)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _exit)
        try:
            self._loop(url, burst)
        finally:
            try:
                self.remove_lock()
                self.register_death()
            except REDIS_DOWN:
                pass

    def _loop(self, url: str, burst: bool) -> None:
        from agent_platform.settings import get_settings

        down_since: float | None = None
        registered = False
        every = min(self._interval, get_settings().schedule_tick_seconds)
        last_requeue = 0.0
        while True:
            try:
                if not registered:
                    self.register_birth()
                    registered = True
                self.heartbeat()
                started = time.monotonic()
                if self.acquire_lock():
                    schedule_periodic_jobs(self)
                    self.enqueue_jobs()
                    self.remove_lock()
                _tick_schedules()
                if started - last_requeue >= RECONCILE_EVERY_SECONDS:
                    last_requeue = started
                    _guarded(requeue_lost_fires)
                    _guarded(sample_online_runs)
                beat(SCHEDULER_BEAT)
                if down_since is not None:
                    log.warning("Redis answers again after %.0f s", time.time() - down_since)
                    down_since = None
                if burst:
                    break
                # Just after the next multiple of `every` on the clock: fire times are whole
                # seconds (cron minutes, intervals from a whole second), so a tick then finds
                # them due at once instead of up to a whole tick later.
                time.sleep(every - time.time() % every + TICK_OFFSET_SECONDS)
            except REDIS_DOWN as exc:
                if down_since is None:
                    down_since = time.time()
                    log.error("Redis %s does not answer (%s); retrying", url, exc)
                time.sleep(1.0)
            except ValueError as exc:  # register_birth: a previous life's key has not expired
                log.warning("%s; waiting for it to expire", exc)
                time.sleep(1.0)


def _tick_schedules() -> None:
    """Fire due schedules; while a tick finds a full batch, tick again at once."""
    from agent_platform.settings import get_settings

    batch = get_settings().schedule_tick_batch
    for _ in range(100):  # bounded: the loop must still beat and serve rq-scheduler
        if _guarded(fire_schedules) < batch:
            return


def _guarded(job: Callable[[], int]) -> int:
    """A database outage or a bug in one tick is logged; the loop (and rq-scheduler) goes on."""
    try:
        return job()
    except REDIS_DOWN:
        raise
    except Exception:
        log.exception("%s failed; trying again at the next tick", job.__name__)
        return 0


def _exit(_signum: int, _frame: object) -> None:
    raise SystemExit(0)
