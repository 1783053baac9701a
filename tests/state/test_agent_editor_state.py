"""The form editor shows only some of the config: saving it must keep the rest."""

from __future__ import annotations

import pytest
from reflex.state import State
from sqlmodel import Session

from services import accounts, agents
from state.agent_editor import AgentEditorState
from tests.factories import PASSWORD, limiter, make_user, personal_actor


def test_form_save_keeps_what_the_form_does_not_show(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    agent = agents.create_agent(
        session,
        actor,
        name="Keeper",
        config={
            "top_p": 0.5,
            "first_token_timeout_seconds": 7,
            "layout": {"model": {"x": 12.0, "y": 34.0}},
        },
    )
    token = accounts.login(session, limiter(), email=user.email, password=PASSWORD).token
    session.commit()
    root = State(_reflex_internal_init=True)
    state = root.get_substate(AgentEditorState.get_full_name().split(".")[1:])
    assert isinstance(state, AgentEditorState)
    state.auth_token = token
    monkeypatch.setattr(AgentEditorState, "_id", lambda self: agent.id)
    state.load()
    form = {**state.form, "instructions": "Now shorter.", "name": "Keeper"}
    state.save(form)
    assert state.error == ""
    session.expire_all()
    saved = agents.current_config(agents.get_agent(session, actor, agent.id))
    assert saved.instructions == "Now shorter."
    assert saved.top_p == 0.5 and saved.first_token_timeout_seconds == 7
    assert saved.layout == {"model": {"x": 12.0, "y": 34.0}}
