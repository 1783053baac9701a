"""Suite runs that must close however their runs end, and verdicts counted once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session

from agent_platform import worker
from agent_platform.db import get_engine, session_scope
from agent_platform.models import AgentTest, Execution, ExecutionStatus, SuiteRunStatus
from agent_platform.redis_client import get_redis
from services import runs
from services.errors import Conflict
from services.queue import GRADING_QUEUE, queue
from services.runtime.events import cancel_key
from services.testing import grading, runner, suites
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import execute, make_agent, org_with_provider
from tests.services.test_testing_engine import (
    _case,
    _grade_all,
    _results,
    _start,
    _suite,
    _suite_run,
)


@pytest.fixture(scope="module")
def llm_server() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def llm(llm_server: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedLLM]:
    from agent_platform.settings import get_settings

    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    llm_server.reset()
    yield llm_server
    get_settings.cache_clear()


def test_a_test_run_cancelled_before_it_starts_is_graded_and_closes_its_suite(
    session: Session, llm: ScriptedLLM
) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="One", message="one")
    suite_run_id, [row] = _start(actor, suite_id)
    with session_scope() as s:
        runs.cancel_run(s, actor, row.execution_id)
    assert _grade_all() == 1
    done = _suite_run(suite_run_id)
    assert done.status == SuiteRunStatus.FAILED
    assert done.finished_runs == 1 and done.failed_cases == 1


def test_two_gradings_of_one_run_count_it_once(session: Session, llm: ScriptedLLM) -> None:
    """A grading job delivered twice (a retry, a sweep) must not count its run twice: the
    second waits for the first's verdict and then finds nothing left to grade."""
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="One", message="one")
    _case(session, actor, suite_id, name="Two", message="two")
    suite_run_id, rows = _start(actor, suite_id)
    llm.script(Turn(text="Hello."), model="gpt-a")
    run, _events = execute(rows[0].execution_id)
    assert run.status == ExecutionStatus.SUCCEEDED, run.error
    with session_scope() as s:
        first = grading.collect(s, rows[0].execution_id)
    with session_scope() as s:
        second = grading.collect(s, rows[0].execution_id)
    assert first is not None and second is not None
    verdict = asyncio.run(grading.evaluate(first, grading.call_judge))

    def record_second() -> None:
        with session_scope() as s:
            grading.record(s, second, verdict)

    with session_scope() as holder:
        grading.record(holder, first, verdict)
        other = threading.Thread(target=record_second)
        other.start()
        # Commit only once the second grading waits on a row lock the first one holds.
        _wait_for_a_lock_wait(other)
    other.join(timeout=30)
    assert not other.is_alive()
    done = _suite_run(suite_run_id)
    assert done.finished_runs == 1
    assert done.status == SuiteRunStatus.RUNNING


def test_a_cancel_racing_the_last_verdict_leaves_the_finished_suite_run_alone(
    session: Session, llm: ScriptedLLM
) -> None:
    """The last verdict closes the suite run while a person presses Cancel: the cancel waits,
    then says the run has finished, rather than turning a passed suite run into a cancelled one."""
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="One", message="one")
    suite_run_id, [row] = _start(actor, suite_id)
    llm.script(Turn(text="Hello."), model="gpt-a")
    run, _events = execute(row.execution_id)
    assert run.status == ExecutionStatus.SUCCEEDED, run.error
    with session_scope() as s:
        task = grading.collect(s, row.execution_id)
    assert task is not None
    verdict = asyncio.run(grading.evaluate(task, grading.call_judge))
    outcome: list[object] = []

    def cancel() -> None:
        try:
            with session_scope() as s:
                outcome.append(runner.cancel_suite_run(s, actor, suite_run_id).status)
        except Conflict as exc:
            outcome.append(exc)

    with session_scope() as holder:
        grading.record(holder, task, verdict)
        other = threading.Thread(target=cancel)
        other.start()
        _wait_for_a_lock_wait(other)
    other.join(timeout=30)
    assert not other.is_alive()
    assert isinstance(outcome[0], Conflict), outcome
    assert _suite_run(suite_run_id).status == SuiteRunStatus.PASSED


def _wait_for_a_lock_wait(thread: threading.Thread) -> None:
    """Return once `thread` waits on a row lock (or has ended): no guessed sleep."""
    while thread.is_alive():
        with get_engine().connect() as conn:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
            ).scalar_one()
        if waiting:
            return


def test_a_case_that_cannot_be_graded_fails_with_its_reason_and_the_suite_run_closes(
    session: Session, llm: ScriptedLLM
) -> None:
    """A case saved before a rule tightened no longer parses: the grading job records a failed
    verdict saying why instead of raising and leaving the suite run running for ever."""
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    case_id = _case(session, actor, suite_id, name="One", message="one")
    with session_scope() as s:
        case = s.get(AgentTest, case_id)
        assert case is not None
        case.assertions = [{"type": "sounds-right"}]
        s.add(case)
    suite_run_id, [row] = _start(actor, suite_id)
    llm.script(Turn(text="Hello."), model="gpt-a")
    execute(row.execution_id)
    assert _grade_all() == 1
    done = _suite_run(suite_run_id)
    assert done.status == SuiteRunStatus.FAILED and done.finished_runs == 1
    [result] = _results(suite_run_id)
    assert result.passed is False
    assert "unknown assertion type “sounds-right”" in result.details["grades"][0]["reason"]


