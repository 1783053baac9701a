"""Spend control: a run stops cleanly at its budget; an organization's monthly spend cap
refuses new runs at 100 % (atomically) and alerts once at 80 % and 100 %.

Runs go through the real engine and LiteLLM against the scripted model server; the model's
price is the organization's own (`model_prices`), so every call has a known cost.
"""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from rq import SimpleWorker
from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import (
    Execution,
    ExecutionStatus,
    QualityAlert,
    Role,
    SpendAlert,
)
from agent_platform.redis_client import get_redis
from services import model_prices, runs, spend
from services.errors import Forbidden, Invalid
from services.queue import queue
from tests.factories import add_member
from tests.fakes.openai_server import Turn
from tests.services.runtime_helpers import execute, make_agent, org_with_provider, start

CALCULATE = Turn(tool_calls=[{"name": "calculator", "arguments": {"expression": "6*7"}}])


def priced(session: Session, llm) -> object:
    """An org whose model costs $10 per million tokens each way."""
    actor = org_with_provider(session, llm.base_url)
    model_prices.set_price(
        session, actor, model="fake/gpt-a", input_per_million="10", output_per_million="10"
    )
    session.commit()
    return actor


def with_usage(turn: Turn, tokens: int) -> Turn:
    """The same turn, reported as `tokens` prompt tokens (so a call costs tokens × $10/M)."""
    return turn.model_copy(update={"usage": {"prompt_tokens": tokens, "completion_tokens": 0}})


def set_cap(session: Session, actor, cap: str | None, webhook: str | None = None) -> None:
    spend.set_spend_settings(session, actor, monthly_spend_cap_usd=cap, alert_webhook_url=webhook)
    session.commit()


def add_spent_run(session: Session, actor, agent_id: uuid.UUID, cost: str) -> None:
    session.add(
        Execution(
            org_id=actor.org_id,
            agent_id=agent_id,
            status=ExecutionStatus.SUCCEEDED,
            input={"message": "earlier"},
            cost=Decimal(cost),
        )
    )
    session.commit()


def run_alert_jobs() -> None:
    SimpleWorker([queue("default")], connection=get_redis()).work(burst=True)


class TestRunBudget:
    def test_a_run_stops_cleanly_when_its_cost_reaches_its_budget(self, session, llm) -> None:
        actor = priced(session, llm)
        agent_id = make_agent(session, actor, tools=[{"name": "calculator"}])
        # each call: 1,000 tokens = $0.01; the second call brings the run to $0.02
        llm.script(
            with_usage(CALCULATE, 1000), with_usage(CALCULATE, 1000), Turn(text="never asked")
        )
        run, events = execute(start(actor, agent_id, budget_usd="0.015"))
        assert run.status == ExecutionStatus.CANCELLED
        assert run.error is not None
        assert run.error.startswith("Stopped: reached its budget of $0.015 (spent $0.02)")
        assert run.cost == Decimal("0.02") and run.budget_usd == Decimal("0.015")
        with session_scope() as s:
            kinds = [step.kind for step in runs.get_steps(s, actor, run.id)]
        assert kinds == ["model", "tool", "model"]  # kept; the second call's tool never ran
        assert llm.pending() == 1
        assert events[-1]["type"] == "done" and events[-1]["error"] == run.error

    def test_the_agents_setting_is_the_budget_when_the_request_sets_none(
        self, session, llm
    ) -> None:
        actor = priced(session, llm)
        agent_id = make_agent(
            session, actor, tools=[{"name": "calculator"}], max_spend_per_run_usd=0.01
        )
        llm.script(with_usage(CALCULATE, 1000), Turn(text="never asked"))
        run, _ = execute(start(actor, agent_id))
        assert run.budget_usd == Decimal("0.01") and run.status == ExecutionStatus.CANCELLED
        assert "budget of $0.01" in (run.error or "")

    def test_the_smaller_of_request_and_setting_applies(self, session, llm) -> None:
        actor = priced(session, llm)
        agent_id = make_agent(
            session, actor, tools=[{"name": "calculator"}], max_spend_per_run_usd=0.01
        )
        llm.script(with_usage(CALCULATE, 1000), Turn(text="never asked"))
        run, _ = execute(start(actor, agent_id, budget_usd="5"))
        assert run.status == ExecutionStatus.CANCELLED and "$0.01" in (run.error or "")

    def test_a_run_under_its_budget_finishes(self, session, llm) -> None:
        actor = priced(session, llm)
        agent_id = make_agent(session, actor, tools=[{"name": "calculator"}])
        llm.script(with_usage(CALCULATE, 100), with_usage(Turn(text="42"), 100))
        run, _ = execute(start(actor, agent_id, budget_usd="0.5"))
        assert run.status == ExecutionStatus.SUCCEEDED and run.output == {"text": "42"}

    @pytest.mark.parametrize("bad", ["0", "-1", "abc", "2000000"])
    def test_a_budget_must_be_a_positive_amount(self, session, llm, bad: str) -> None:
        actor = priced(session, llm)
        agent_id = make_agent(session, actor)
        with pytest.raises(Invalid, match="budget"):
            start(actor, agent_id, budget_usd=bad)


