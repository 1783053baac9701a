"""The UI's spend fields: a budget typed beside a playground message, and the agent's
"max spend per run" setting in the editor."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session, select

from agent_platform.models import Execution
from services import agents
from state.agent_editor import AgentEditorState
from state.playground import PlaygroundState
from tests.factories import make_user, personal_actor
from tests.state.helpers import signed_in


def test_a_playground_message_carries_its_budget(session: Session) -> None:
    user = make_user(session)
    agent = agents.create_agent(session, personal_actor(session, user), name="Chatty")
    state = signed_in(session, PlaygroundState, user)
    state.agent_id = str(agent.id)
    state.send({"message": "Hello", "budget_usd": "0.25"})
    assert state.error == ""
    session.expire_all()
    [run] = session.exec(select(Execution)).all()
    assert run.budget_usd == Decimal("0.25")
    state.running = False
    state.send({"message": "Again", "budget_usd": "nope"})
    assert "budget" in state.error


def test_the_editor_sets_and_clears_the_agents_max_spend(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    agent = agents.create_agent(session, actor, name="Spender")
    state = signed_in(session, AgentEditorState, user)
    monkeypatch.setattr(AgentEditorState, "_id", lambda self: agent.id)
    state.load()
    assert state.form["max_spend_per_run_usd"] == ""
    state.save({**state.form, "name": "Spender", "max_spend_per_run_usd": "0.5"})
    assert state.error == ""
    session.expire_all()
    assert (
        agents.current_config(agents.get_agent(session, actor, agent.id)).max_spend_per_run_usd
        == 0.5
    )
    state.load()
    assert state.form["max_spend_per_run_usd"] == "0.5"
    state.save({**state.form, "name": "Spender", "max_spend_per_run_usd": ""})
    session.expire_all()
    assert (
        agents.current_config(agents.get_agent(session, actor, agent.id)).max_spend_per_run_usd
        is None
    )
    state.save({**state.form, "name": "Spender", "max_spend_per_run_usd": "-1"})
    assert state.error != ""