def test_the_reconciler_grades_a_run_whose_grading_job_was_lost(
    session: Session, llm: ScriptedLLM
) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="One", message="one")
    suite_run_id, [row] = _start(actor, suite_id)
    llm.script(Turn(text="Hello."), model="gpt-a")
    execute(row.execution_id)
    queue(GRADING_QUEUE).empty()  # Redis lost the grading job
    assert worker.reconcile_runs()["gradings_requeued"] == 0  # it only just ended
    with session_scope() as s:
        run = s.get(Execution, row.execution_id)
        assert run is not None and run.finished_at is not None
        run.finished_at = run.finished_at - timedelta(hours=1)
        s.add(run)
    assert worker.reconcile_runs()["gradings_requeued"] == 1
    assert worker.reconcile_runs()["gradings_requeued"] == 0  # its job waits: not lost
    assert _grade_all() == 1
    done = _suite_run(suite_run_id)
    assert done.status == SuiteRunStatus.PASSED and done.finished_runs == 1
    assert worker.reconcile_runs()["gradings_requeued"] == 0


def test_a_run_claimed_while_its_suite_is_cancelled_gets_the_signal_and_is_not_skipped(
    session: Session, llm: ScriptedLLM
) -> None:
    """A worker claims a queued run at the moment Cancel reads it as queued: the run is not
    counted as skipped (it is running), and gets the cancel signal like any running run."""
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="One", message="one")
    suite_run_id, [row] = _start(actor, suite_id)
    assert row.execution_id is not None

    def cancel() -> None:
        with session_scope() as s:
            runner.cancel_suite_run(s, actor, suite_run_id)

    with session_scope() as worker_session:
        assert runs.claim(worker_session, row.execution_id)
        other = threading.Thread(target=cancel)
        other.start()
        _wait_for_a_lock_wait(other)
    other.join(timeout=30)
    assert not other.is_alive()
    [result] = _results(suite_run_id)
    assert result.graded_at is None  # graded when it stops, like any running run
    done = _suite_run(suite_run_id)
    assert done.status == SuiteRunStatus.CANCELLED and done.finished_runs == 0
    assert get_redis().get(cancel_key(row.execution_id)) == b"1"


def test_an_overruling_made_while_the_last_verdict_arrives_counts_in_the_summary(
    session: Session, llm: ScriptedLLM
) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="One", message="one")
    _case(session, actor, suite_id, name="Two", message="two")
    suite_run_id, rows = _start(actor, suite_id)
    llm.script(Turn(text="Hello."), model="gpt-a")
    llm.script(Turn(text="Hello."), model="gpt-a")
    for row in rows:
        execute(row.execution_id)
    with session_scope() as s:
        first = grading.collect(s, rows[0].execution_id)
        last = grading.collect(s, rows[1].execution_id)
    assert first is not None and last is not None
    with session_scope() as s:
        grading.record(s, first, asyncio.run(grading.evaluate(first, grading.call_judge)))
    verdict = asyncio.run(grading.evaluate(last, grading.call_judge))

    def record_last() -> None:
        with session_scope() as s:
            grading.record(s, last, verdict)

    with session_scope() as person:
        runner.overrule(person, actor, first.result_id, passed=False, note="Too curt.")
        other = threading.Thread(target=record_last)
        other.start()
        _wait_for_a_lock_wait(other)
    other.join(timeout=30)
    assert not other.is_alive()
    done = _suite_run(suite_run_id)
    assert (done.passed_cases, done.failed_cases) == (1, 1), done.summary
    assert done.status == SuiteRunStatus.FAILED


def test_cases_of_a_suite_run_in_progress_cannot_be_deleted_or_replaced(
    session: Session, llm: ScriptedLLM
) -> None:
    """Their results would go with them, and the suite run would wait for ever for runs it
    can no longer count."""
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    case_id = _case(session, actor, suite_id, name="One", message="one")
    suite_run_id, _rows = _start(actor, suite_id)
    yaml_text = "tests:\n  - vars: {message: hi}\n"
    with pytest.raises(Conflict, match="in progress"):
        suites.delete_case(session, actor, case_id)
    with pytest.raises(Conflict, match="in progress"):
        suites.import_yaml(session, actor, agent_id, yaml_text, suite_id=suite_id)
    with session_scope() as s:
        runner.cancel_suite_run(s, actor, suite_run_id)
    suites.delete_case(session, actor, case_id)
    suites.import_yaml(session, actor, agent_id, yaml_text, suite_id=suite_id)
