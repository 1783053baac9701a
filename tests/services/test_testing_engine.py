"""Suites run end to end: real runs of the agent, graded by a real RQ worker on the testing queue,
a scripted model server as the agent's model and as the judge."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rq import SimpleWorker
from rq.job import JobStatus
from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import (
    Agent,
    Execution,
    ExecutionStatus,
    Schedule,
    ScheduleFire,
    SuiteRun,
    SuiteRunStatus,
    TestResult,
)
from agent_platform.redis_client import get_redis
from services import (
    agent_publishing,
    agents,
    dashboard,
    model_prices,
    schedule_tick,
    schedules,
)
from services.access import Actor
from services.errors import Conflict, Invalid, NotFound
from services.queue import GRADING_QUEUE, queue
from services.testing import runner, suite_schedules, suites
from tests.factories import make_user, personal_actor
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import execute, make_agent, org_with_provider, start


def _verdict(*scores: float) -> Turn:
    items = ", ".join(
        f'{{"id": {i + 1}, "score": {s}, "reason": "judged {s}"}}' for i, s in enumerate(scores)
    )
    return Turn(text=f'{{"criteria": [{items}]}}')


def _suite(session: Session, actor: Actor, agent_id: uuid.UUID, **values: Any) -> uuid.UUID:
    suite = suites.create_suite(
        session, actor, agent_id, {"name": "Support", "judge_models": ["fake/gpt-b"], **values}
    )
    session.commit()
    return suite.id


def _case(session: Session, actor: Actor, suite_id: uuid.UUID, **values: Any) -> uuid.UUID:
    case = suites.add_case(session, actor, suite_id, values)
    session.commit()
    return case.id


def _start(actor: Actor, suite_id: uuid.UUID, **kwargs: Any) -> tuple[uuid.UUID, list[TestResult]]:
    with session_scope() as s:
        suite_run_id = runner.start_suite_run(s, actor, suite_id, **kwargs).id
    with session_scope() as s:
        rows = list(
            s.exec(
                select(TestResult)
                .where(TestResult.suite_run_id == suite_run_id)
                .order_by(TestResult.repeat_index, TestResult.created_at)
            ).all()
        )
        for row in rows:
            s.expunge(row)
    return suite_run_id, rows


def _config(session: Session, agent_id: uuid.UUID) -> dict[str, Any]:
    agent = session.get(Agent, agent_id)
    assert agent is not None
    return dict(agent.config)


def _grade_all() -> int:
    """Let a real RQ worker take every grading job off the grading queue."""
    grading = queue(GRADING_QUEUE)
    jobs = grading.get_jobs()
    SimpleWorker([grading], connection=get_redis()).work(burst=True)
    finished = [job for job in jobs if job.get_status(refresh=True) == JobStatus.FINISHED]
    return len(finished)


def _suite_run(suite_run_id: uuid.UUID) -> SuiteRun:
    with session_scope() as s:
        row = s.get(SuiteRun, suite_run_id)
        assert row is not None
        s.expunge(row)
        return row


def _results(suite_run_id: uuid.UUID) -> list[TestResult]:
    with session_scope() as s:
        rows = list(s.exec(select(TestResult).where(TestResult.suite_run_id == suite_run_id)).all())
        for row in rows:
            s.expunge(row)
        return rows


def test_a_suite_runs_grades_and_sums_up(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor, instructions="Answer support questions.")
    suite_id = _suite(session, actor, agent_id)
    refund = _case(
        session,
        actor,
        suite_id,
        name="Refund window",
        message="How long do I have to return a parcel?",
        assertions=[
            {"type": "icontains", "value": "30 days"},
            {"type": "llm-rubric", "value": "Says the parcel must be unused", "threshold": 0.7},
        ],
    )
    greet = _case(
        session,
        actor,
        suite_id,
        name="Greeting",
        message="Hi!",
        assertions=[{"type": "not-icontains", "value": "as an ai"}, {"type": "no-canary"}],
    )
    suite_run_id, rows = _start(actor, suite_id)
    assert [r.test_id for r in rows] == [refund, greet]
    assert all(r.canary and r.canary.startswith("CANARY-") for r in rows)
    assert len({r.canary for r in rows}) == 2

    llm.script(Turn(text="You have 30 days to return unused parcels."), model="gpt-a")
    llm.script(Turn(text="Hello! How can I help?"), model="gpt-a")
    llm.script(_verdict(0.9), model="gpt-b")
    for row in rows:
        run, _events = execute(row.execution_id)
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
    # The canary was planted in the agent's instructions, and only there.
    agent_calls = [r for r in llm.requests if r.model == "gpt-a"]
    assert rows[0].canary in agent_calls[0]["body"]["messages"][0]["content"]
    assert _grade_all() == 2

    done = _suite_run(suite_run_id)
    assert done.status == SuiteRunStatus.PASSED, done.summary
    assert (done.finished_runs, done.passed_cases, done.failed_cases) == (2, 2, 0)
    assert done.score == 1.0 or done.score == pytest.approx((0.95 + 1.0) / 2, abs=0.03)
    graded = {r.test_id: r for r in _results(suite_run_id)}
    refund_grades = graded[refund].details["grades"]
    assert [g["assertion"] for g in refund_grades] == ["icontains", "llm-rubric"]
    assert refund_grades[1]["passed"] and "0.90" in refund_grades[1]["reason"]
    assert graded[refund].details["judges"][0]["model"] == "fake/gpt-b"
    # The judge saw the question, the answer and the criterion, and was asked for JSON.
    [judge_call] = [r for r in llm.requests if r.model == "gpt-b"]
    prompt = judge_call["body"]["messages"][1]["content"]
    assert "How long do I have to return a parcel?" in prompt
    assert "You have 30 days to return unused parcels." in prompt
    assert "1. Says the parcel must be unused" in prompt
    # Test runs stay out of the run list's production figures: they carry their suite run.
    with session_scope() as s:
        tagged = s.exec(select(Execution).where(Execution.test_run_id == suite_run_id)).all()
        assert len(tagged) == 2


def test_the_threshold_decides_not_the_judge_and_a_rerun_hits_the_cache(
    session: Session, llm: ScriptedLLM
) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(
        session,
        actor,
        suite_id,
        name="Tone",
        message="Complain politely",
        assertions=[
            {"type": "g-eval", "value": ["Polite", "Offers a next step"], "threshold": 0.6}
        ],
    )
    answer = Turn(text="Sorry about that - I will open a ticket for you.")
    for attempt in range(2):
        suite_run_id, rows = _start(actor, suite_id)
        llm.script(answer, model="gpt-a")
        if attempt == 0:
            # The judge calls the answer a pass in words, but scores one criterion 0.4.
            llm.script(
                Turn(
                    text='PASS overall. ```json\n{"criteria": [{"id": 1, "score": 0.9, '
                    '"reason": "polite"}, {"id": 2, "score": 0.4, "reason": "PASS, vague"}]}\n```'
                ),
                model="gpt-b",
            )
        execute(rows[0].execution_id)
        judge_calls_before = len([r for r in llm.requests if r.model == "gpt-b"])
        _grade_all()
        judge_calls = len([r for r in llm.requests if r.model == "gpt-b"]) - judge_calls_before
        [result] = _results(suite_run_id)
        assert result.passed is False
        assert result.details["grades"][0]["score"] == pytest.approx(0.65)
        assert _suite_run(suite_run_id).status == SuiteRunStatus.FAILED
        if attempt == 0:
            assert judge_calls == 1 and result.details["judge_cached"] == []
        else:
            assert judge_calls == 0, "the same answer was judged again instead of cached"
            assert result.details["judge_cached"] == ["fake/gpt-b"]


def test_repeats_pass_at_k_and_disagreeing_repeats_are_flaky(
    session: Session, llm: ScriptedLLM
) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id, repeat=3, pass_k=2)
    case_id = _case(
        session,
        actor,
        suite_id,
        name="Capital",
        message="Capital of France?",
        assertions=[{"type": "contains", "value": "Paris"}],
    )
    suite_run_id, rows = _start(actor, suite_id)
    assert [r.repeat_index for r in rows] == [0, 1, 2]
    for text in ("Paris.", "Lyon.", "It is Paris."):
        llm.script(Turn(text=text), model="gpt-a")
    for row in rows:
        execute(row.execution_id)
    _grade_all()
    done = _suite_run(suite_run_id)
    summary = done.summary["cases"][str(case_id)]
    assert (summary["passes"], summary["runs"], summary["flaky"]) == (2, 3, True)
    assert summary["passed"] is True and summary["spread"] == 1.0
    assert (done.status, done.flaky_cases) == (SuiteRunStatus.PASSED, 1)


def test_the_budget_stops_a_suite_cleanly(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    model_prices.set_price(
        session, actor, model="fake/gpt-a", input_per_million="1000", output_per_million="1000"
    )
    session.commit()
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id, budget_usd="0.01")
    for i in range(4):
        _case(session, actor, suite_id, name=f"Case {i}", message=f"question {i}")
    suite_run_id, rows = _start(actor, suite_id)
    llm.script(Turn(text="a long answer " * 20), model="gpt-a")
    run, _ = execute(rows[0].execution_id)
    assert run.cost > Decimal("0.01"), run.cost
    _grade_all()
    stopped = _suite_run(suite_run_id)
    assert stopped.status == SuiteRunStatus.BUDGET
    assert "budget" in (stopped.error or "")
    assert stopped.finished_runs == stopped.total_runs == 4
    with session_scope() as s:
        statuses = [
            s.exec(select(Execution.status).where(Execution.id == r.execution_id)).one()
            for r in rows[1:]
        ]
    assert statuses == [ExecutionStatus.CANCELLED] * 3
    # The cancelled runs never reach the model, even though their jobs are still queued.
    requests_before = len(llm.requests)
    for row in rows[1:]:
        execute(row.execution_id)
    assert len(llm.requests) == requests_before
    skipped = [r for r in _results(suite_run_id) if r.passed is None]
    assert len(skipped) == 3 and all("budget" in r.details["skipped"] for r in skipped)


def test_cancel_closes_the_suite_run(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="One", message="one")
    suite_run_id, _rows = _start(actor, suite_id)
    with session_scope() as s:
        runner.cancel_suite_run(s, actor, suite_run_id)
    done = _suite_run(suite_run_id)
    assert done.status == SuiteRunStatus.CANCELLED
    assert done.finished_runs == 1 and done.finished_at is not None
    with session_scope() as s, pytest.raises(Conflict):
        runner.cancel_suite_run(s, actor, suite_run_id)


def test_suite_rules_in_words(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    with pytest.raises(Conflict, match="already has a suite named"):
        suites.create_suite(session, actor, agent_id, {"name": "Support"})
    with pytest.raises(Invalid, match="cannot exceed the repeats"):
        suites.update_suite(session, actor, suite_id, {"repeat": 2, "pass_k": 3})
    with pytest.raises(Invalid, match="Budget must be an amount"):
        suites.update_suite(session, actor, suite_id, {"budget_usd": "lots"})
    with pytest.raises(Invalid, match="Assertion 2: unknown assertion type “python”"):
        suites.add_case(
            session,
            actor,
            suite_id,
            {
                "name": "x",
                "message": "m",
                "assertions": [
                    {"type": "contains", "value": "a"},
                    {"type": "python", "value": "1"},
                ],
            },
        )
    session.rollback()
    with session_scope() as s, pytest.raises(Invalid, match="no accepted cases"):
        runner.start_suite_run(s, actor, suite_id)


def test_another_organizations_suites_are_not_found(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    case_id = _case(session, actor, suite_id, name="One", message="one")
    suite_run_id, _ = _start(actor, suite_id)
    other = personal_actor(session, make_user(session))
    session.commit()
    calls = [
        lambda s: suites.get_suite(s, other, suite_id),
        lambda s: suites.update_suite(s, other, suite_id, {"name": "x"}),
        lambda s: suites.delete_suite(s, other, suite_id),
        lambda s: suites.list_cases(s, other, suite_id),
        lambda s: suites.add_case(s, other, suite_id, {"name": "x", "message": "y"}),
        lambda s: suites.get_case(s, other, case_id),
        lambda s: suites.update_case(s, other, case_id, {"name": "x"}),
        lambda s: suites.delete_case(s, other, case_id),
        lambda s: suites.export_yaml(s, other, suite_id),
        lambda s: suites.create_suite(s, other, agent_id, {"name": "Mine"}),
        lambda s: runner.start_suite_run(s, other, suite_id),
        lambda s: runner.get_suite_run(s, other, suite_run_id),
        lambda s: runner.results_of(s, other, suite_run_id),
        lambda s: runner.cancel_suite_run(s, other, suite_run_id),
        lambda s: runner.list_suite_runs(s, other, suite_id),
    ]
    for call in calls:
        with session_scope() as s, pytest.raises(NotFound):
            call(s)
    assert _suite_run(suite_run_id).status == SuiteRunStatus.RUNNING


def test_yaml_round_trip_through_the_database(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    text = """\
description: Imported
defaultTest:
  assert:
    - type: latency
      threshold: 5000
