"""The async agent worker as a real process: runs many runs, and a SIGKILL leaves nothing stuck."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from rq import Queue, Worker
from rq.job import Job

from agent_platform.db import session_scope
from agent_platform.models import Execution, ExecutionStatus
from agent_platform.redis_client import get_redis
from agent_platform.run_worker import lease_key
from agent_platform.settings import get_settings
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.plans import billing_on  # noqa: F401 - fixture
from tests.services.runtime_helpers import make_agent, org_with_provider, start
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def llm(llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    """Short leases, so a killed worker's run is seen as orphaned within seconds."""
    monkeypatch.setenv("RUN_LEASE_SECONDS", "1")
    get_settings.cache_clear()
    return llm


def spawn_worker() -> subprocess.Popen[bytes]:
    """An agent worker process, returned once it has registered with RQ (its imports take
    seconds, many more on a loaded machine; the timed waits of a test start after them)."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "agent_platform", "agent-worker", "--concurrency", "50"],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=open(LOG, "wb"),  # noqa: SIM115 - read by the assertions on failure
    )
    agents = Queue("agents", connection=get_redis())
    registered = wait_for(lambda: Worker.count(queue=agents) > 0 or worker.poll() is not None, 180)
    assert registered and worker.poll() is None, worker_log()
    return worker


LOG = Path("/tmp") / f"agent-worker-test-{os.getpid()}.log"


def worker_log() -> str:
    return LOG.read_text(errors="replace")[-3000:] if LOG.exists() else ""


def status_of(run_id: uuid.UUID) -> ExecutionStatus:
    with session_scope() as s:
        return s.get(Execution, run_id).status


def wait_for(predicate, timeout: float = 60) -> bool:
    try:
        return bool(wait_until(predicate, timeout))
    except AssertionError:
        return False


def test_worker_runs_many_runs_concurrently_and_records_rq_results(session, llm) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    llm.set_default(Turn(text="done", delay=2.0))  # under the 3 s first-token limit
    run_ids = [start(actor, agent_id, f"q{i}") for i in range(2)]
    worker = spawn_worker()
    try:
        # Concurrency as an order of events, not a stopwatch: both model calls are in flight
        # before either run finishes (one at a time, the second call starts after the first
        # run has succeeded).
        assert wait_for(lambda: len(llm.requests) >= 2), worker_log()
        assert [status_of(r) for r in run_ids] == [ExecutionStatus.RUNNING] * 2
        assert wait_for(lambda: all(status_of(r) == ExecutionStatus.SUCCEEDED for r in run_ids)), [
            status_of(r) for r in run_ids
        ]
        # RQ records the outcome just after the run's commit (which the wait above saw).
        for run_id in run_ids:
            job = Job.fetch(str(run_id), connection=get_redis())
            assert wait_for(lambda job=job: job.get_status() == "finished", 10), job.get_status()
            assert job.return_value() == "succeeded"
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0, worker_log()


@pytest.mark.usefixtures("billing_on")  # the starter tier's cap applies only with billing on
def test_the_org_concurrency_cap_holds_runs_back(session, llm) -> None:
    actor = org_with_provider(session, llm.base_url)  # starter: 2 concurrent runs
    agent_id = make_agent(session, actor)
    llm.set_default(Turn(text="done", delay=1.5))
    run_ids = [start(actor, agent_id, f"q{i}") for i in range(4)]
    worker = spawn_worker()
    try:
        assert wait_for(
            lambda: sum(status_of(r) == ExecutionStatus.RUNNING for r in run_ids) == 2, 20
        ), ([status_of(r) for r in run_ids], worker_log())
        # At most two hold a slot; the others wait in Redis (RQ's rate-limit registry), not in
        # the worker, or are done.
        jobs = [Job.fetch(str(r), connection=get_redis()).get_status() for r in run_ids]
        assert sum(s in ("queued", "started") for s in jobs) <= 2, jobs
        assert all(s in ("queued", "started", "rate_limited", "finished") for s in jobs), jobs
        assert wait_for(lambda: all(status_of(r) == ExecutionStatus.SUCCEEDED for r in run_ids), 30)
        # Seen from the model's side over the whole run: never more than two calls at once.
        assert len(llm.requests) == 4 and llm.peak_in_flight == 2
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)


def test_sigkill_mid_run_ends_failed_never_stuck(session, llm) -> None:
    from agent_platform.worker import reconcile_runs

    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor, timeout_seconds=120, first_token_timeout_seconds=60)
    llm.set_default(Turn(text="too late", delay=30))
    run_id = start(actor, agent_id)
    worker = spawn_worker()
    assert wait_for(lambda: status_of(run_id) == ExecutionStatus.RUNNING, 30)
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    assert status_of(run_id) == ExecutionStatus.RUNNING  # nobody finished it...
    # ...its lease (1 s) lapses in Redis, then the grace (2 s) passes and the reconciler fails it.
    wait_until(lambda: not get_redis().exists(lease_key(run_id)), 10, what="the lease lapsed")
    outcome = wait_until(
        lambda: (o := reconcile_runs())["failed"] and o, 10, what="the reconciler failed the run"
    )
    assert outcome["failed"] == 1
    assert status_of(run_id) == ExecutionStatus.FAILED
    with session_scope() as s:
        assert "worker running this run stopped" in s.get(Execution, run_id).error


def test_a_job_rq_cannot_read_does_not_stop_the_worker(session, llm) -> None:
    """A corrupt job hash on the queue (RQ raises reading it): logged, and the worker goes
    on to take and run the next run instead of exiting."""
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    llm.set_default(Turn(text="done"))
    redis = get_redis()
    redis.hset("rq:job:not-a-run", mapping={"created_at": "not a date", "status": "queued"})
    redis.rpush(Queue("agents", connection=redis).key, "not-a-run")
    worker = spawn_worker()
    try:
        assert wait_for(lambda: "could not take jobs" in worker_log(), 30), worker_log()
        run_id = start(actor, agent_id)
        assert wait_for(lambda: status_of(run_id) == ExecutionStatus.SUCCEEDED, 30), worker_log()
        assert worker.poll() is None
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
