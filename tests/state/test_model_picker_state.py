"""The "New agent" dialog offers the models the org's providers list as soon as it opens."""

from __future__ import annotations

from reflex.state import State
from sqlmodel import Session

from services import accounts
from services.llm import providers
from state.agents import AgentsState
from tests.factories import PASSWORD, limiter, make_user, personal_actor


def test_opening_the_dialog_lists_the_providers_models(session: Session) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    providers.save_provider(
        session,
        actor,
        {"name": "openai", "kind": "openai", "api_key": "sk-test-123456", "models": ["gpt-4o"]},
    )
    token = accounts.login(session, limiter(), email=user.email, password=PASSWORD).token
    session.commit()
    root = State(_reflex_internal_init=True)
    state = root.get_substate(AgentsState.get_full_name().split(".")[1:])
    assert isinstance(state, AgentsState)
    state.auth_token = token
    assert state.model_choices == []
    state.set_create_open(True)
    assert state.model_choices == ["openai/gpt-4o"]
    assert "fetch_models" in AgentsState.event_handlers
