"""The agent worker: many runs at once on one asyncio loop, fed by RQ's `agents` queue —
and the gradings of finished test runs, from the `grading` queue (taken first, so a suite's
progress follows its runs closely; a grading is one judge call between reads and writes).

Why not one RQ job per process: model calls are I/O bound (seconds of waiting), so a forking
worker per concurrent run would need hundreds of processes. This process keeps RQ's queue and
job bookkeeping (dequeue, started/finished state, worker registration, heartbeats) and runs
up to RUN_CONCURRENCY runs concurrently. While a run is in flight its lease key is refreshed;
the reconciler fails runs whose lease expired (their worker died).

An organization's cap on runs at once is RQ's own `RateLimit` (services/queue.py): runs over
the cap wait in Redis and reach the queue only when a slot frees, so every job this worker
takes may run. RQ frees the slot when `handle_job_success`/`handle_job_failure` record the
outcome; the execution heartbeats and the registry upkeep here free the slots of a worker that
died (RQ's own workers do both; this one does not use their main loop).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from rq import Queue, Worker, worker_registration
from rq.exceptions import DequeueTimeout
from rq.executions import Execution as JobExecution
from rq.job import Job
from rq.utils import now
from rq.worker.base import WorkerStatus

from agent_platform.reachability import redacted
from agent_platform.redis_client import REDIS_DOWN, get_redis
from agent_platform.settings import get_settings
from services.queue import GRADING_QUEUE

log = logging.getLogger("agent_platform.run_worker")

MAINTENANCE_SECONDS = 60
# Jobs one round of taking may start. Measured (benchmarks/scale.py, 2 workers, 2,000 runs):
# 1: 166 runs/s, 2: 188, 4: 186-189, 8: 170-177, 16: 157, 32: 155 — a bigger round starts
# its runs' database work all at once, and the threads then queue for the GIL and the pool.
TAKE_AT_ONCE = 4

# LPOP with a count from each queue in order until `ARGV[1]` ids are taken: one round trip.
POP_IN_ORDER = """
local taken = {}
for _, key in ipairs(KEYS) do
  local want = tonumber(ARGV[1]) - #taken
  if want <= 0 then break end
  local ids = redis.call('LPOP', key, want)
  if ids then
    for _, id in ipairs(ids) do taken[#taken + 1] = {key, id} end
  end
end
return taken
"""


def lease_key(run_id: uuid.UUID | str) -> str:
    return f"run:{run_id}:lease"


def leased(run_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these runs a live worker still holds."""
    if not run_ids:
        return set()
    # redis-py types its sync and async clients alike (Awaitable | Any); ours is sync.
    values = cast("list[bytes | None]", get_redis().mget([lease_key(r) for r in run_ids]))
    return {r for r, v in zip(run_ids, values, strict=True) if v is not None}


def ensure_registered(worker: Worker) -> None:
    """Register `worker` again if Redis forgot it (its hash lost its birth field)."""
    redis = worker.connection
    if redis.hexists(worker.key, "birth"):
        return
    log.warning("Redis forgot worker %s (restart or flush); registering it again", worker.name)
    with redis.pipeline() as pipe:
        pipe.hset(worker.key, mapping=worker.serialize())
        worker_registration.register(worker, pipe)
        pipe.expire(worker.key, worker.worker_ttl + 60)
        pipe.execute()


class AsyncRunWorker:
    def __init__(self, *, concurrency: int | None = None, burst: bool = False) -> None:
        settings = get_settings()
        self.concurrency = concurrency or settings.run_concurrency
        self.burst = burst
        self.lease = settings.run_lease_seconds
        self.name = f"agents-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.inflight: dict[str, tuple[Job, JobExecution]] = {}
        self.stopping = asyncio.Event()
        self.redis_down_since: float | None = None

    async def main(self) -> None:
        loop = asyncio.get_running_loop()
        # As many threads as database connections: a thread more would only wait for one.
        settings = get_settings()
        threads = settings.db_pool_size + settings.db_pool_overflow
        pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="run-db")
        loop.set_default_executor(pool)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        url = get_settings().resolved_redis_url
        self.redis = AsyncRedis.from_url(url, max_connections=max(32, self.concurrency))
        self.dequeue_redis = Redis.from_url(url, socket_timeout=10)
        self.queues = [
            Queue(GRADING_QUEUE, connection=self.dequeue_redis),
            Queue("agents", connection=self.dequeue_redis),
        ]
        self.rq_worker = Worker(self.queues, connection=get_redis(), name=self.name)
        self._pop_script = self.dequeue_redis.register_script(POP_IN_ORDER)
        await asyncio.to_thread(self.rq_worker.register_birth)
        tasks: set[asyncio.Task[None]] = set()
        freed = asyncio.Event()

        def ended(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            freed.set()

        housekeeping = asyncio.create_task(self._housekeeping())
        try:
            while not self.stopping.is_set():
                room = self.concurrency - len(tasks)
                if room <= 0:
                    freed.clear()
                    await freed.wait()
                    continue
                taken = await asyncio.to_thread(self._take, min(room, TAKE_AT_ONCE))
                if not taken:
                    if self.burst and not tasks:
                        break
                    continue
                for job, queue, execution in taken:
                    task = asyncio.create_task(self._perform(job, queue, execution))
                    tasks.add(task)
                    task.add_done_callback(ended)
        finally:
            if tasks:
                log.info("waiting for %d runs to finish", len(tasks))
                await asyncio.wait(tasks, timeout=30)
            housekeeping.cancel()
            try:
                await asyncio.to_thread(self.rq_worker.register_death)
            except REDIS_DOWN:
                pass
            await self.redis.aclose()

    def _take(self, room: int) -> list[tuple[Job, Queue, JobExecution]]:
        """Up to `room` jobs, gradings first, taken and marked started in three round trips
        however many there are (one job at a time cost five, and a thread hop each); when
        both queues are empty, waits up to a second for one. A Redis outage is one log line
        and a retry (the worker must come back by itself when Redis does, not die and wait
        for a person); jobs popped just before an outage are found by the reconciler, as
        after any crash between a pop and the start."""
        import time

        try:
            found = self._pop(room)
            if not found:
                try:
                    one = Queue.dequeue_any(self.queues, 1, connection=self.dequeue_redis)
                except DequeueTimeout:
                    one = None
                found = [one] if one is not None else []
            taken = self._mark_started(found) if found else []
        except REDIS_DOWN as exc:
            if self.redis_down_since is None:
                self.redis_down_since = time.time()
                url = redacted(get_settings().resolved_redis_url)
                log.error("Redis %s does not answer (%s); retrying", url, exc)
            time.sleep(1.0)
            return []
        except Exception:  # noqa: BLE001 - e.g. a job hash RQ cannot read: the worker goes on
            log.exception(
                "could not take jobs; retrying in a second (the reconciler re-queues "
                "runs whose jobs were popped)"
            )
            time.sleep(1.0)  # sleep-ok: not a busy loop over a lasting fault
            return []
        if self.redis_down_since is not None:
            log.warning("Redis answers again after %.0f s", time.time() - self.redis_down_since)
            self.redis_down_since = None
        return taken

    def _pop(self, room: int) -> list[tuple[Job, Queue]]:
        """Without waiting: up to `room` job ids off the queues in their order (one script),
        then their jobs (one pipeline). A job whose hash is gone is skipped, as RQ does."""
        popped = cast(
            "list[list[bytes]]",
            self._pop_script(keys=[q.key for q in self.queues], args=[room]),
        )
        if not popped:
            return []
        by_key = {q.key: q for q in self.queues}
        jobs = Job.fetch_many([job_id.decode() for _, job_id in popped], self.dequeue_redis)
        return [
            (job, by_key[key.decode()])
            for (key, _), job in zip(popped, jobs, strict=True)
            if job is not None
        ]

    async def _perform(self, job: Job, queue: Queue, execution: JobExecution) -> None:
        if queue.name == GRADING_QUEUE:
            await self._grade(job, queue, execution)
            return
        from agent_platform.db import session_scope
        from services.runtime import engine

        run_id = job.id  # a run's job id is its id (services.queue.enqueue_run): no unpickling
        lease = lease_key(run_id)
        try:
            self.inflight[run_id] = (job, execution)
            # The run commits step by step; each step's transaction is this wrapper's.
            status = await engine.execute(session_scope, uuid.UUID(run_id), self.redis)
            self.inflight.pop(run_id, None)  # before the lease goes: no refresh brings it back
            await asyncio.to_thread(
                self._mark_finished, job, queue, execution, status.value if status else None, lease
            )
        except Exception:  # noqa: BLE001 - the run row already says what happened
            log.exception("run %s crashed in the worker", run_id)
            self.inflight.pop(run_id, None)
            try:
                await asyncio.to_thread(self._mark_failed, job, queue, execution, lease)
            except REDIS_DOWN:
                pass  # the run row is the record; RQ's registries and leases expire by themselves
        finally:
            self.inflight.pop(run_id, None)

    async def _grade(self, job: Job, queue: Queue, execution: JobExecution) -> None:
        """A grading job: no lease (a lost grading is found by the reconciler's sweep of test
        runs without a verdict, not by a lease), RQ's bookkeeping as for a run."""
        from agent_platform import grading_job

        try:
            verdict = await grading_job.grade(uuid.UUID(job.args[0]))
            await asyncio.to_thread(self._mark_finished, job, queue, execution, verdict)
        except Exception:  # noqa: BLE001 - the job fails; the reconciler grades the run again
            log.exception("grading %s crashed in the worker", job.id)
            try:
                await asyncio.to_thread(self._mark_failed, job, queue, execution)
            except REDIS_DOWN:
                pass

    def _mark_started(
        self, found: list[tuple[Job, Queue]]
    ) -> list[tuple[Job, Queue, JobExecution]]:
        """RQ's own bookkeeping of each job's start (an execution record, the started registry,
        the job's status: what `prepare_execution` and `prepare_for_execution` write) and each
        run's lease, for all of them in one pipeline."""
        taken = []
        with self.dequeue_redis.pipeline() as pipe:
            for job, queue in found:
                ttl = self.rq_worker.get_heartbeat_ttl(job)
                execution = JobExecution.create(job, ttl, pipeline=pipe, worker_name=self.name)
                self.rq_worker.executions[execution.id] = execution
                job.prepare_for_execution(self.name, pipe)
                # Off the intermediate list, as RQ's worker does: empty while we pop with LPOP,
                # but RQ's own dequeue of a single queue moves jobs there (its upkeep would
                # fail them otherwise).
                pipe.lrem(queue.intermediate_queue_key, 1, job.id)
                if queue.name != GRADING_QUEUE:
                    pipe.set(lease_key(job.id), self.name, ex=self.lease)
                taken.append((job, queue, execution))
            self.rq_worker.set_state(WorkerStatus.BUSY, pipeline=pipe)
            pipe.execute()
        return taken

    def _mark_finished(
        self,
        job: Job,
        queue: Queue,
        execution: JobExecution,
        result: str | None,
        lease: str | None = None,
    ) -> None:
        """RQ's record of the outcome, which also frees the organization's slot; the run's
        lease goes first, on this thread's connection (the loop's client costs more per call)."""
        if lease is not None:
            self.dequeue_redis.delete(lease)
        job._result = result
        job.ended_at = now()
        self.rq_worker.handle_job_success(job, queue, job.started_job_registry, execution)

    def _mark_failed(
        self, job: Job, queue: Queue, execution: JobExecution, lease: str | None = None
    ) -> None:
        if lease is not None:
            self.dequeue_redis.delete(lease)
        job.ended_at = now()
        self.rq_worker.handle_job_failure(
            job,
            queue,
            exc_string="run crashed in the worker; see its log",
            execution=execution,
        )

    async def _housekeeping(self) -> None:
        """Refresh leases and the worker heartbeat every few seconds, through Redis outages
        (a restarted Redis gets the leases and the worker's registration back), and keep RQ's
        registries of its queues every MAINTENANCE_SECONDS."""
        loop = asyncio.get_running_loop()
        maintained = loop.time()
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                await self._refresh()
                if loop.time() - maintained >= MAINTENANCE_SECONDS:
                    maintained = loop.time()
                    await asyncio.to_thread(self._maintain)
            except REDIS_DOWN:
                pass  # _dequeue logs the outage once

    async def _refresh(self) -> None:
        if self.inflight:
            pipe = self.redis.pipeline(transaction=False)
            for run_id in list(self.inflight):
                pipe.set(lease_key(run_id), self.name, ex=self.lease)
            await pipe.execute()
            await asyncio.to_thread(self._beat_executions)
        await asyncio.to_thread(ensure_registered, self.rq_worker)
        await asyncio.to_thread(self.rq_worker.heartbeat)

    def _beat_executions(self) -> None:
        """Keep RQ's executions of the runs in flight alive, so the registry upkeep below never
        takes a long run for a dead worker's (and frees its slot while it still runs)."""
        ttl = self.rq_worker.job_monitoring_interval + 60
        with self.dequeue_redis.pipeline() as pipe:
            for job, execution in list(self.inflight.values()):
                execution.heartbeat(job.started_job_registry, ttl, pipe)
            pipe.execute()

    def _maintain(self) -> None:
        """RQ's registry upkeep for its queues, once across workers (RQ's lock): a dead
        worker's jobs fail once their executions stop beating, which frees their
        organizations' slots and promotes waiting runs; leaked slots are freed too."""
        self.rq_worker.clean_registries()


def run(*, concurrency: int | None = None, burst: bool = False) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # noqa: F401 - import once in the parent, never per run (~2.5 s)

    from agent_platform import grading_job  # noqa: F401 - loaded before the loop, not in it

    logging.getLogger("rq.worker").setLevel(logging.WARNING)  # one INFO line per job is noise
    asyncio.run(AsyncRunWorker(concurrency=concurrency, burst=burst).main())
