"""The builder's side panel follows the graph: connecting a node clears its problem at once."""

from __future__ import annotations

import copy

import pytest
from reflex.state import State
from sqlmodel import Session

from services import accounts, agents
from state.builder import BuilderState
from tests.factories import PASSWORD, limiter, make_user, personal_actor


@pytest.fixture
def builder(session: Session, monkeypatch: pytest.MonkeyPatch) -> BuilderState:
    user = make_user(session)
    actor = personal_actor(session, user)
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