class TestMonthlyCap:
    def test_off_by_default_and_only_admins_set_it(self, session, llm) -> None:
        actor = priced(session, llm)
        assert spend.get_spend_settings(session, actor).monthly_spend_cap_usd is None
        _, builder = add_member(session, actor.org_id, role=Role.BUILDER)
        with pytest.raises(Forbidden):
            spend.set_spend_settings(
                session, builder, monthly_spend_cap_usd="5", alert_webhook_url=None
            )
        set_cap(session, actor, "5", "https://hooks.example.com/spend")
        settings = spend.get_spend_settings(session, actor)
        assert settings.monthly_spend_cap_usd == Decimal("5")
        assert settings.alert_webhook_url == "https://hooks.example.com/spend"

    def test_new_runs_are_refused_at_the_cap_with_a_clear_message(self, session, llm) -> None:
        actor = priced(session, llm)
        agent_id = make_agent(session, actor)
        add_spent_run(session, actor, agent_id, "1.00")
        set_cap(session, actor, "1")
        with pytest.raises(Invalid, match=r"monthly spend cap of \$1.00 \(\$1.00 spent"):
            start(actor, agent_id)
        set_cap(session, actor, "2")  # raising the cap lets runs start again at once
        assert start(actor, agent_id)

    def test_the_cap_applies_with_billing_off_and_other_orgs_are_untouched(
        self, session, llm
    ) -> None:
        actor = priced(session, llm)
        other = priced(session, llm)
        agent_id, other_agent = make_agent(session, actor), make_agent(session, other)
        add_spent_run(session, actor, agent_id, "3")
        set_cap(session, actor, "3")
        with pytest.raises(Invalid):
            start(actor, agent_id)
        assert start(other, other_agent)  # another org's spend is not this one's

    def test_two_concurrent_starts_cannot_both_pass_the_cap(self, session, llm) -> None:
        """Each start holds its budget against the cap: $0.60 + $0.60 > $1, so of two starts
        at once (the first still uncommitted) exactly one passes."""
        actor = priced(session, llm)
        agent_id = make_agent(session, actor)
        set_cap(session, actor, "1")
        first_checked, second_done = threading.Event(), threading.Event()
        outcome: dict[str, object] = {}

        def second() -> None:
            first_checked.wait(30)
            try:
                outcome["second"] = start(actor, agent_id, budget_usd="0.6")
            except Invalid as exc:
                outcome["second"] = exc
            finally:
                second_done.set()

        thread = threading.Thread(target=second)
        thread.start()
        with session_scope() as s:
            outcome["first"] = runs.start_run(s, actor, agent_id, message="hi", budget_usd="0.6")
            first_checked.set()
            assert second_done.wait(30)
        thread.join(30)
        assert isinstance(outcome["first"], Execution)
        assert isinstance(outcome["second"], Invalid)
        assert "budget of $0.60 is more than what is left" in str(outcome["second"])
        assert "($0.40)" in str(outcome["second"])

    def test_a_refused_or_rolled_back_start_gives_its_reservation_back(self, session, llm) -> None:
        actor = priced(session, llm)
        agent_id = make_agent(session, actor)
        set_cap(session, actor, "1")
        with pytest.raises(RuntimeError), session_scope() as s:
            runs.start_run(s, actor, agent_id, message="hi", budget_usd="0.9")
            raise RuntimeError("the caller failed after the start")
        assert start(actor, agent_id, budget_usd="0.9")  # the first 0.9 was given back

    def test_a_finished_run_settles_its_real_cost_not_its_budget(self, session, llm) -> None:
        actor = priced(session, llm)
        agent_id = make_agent(session, actor)
        set_cap(session, actor, "1")
        llm.script(with_usage(Turn(text="done"), 1000))
        run, _ = execute(start(actor, agent_id, budget_usd="0.9"))
        assert run.cost == Decimal("0.01")
        key = spend.spend_key(actor.org_id, spend.month_start())
        assert get_redis().hgetall(key) == {
            b"spent": b"10000",
            b"reserved": b"0",
            b"cap": b"1000000",
        }
        assert start(actor, agent_id, budget_usd="0.9")


