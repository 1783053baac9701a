"""A suite run's budget counts the runs in flight (issue 13): each test run starts with an
allowance out of what is left, and none starts once the budget is spent or held; and an
online evaluation's judge cost is kept with its score.

Real engine, real RQ grading worker, the scripted model server with the org's own prices.
"""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import (
    Execution,
    ExecutionStatus,
    OnlineScore,
    QualityAlert,
    SuiteRunStatus,
)
from services import model_prices, runs, spend
from services.testing import online
from services.testing.suite_budget import NOT_RUN
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import execute, make_agent, org_with_provider, start
from tests.services.test_online_eval import _work
from tests.services.test_spend import CALCULATE, with_usage
from tests.services.test_testing_engine import (
    _case,
    _grade_all,
    _results,
    _start,
    _suite,
    _suite_run,
    _verdict,
)


def priced(session: Session, llm: ScriptedLLM):
    actor = org_with_provider(session, llm.base_url)
    for model in ("fake/gpt-a", "fake/gpt-b"):
        model_prices.set_price(
            session, actor, model=model, input_per_million="10", output_per_million="10"
        )
    session.commit()
    return actor


def test_a_case_does_not_start_when_the_runs_in_flight_hold_the_rest(
    session: Session, llm: ScriptedLLM
) -> None:
    actor = priced(session, llm)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id, budget_usd="0.05")
    for i in range(3):
        _case(session, actor, suite_id, name=f"Case {i}", message=f"question {i}")
    suite_run_id, rows = _start(actor, suite_id)
    # The first case is in flight, holding the whole budget (nothing is spent yet).
    with session_scope() as s:
        first = s.get(Execution, rows[0].execution_id)
        first.status, first.budget_usd = ExecutionStatus.RUNNING, Decimal("0.05")
        s.add(first)
    requests_before = len(llm.requests)
    second, _ = execute(rows[1].execution_id)
    assert second.status == ExecutionStatus.CANCELLED and second.error == NOT_RUN
    assert len(llm.requests) == requests_before  # it never reached the model
    stopped = _suite_run(suite_run_id)
    assert stopped.status == SuiteRunStatus.BUDGET
    assert stopped.error == (
        "Stopped: $0.00 spent and $0.05 held by 1 run in flight of its $0.05 budget."
    )
    with session_scope() as s:
        third = s.get(Execution, rows[2].execution_id)
        assert third.status == ExecutionStatus.CANCELLED  # queued: never starts either
    # The run in flight ends, is graded, and the suite closes with its budget status.
    with session_scope() as s:
        runs.finish(s, rows[0].execution_id, status=ExecutionStatus.SUCCEEDED, output={"text": "x"})
    _grade_all()
    closed = _suite_run(suite_run_id)
    assert closed.finished_runs == closed.total_runs == 3
    assert closed.status == SuiteRunStatus.BUDGET
    skipped = [r for r in _results(suite_run_id) if r.passed is None]
    assert len(skipped) == 2 and all(r.details["skipped"] == NOT_RUN for r in skipped)


def test_each_case_gets_its_share_and_stops_at_it(session: Session, llm: ScriptedLLM) -> None:
    """$0.04 for 4 cases: the first case may spend $0.01, so an agent that keeps calling
    tools at $0.01 a call stops after one call instead of eating the suite's budget."""
    actor = priced(session, llm)
    agent_id = make_agent(session, actor, tools=[{"name": "calculator"}])
    suite_id = _suite(session, actor, agent_id, budget_usd="0.04")
    for i in range(4):
        _case(session, actor, suite_id, name=f"Case {i}", message=f"question {i}")
    _suite_run_id, rows = _start(actor, suite_id)
    llm.script(with_usage(CALCULATE, 1000), with_usage(CALCULATE, 1000), model="gpt-a")
    run, _ = execute(rows[0].execution_id)
    assert run.budget_usd == Decimal("0.01")
    assert run.status == ExecutionStatus.CANCELLED
    assert (run.error or "").startswith("Stopped: reached its budget of $0.01")
    assert run.cost == Decimal("0.01")


def test_a_suite_without_a_budget_gives_no_allowance(session: Session, llm: ScriptedLLM) -> None:
    actor = priced(session, llm)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="Case", message="question")
    _suite_run_id, rows = _start(actor, suite_id)
    llm.script(Turn(text="fine"), model="gpt-a")
    run, _ = execute(rows[0].execution_id)
    assert run.status == ExecutionStatus.SUCCEEDED and run.budget_usd is None


def test_an_online_scores_judge_cost_is_kept_and_shown_in_its_alert(
    session: Session, llm: ScriptedLLM
) -> None:
    actor = priced(session, llm)
    agent_id = make_agent(session, actor)
    rule = online.create_rule(
        session,
        actor,
        agent_id,
        {
            "name": "Warm",
            "sample_rate": 1.0,
            "assertions": [{"type": "llm-rubric", "value": "Is warm", "threshold": 0.5}],
            "judge_model": "fake/gpt-b",
            "alert_below": 0.5,
        },
    )
    session.commit()
    llm.script(Turn(text="Go away."), model="gpt-a")
    execute(start(actor, agent_id, "hi"))
    llm.script(with_usage(_verdict(0.2), 2000), model="gpt-b")  # 2,000 tokens = $0.02
    with session_scope() as s:
        assert online.sample(s)
    _work("testing")
    with session_scope() as s:
        score = s.exec(select(OnlineScore).where(OnlineScore.rule_id == rule.id)).one()
        assert score.passed is False and score.judge_cost is not None
        assert score.judge_cost >= Decimal("0.02")
        [alert] = s.exec(select(QualityAlert).where(QualityAlert.org_id == actor.org_id)).all()
        assert "judging it cost $0.02" in alert.message
        assert Decimal(alert.details["judge_cost"]) == score.judge_cost


def test_a_test_runs_allowance_is_not_held_against_the_orgs_cap(
    session: Session, llm: ScriptedLLM
) -> None:
    """A test run's budget is its share of its suite's budget, which the org's monthly cap
    never reserved: a start counted from the database leaves it out."""
    actor = priced(session, llm)
    agent_id = make_agent(session, actor)
    suite_id = _suite(session, actor, agent_id)
    _case(session, actor, suite_id, name="Case", message="question")
    _suite_run_id, rows = _start(actor, suite_id)
    with session_scope() as s:
        in_flight = s.get(Execution, rows[0].execution_id)
        in_flight.status, in_flight.budget_usd = ExecutionStatus.RUNNING, Decimal("0.9")
        s.add(in_flight)
    with session_scope() as s:
        spend.set_spend_settings(s, actor, monthly_spend_cap_usd="1", alert_webhook_url=None)
    assert start(actor, agent_id, budget_usd="0.5")
