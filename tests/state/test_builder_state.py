"""The builder's state, driven as the canvas drives it: gestures report the graph; settings
edited in the side panel survive the next gesture; a save makes the version that runs."""

from __future__ import annotations

import copy

import pytest
from reflex.state import State
from sqlmodel import Session

from services import accounts, agents
from state.builder import BuilderState
from tests.factories import PASSWORD, limiter, make_user, personal_actor


@pytest.fixture
def builder(session: Session, monkeypatch: pytest.MonkeyPatch) -> tuple[BuilderState, object]:
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
    assert state.error == "" and state.agent_id == str(agent.id)
    return state, (actor, agent.id)


def test_side_panel_edits_survive_the_next_gesture_and_are_saved(builder, session) -> None:
    state, (actor, agent_id) = builder
    seed = copy.deepcopy(dict(state.graph))  # what the browser holds, with the old settings
    state.select("model")
    state.set_model({"model": "b/two", "fallback_models": "c/three"})
    moved = copy.deepcopy(seed)
    moved["nodes"][0]["position"] = {"x": 999, "y": 5}
    state.graph_changed(moved)  # a drag: the browser still has the old model in its data
    assert state.details["model"]["subtitle"] == "b/two → c/three"
    state.save()
    assert state.error == "", state.error
    session.expire_all()
    config = agents.current_config(agents.get_agent(session, actor, agent_id))
    assert config.model == "b/two" and config.fallback_models == ["c/three"]
    assert config.layout["model"] == {"x": 999.0, "y": 5.0}


def test_an_unwired_node_blocks_saving_with_the_reason(builder) -> None:
    state, _ = builder
    graph = copy.deepcopy(dict(state.graph))
    graph["nodes"].append(
        {
            "id": "tool:calculator",
            "kind": "tool",
            "name": "calculator",
            "position": {"x": 1, "y": 1},
        }
    )
    state.graph_changed(graph)
    assert "Not connected" in state.details["tool:calculator"]["problem"]
    state.save()
    assert state.error.startswith("Fix the marked nodes first")
    state.graph_changed({"nodes": [{"id": "x", "kind": "spaceship"}]})
    assert "cannot be read" in state.error
