"""The builder's side panel follows the graph: connecting a node clears its problem at once."""

from __future__ import annotations

import copy

import pytest
from reflex.state import State
from sqlmodel import Session

from agent_platform.models import User
from services import accounts, agents
from services.access import Actor
from services.llm import providers
from state.builder import BuilderState
from tests.factories import PASSWORD, limiter, make_user, personal_actor


@pytest.fixture
def actor(session: Session) -> Actor:
    return personal_actor(session, make_user(session))


@pytest.fixture
def builder(session: Session, actor: Actor, monkeypatch: pytest.MonkeyPatch) -> BuilderState:
    user = session.get(User, actor.user_id)
    assert user is not None
    agent = agents.create_agent(session, actor, name="Drawn", config={"model": "a/one"})
    token = accounts.login(session, limiter(), email=user.email, password=PASSWORD).token
    session.commit()
    root = State(_reflex_internal_init=True)
    state = root.get_substate(BuilderState.get_full_name().split(".")[1:])
    assert isinstance(state, BuilderState)
    state.auth_token = token
    monkeypatch.setattr(BuilderState, "_id", lambda self: agent.id)
    state.load()
    assert state.error == ""
    return state


def test_connecting_the_selected_node_clears_not_connected(builder: BuilderState) -> None:
    graph = copy.deepcopy(dict(builder.graph))
    graph["nodes"].append(
        {"id": "tool:calculator", "kind": "tool", "name": "calculator", "position": {"x": 1}}
    )
    builder.graph_changed(graph)
    builder.select("tool:calculator")
    assert builder.selected_settings["problem"].startswith("Not connected to the model")

    wired = copy.deepcopy(graph)
    wired["edges"].append({"source": "tool:calculator", "target": "model"})
    builder.graph_changed(wired)  # the edge drawn on the canvas; the node stays selected
    assert builder.selected == "tool:calculator"
    assert "tool:calculator" not in builder.details or not builder.details["tool:calculator"].get(
        "problem"
    )
    assert builder.selected_settings["problem"] == ""

    builder.graph_changed(graph)  # the edge deleted again
    assert builder.selected_settings["problem"].startswith("Not connected to the model")


def test_selecting_the_model_offers_the_providers_models(
    builder: BuilderState, actor: Actor, session: Session
) -> None:
    providers.save_provider(
        session,
        actor,
        {"name": "a", "kind": "openai", "api_key": "sk-test-123456", "models": ["one", "two"]},
    )
    session.commit()
    builder.select("model")
    assert builder.model_choices == ["a/one", "a/two"]
    assert builder.selected_settings["model"] == "a/one"