tests:
  - description: Refund
    vars: {message: "Refund?", tier: gold}
    assert:
      - type: icontains
        value: refund
    metadata: {tags: [money], weight: 2}
  - description: Chat
    vars:
      conversation:
        - {role: user, content: hi}
        - {role: assistant, content: hello}
        - {role: user, content: "and now?"}
"""
    suite = suites.import_yaml(session, actor, agent_id, text)
    session.commit()
    exported = suites.export_yaml(session, actor, suite.id)
    again = suites.import_yaml(session, actor, agent_id, exported, name="Again")
    session.commit()
    assert suites.export_yaml(session, actor, again.id) == exported.replace(
        "description: Imported", "description: Again"
    )
    cases = suites.list_cases(session, actor, again.id)
    assert [c.name for c in cases] == ["Refund", "Chat"]
    assert cases[1].input["conversation"][-1] == {"role": "assistant", "content": "hello"}
    assert cases[0].tags == ["money"] and cases[0].weight == 2.0


def test_a_person_overrules_and_the_judge_learns_from_it(
    session: Session, llm: ScriptedLLM
) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(
        session,
        actor,
        suite_id,
        name="Tone",
        message="Be nice",
        assertions=[{"type": "llm-rubric", "value": "Is warm", "threshold": 0.5}],
    )
    suite_run_id, rows = _start(actor, suite_id)
    llm.script(Turn(text="Fine."), model="gpt-a")
    llm.script(_verdict(0.2), model="gpt-b")
    execute(rows[0].execution_id)
    _grade_all()
    assert _suite_run(suite_run_id).status == SuiteRunStatus.FAILED
    with session_scope() as s:
        runner.overrule(s, actor, rows[0].id, passed=True, note="Short is fine for this bot")
    assert _suite_run(suite_run_id).status == SuiteRunStatus.PASSED
    # The next judge call of this suite shows the decision as an example.
    suite_run_2, rows_2 = _start(actor, suite_id)
    llm.script(Turn(text="Fine, thanks."), model="gpt-a")
    llm.script(_verdict(0.9), model="gpt-b")
    execute(rows_2[0].execution_id)
    _grade_all()
    prompt = [r for r in llm.requests if r.model == "gpt-b"][-1]["body"]["messages"][1]["content"]
    assert "A reviewer decided: PASS — Short is fine for this bot" in prompt
    # The first answer again: not the verdict cached before the overruling (the judge's
    # prompt has changed since), the judge is asked anew.
    asked = len([r for r in llm.requests if r.model == "gpt-b"])
    suite_run_3, rows_3 = _start(actor, suite_id)
    llm.script(Turn(text="Fine."), model="gpt-a")
    llm.script(_verdict(0.8), model="gpt-b")
    execute(rows_3[0].execution_id)
    _grade_all()
    assert len([r for r in llm.requests if r.model == "gpt-b"]) == asked + 1
    assert _suite_run(suite_run_3).status == SuiteRunStatus.PASSED
    other = personal_actor(session, make_user(session))
    session.commit()
    with session_scope() as s, pytest.raises(NotFound):
        runner.overrule(s, other, rows[0].id, passed=False)


def test_required_suites_gate_publishing_and_new_versions_run_their_suites(
    session: Session, llm: ScriptedLLM
) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id, required_for_publish=True, run_on_new_version=True)
    _case(
        session,
        actor,
        suite_id,
        name="Hi",
        message="hi",
        assertions=[{"type": "icontains", "value": "hello"}],
    )
    problems = agent_publishing.publish_problems(session, actor, agent_id)
    assert "the required suite “Support” has not run on this version" in problems
    with pytest.raises(Invalid, match="required suite"):
        agent_publishing.publish_agent(session, actor, agent_id)
    session.rollback()
    # Saving a new version starts the suite on that version.
    agent, _version = agents.update_agent(
        session, actor, agent_id, config={**_config(session, agent_id), "instructions": "Hello"}
    )
    session.commit()
    [latest] = runner.list_suite_runs(session, actor, suite_id, limit=1)
    assert (latest.trigger, latest.agent_version_id) == ("version", agent.current_version_id)
    [row] = _results(latest.id)
    llm.script(Turn(text="Hello there!"), model="gpt-a")
    execute(row.execution_id)
    _grade_all()
    assert agent_publishing.publish_problems(session, actor, agent_id) == []
    agent_publishing.publish_agent(session, actor, agent_id)
    session.commit()


def test_a_suite_runs_on_its_schedule(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="One", message="one")
    with session_scope() as s:
        schedule = suite_schedules.schedule_suite(
            s, actor, suite_id, cron="30 6 * * *", timezone="Europe/Berlin"
        )
        schedule_id, due = schedule.id, schedule.next_fire_at
    assert due is not None and due.astimezone(ZoneInfo("Europe/Berlin")).hour == 6
    with session_scope() as s:
        result = schedule_tick.tick(s, now=due)
    assert result.started == 1
    [latest] = runner.list_suite_runs(session, actor, suite_id, limit=1)
    assert latest.trigger == "schedule" and latest.total_runs == 1
    with session_scope() as s:
        [fire] = s.exec(select(ScheduleFire).where(ScheduleFire.schedule_id == schedule_id)).all()
        assert fire.note == f"Started suite run {latest.id}." and fire.execution_id is None
        # Editing the schedule keeps its suite.
        schedules.update_schedule(
            s, actor, schedule_id, {"name": "Nightly", "cron": "0 2 * * *", "message": "x"}
        )
    with session_scope() as s:
        assert s.get(Schedule, schedule_id).input["suite_id"] == str(suite_id)


def test_test_runs_stay_out_of_the_dashboard(session: Session, llm: ScriptedLLM) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="One", message="one")
    _suite_run_id, rows = _start(actor, suite_id)
    execute(rows[0].execution_id)
    execute(start(actor, agent_id, "a production question"))
    figures = dashboard.summary(session, actor, range_key="24h")
    assert figures.total_runs == 1
    assert sum(u.calls for u in figures.by_model) == 1, figures.by_model