class TestAlerts:
    def test_80_and_100_percent_alert_once_each_in_app_and_to_the_webhook(
        self, session, llm
    ) -> None:
        actor = priced(session, llm)
        agent_id = make_agent(session, actor)
        set_cap(session, actor, "0.1", "https://hooks.example.com/spend")
        add_spent_run(session, actor, agent_id, "0.075")
        run_alert_jobs()  # setting the cap checks at once: 75 % is no alert yet
        assert session.exec(select(SpendAlert)).all() == []
        llm.script(*(with_usage(Turn(text="ok"), 1000) for _ in range(4)))
        execute(start(actor, agent_id))  # $0.085: crosses 80 %
        run_alert_jobs()
        execute(start(actor, agent_id))  # $0.095: no new line crossed
        execute(start(actor, agent_id))  # $0.105: crosses 100 %
        run_alert_jobs()
        with pytest.raises(Invalid, match="spend cap"):
            start(actor, agent_id)
        # however often the check runs again, each threshold alerted once this month
        month = spend.month_start()
        with session_scope() as s:
            assert spend.record_alerts(s, actor.org_id, month) == []
        session.expire_all()
        sent = session.exec(select(SpendAlert).order_by(SpendAlert.threshold)).all()
        assert [(a.threshold, a.month) for a in sent] == [
            (80, f"{month:%Y-%m}"),
            (100, f"{month:%Y-%m}"),
        ]
        shown = session.exec(select(QualityAlert).order_by(QualityAlert.created_at)).all()
        assert [a.kind for a in shown] == ["spend_80", "spend_100"]
        assert all(a.webhook_url == "https://hooks.example.com/spend" for a in shown)
        assert "80 % of the monthly spend cap" in shown[0].message
        assert "cap reached" in shown[1].message

    def test_another_orgs_spend_never_alerts_this_one(self, session, llm) -> None:
        actor = priced(session, llm)
        other = priced(session, llm)
        set_cap(session, actor, "1")
        add_spent_run(session, other, make_agent(session, other), "5")
        with session_scope() as s:
            assert spend.record_alerts(s, actor.org_id, spend.month_start()) == []
            assert spend.record_alerts(s, other.org_id, spend.month_start()) == []  # no cap


