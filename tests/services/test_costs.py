"""Costs: unpriced is "unknown" (never $0), the org's own prices, failed attempts by model.

Runs go through the real engine and LiteLLM against the scripted OpenAI-compatible server,
whose models ("fake/gpt-a", "fake/gpt-b") are in no price map.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.models import ExecutionStatus, ExecutionStep, ModelPrice, Role
from services import dashboard, model_prices, run_costs, runs
from services.errors import Forbidden, Invalid, NotFound
from services.money import format_money
from services.runtime.follow import step_event
from state.playground import trace_row
from tests.factories import add_member, audit_entries, make_user, personal_actor
from tests.services.runtime_helpers import execute, make_agent, org_with_provider, start
from tests.services.test_dashboard import NOW, add_run, make_org


def model_steps(actor, run_id: uuid.UUID) -> list[ExecutionStep]:
    with session_scope() as s:
        steps = [x for x in runs.get_steps(s, actor, run_id) if x.kind == "model"]
        for step in steps:
            s.expunge(step)
        return steps


class TestUnpricedModels:
    def test_an_unpriced_model_costs_unknown_not_zero(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        run, events = execute(start(actor, make_agent(session, actor)))
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        [step] = model_steps(actor, run.id)
        assert step.response["cost_unknown"] is True and step.cost == 0
        assert step_event(step)["cost"] is None
        assert trace_row(step_event(step))["cost"] == "unknown"
        with session_scope() as s:
            assert run_costs.unpriced_runs(s, actor, [run.id]) == {run.id}
        assert format_money(run.cost, unpriced=True) == "unknown"
        done = events[-1]
        assert done["type"] == "done" and done["cost_unknown"] is True
        live_step = next(e for e in events if e["type"] == "step")
        assert live_step["cost"] is None

    def test_the_orgs_own_price_is_used(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        model_prices.set_price(
            session, actor, model="fake/gpt-a", input_per_million="2", output_per_million="2"
        )
        session.commit()
        run, events = execute(start(actor, make_agent(session, actor)))
        [step] = model_steps(actor, run.id)
        assert step.tokens > 0 and step.response["cost_unknown"] is False
        assert step.cost == Decimal(2 * step.tokens) / 1_000_000
        assert run.cost == step.cost and events[-1]["cost_unknown"] is False
        with session_scope() as s:
            assert run_costs.unpriced_runs(s, actor, [run.id]) == set()
        assert format_money(run.cost).startswith("$0.0000")  # small, never rounded away

    def test_another_orgs_price_does_not_apply(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        other = org_with_provider(session, llm.base_url)
        model_prices.set_price(
            session, other, model="fake/gpt-a", input_per_million="2", output_per_million="2"
        )
        session.commit()
        run, _ = execute(start(actor, make_agent(session, actor)))
        [step] = model_steps(actor, run.id)
        assert step.response["cost_unknown"] is True


class TestModelPrices:
    @pytest.fixture
    def owner(self, session: Session):
        return personal_actor(session, make_user(session, email="owner@example.com"))

    def test_admin_sets_replaces_and_deletes_a_price_audited(self, session, owner) -> None:
        row = model_prices.set_price(
            session,
            owner,
            model=" Ollama/llama3 ",
            input_per_million="$0.10",
            output_per_million="0.2",
        )
        assert row.model == "ollama/llama3"
        again = model_prices.set_price(
            session, owner, model="ollama/llama3", input_per_million="1", output_per_million="3"
        )
        assert again.id == row.id and again.output_per_million == Decimal("3")
        assert model_prices.price_of(session, owner.org_id, "ollama/llama3") == (
            Decimal("1"),
            Decimal("3"),
        )
        model_prices.delete_price(session, owner, row.id)
        session.flush()
        assert model_prices.list_prices(session, owner) == []
        sets = audit_entries(session, "model_price.set", org_id=owner.org_id)
        changes = sorted(
            (Decimal(e.details["new"]["input"]), (e.details.get("old") or {}).get("input"))
            for e in sets
        )
        assert [(new, Decimal(old) if old else None) for new, old in changes] == [
            (Decimal("0.1"), None),
            (Decimal("1"), Decimal("0.1")),
        ]
        assert len(audit_entries(session, "model_price.deleted", org_id=owner.org_id)) == 1

    @pytest.mark.parametrize("role", [Role.BUILDER, Role.VIEWER])
    def test_below_admin_cannot_set_or_delete(self, session, owner, role) -> None:
        row = model_prices.set_price(
            session, owner, model="a/b", input_per_million="1", output_per_million="1"
        )
        _, member = add_member(session, owner.org_id, role=role)
        with pytest.raises(Forbidden):
            model_prices.set_price(
                session, member, model="a/b", input_per_million="0", output_per_million="0"
            )
        with pytest.raises(Forbidden):
            model_prices.delete_price(session, member, row.id)
        assert [p.model for p in model_prices.list_prices(session, member)] == ["a/b"]

    @pytest.mark.parametrize(
        ("model", "price", "field"),
        [
            ("nomodel", "1", "model"),
            ("a/b", "-1", "input_per_million"),
            ("a/b", "lots", "input_per_million"),
            ("a/b", "", "input_per_million"),
            ("a/b", "0.0000001", "input_per_million"),
        ],
    )
    def test_bad_input_is_invalid_by_field(self, session, owner, model, price, field) -> None:
        with pytest.raises(Invalid) as exc:
            model_prices.set_price(
                session, owner, model=model, input_per_million=price, output_per_million="1"
            )
        assert field in exc.value.fields

    def test_another_orgs_price_is_not_found(self, session, owner) -> None:
        row = model_prices.set_price(
            session, owner, model="a/b", input_per_million="1", output_per_million="1"
        )
        stranger = personal_actor(session, make_user(session))
        with pytest.raises(NotFound):
            model_prices.delete_price(session, stranger, row.id)
        assert model_prices.list_prices(session, stranger) == []
        assert session.get(ModelPrice, row.id) is not None


class TestDashboardCosts:
    def test_failed_attempts_count_under_their_models_never_unknown(self, session) -> None:
        actor = make_org(session)
        run_id = add_run(
            session, actor, None, ago=timedelta(minutes=5), status=ExecutionStatus.FAILED
        )
        failed = {"model": "fake/gpt-a", "error": "server error", "lost_ms": 5}
        other = {"model": "fake/gpt-b", "error": "server error", "lost_ms": 5}
        session.add_all(
            [
                ExecutionStep(  # every model failed: the step has no model of its own
                    execution_id=run_id,
                    position=0,
                    kind="model",
                    error="All 2 models failed",
                    response={"attempts": [failed, other]},
                    created_at=NOW - timedelta(minutes=5),
                ),
                ExecutionStep(  # the fallback answered after a failed attempt, unpriced
                    execution_id=run_id,
                    position=1,
                    kind="model",
                    model="fake/gpt-b",
                    tokens=40,
                    cost=Decimal(0),
                    response={"attempts": [failed], "cost_unknown": True},
                    created_at=NOW - timedelta(minutes=5),
                ),
                ExecutionStep(  # priced
                    execution_id=run_id,
                    position=2,
                    kind="model",
                    model="openai/gpt-4o",
                    tokens=10,
                    cost=Decimal("0.00042"),
                    response={"attempts": [], "cost_unknown": False},
                    created_at=NOW - timedelta(minutes=5),
                ),
            ]
        )
        session.commit()
        data = dashboard.summary(session, actor, range_key="24h", now=NOW)
        usage = {u.name: (u.calls, u.tokens, u.cost, u.failed, u.unpriced) for u in data.by_model}
        assert usage == {
            "fake/gpt-a": (2, 0, Decimal(0), 2, 0),
            "fake/gpt-b": (2, 40, Decimal(0), 1, 1),
            "openai/gpt-4o": (1, 10, Decimal("0.00042"), 0, 0),
        }
        assert data.unpriced_calls == 1
        fake = next(u for u in data.by_provider if u.name == "fake")
        assert (fake.calls, fake.failed, fake.unpriced) == (4, 3, 1)
        # cached buckets give the same figures
        later = dashboard.summary(session, actor, range_key="7d", now=NOW + timedelta(hours=2))
        assert {u.name: u.failed for u in later.by_model} == {
            "fake/gpt-a": 2,
            "fake/gpt-b": 1,
            "openai/gpt-4o": 0,
        }

    def test_failed_runs_show_their_agent(self, session) -> None:
        from services import agents

        actor = make_org(session)
        agent = agents.create_agent(
            session, actor, name="Helper", config={"model": "openai/gpt-4o"}
        )
        add_run(
            session,
            actor,
            agent.id,
            ago=timedelta(minutes=5),
            status=ExecutionStatus.FAILED,
            error="boom",
        )
        session.commit()
        data = dashboard.summary(session, actor, range_key="24h", now=NOW)
        assert [f.agent_name for f in data.failures] == ["Helper"]
        found, _ = runs.list_runs(session, actor)
        assert [name for _, name in found] == ["Helper"]