class TestCapCoversSuitesAndHandOffs:
    """Every way work starts counts against the cap, not only start_run/replay."""

    def test_a_suite_does_not_start_once_the_cap_is_reached(self, session, llm) -> None:
        from tests.services.test_testing_engine import _case, _start, _suite

        actor = priced(session, llm)
        agent_id = make_agent(session, actor)
        suite_id = _suite(session, actor, agent_id)
        _case(session, actor, suite_id, name="Case", message="question")
        add_spent_run(session, actor, agent_id, "1.00")
        set_cap(session, actor, "1")
        with pytest.raises(Invalid, match=r"monthly spend cap of \$1.00"):
            _start(actor, suite_id)
        with session_scope() as s:
            assert s.exec(select(Execution).where(Execution.test_run_id.is_not(None))).all() == []
        set_cap(session, actor, "2")
        assert _start(actor, suite_id)[1]  # under the cap it starts

    def test_no_hand_off_once_the_cap_is_reached(self, session, llm) -> None:
        from services.tools.sub_agent import tool_name

        actor = priced(session, llm)
        helper = make_agent(session, actor)
        router = make_agent(session, actor, tools=[{"kind": "agent", "name": str(helper)}])
        run_id = start(actor, router)
        add_spent_run(session, actor, helper, "1.00")  # spent while the run waited in the queue
        set_cap(session, actor, "1")
        name = tool_name("Helper", str(helper))
        call = Turn(tool_calls=[{"name": name, "arguments": {"message": "do it"}}])
        llm.script(with_usage(call, 10), with_usage(Turn(text="could not"), 10))
        run, _ = execute(run_id)
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        with session_scope() as s:
            tool = next(st for st in runs.get_steps(s, actor, run.id) if st.kind == "tool")
            children = s.exec(select(Execution).where(Execution.agent_id == helper)).all()
        assert tool.error is not None and "reached its monthly spend cap of $1.00" in tool.error
        assert [c.input.get("message") for c in children] == ["earlier"]  # no child run

    def test_a_child_run_spends_out_of_its_parents_budget(self, session, llm) -> None:
        """Parent budget $0.05: its first call costs $0.01, so the child may spend $0.04; the
        child's $0.04 counts against the parent, which stops before another model call."""
        from services.tools.sub_agent import tool_name

        actor = priced(session, llm)
        helper = make_agent(session, actor, model="fake/gpt-b")
        model_prices.set_price(
            session, actor, model="fake/gpt-b", input_per_million="10", output_per_million="10"
        )
        session.commit()
        router = make_agent(session, actor, tools=[{"kind": "agent", "name": str(helper)}])
        name = tool_name("Helper", str(helper))
        handoff = Turn(tool_calls=[{"name": name, "arguments": {"message": "do it"}}])
        llm.script(with_usage(handoff, 1000), Turn(text="never asked"), model="gpt-a")
        llm.script(with_usage(Turn(text="done"), 4000), model="gpt-b")
        run, _ = execute(start(actor, router, budget_usd="0.05"))
        with session_scope() as s:
            child = s.exec(select(Execution).where(Execution.agent_id == helper)).one()
        assert child.budget_usd == Decimal("0.04") and child.cost == Decimal("0.04")
        assert run.status == ExecutionStatus.CANCELLED
        assert (run.error or "").startswith("Stopped: reached its budget of $0.05 (spent $0.05)")
        assert run.cost == Decimal("0.01")  # its own calls; the child's cost is on the child
        assert llm.pending(model="gpt-a") == 1
        # the child held nothing of its own against the cap: only real costs are counted
        key = spend.spend_key(actor.org_id, spend.month_start())
        assert get_redis().hget(key, "reserved") in (None, b"0")

    def test_hand_offs_at_once_cannot_each_get_the_same_remainder(self, session, llm) -> None:
        from services.tools.sub_agent import tool_name

        actor = priced(session, llm)
        helper = make_agent(session, actor, model="fake/gpt-b")
        router = make_agent(session, actor, tools=[{"kind": "agent", "name": str(helper)}])
        name = tool_name("Helper", str(helper))
        twice = Turn(
            tool_calls=[
                {"name": name, "arguments": {"message": "first"}},
                {"name": name, "arguments": {"message": "second"}},
            ]
        )
        llm.script(with_usage(twice, 1000), Turn(text="ok"), model="gpt-a")
        llm.script(Turn(text="done"), model="gpt-b")
        run, _ = execute(start(actor, router, budget_usd="0.05"))
        with session_scope() as s:
            tools = [st for st in runs.get_steps(s, actor, run.id) if st.kind == "tool"]
            child = s.exec(select(Execution).where(Execution.agent_id == helper)).one()
        assert child.budget_usd == Decimal("0.04")
        assert [t.error is None for t in tools] == [True, False]
        assert "budget is spent (or held by the hand-offs running now)" in (tools[1].error or "")
