"""The model providers page state: real database, handlers called as the websocket would."""

from __future__ import annotations

import pytest
from reflex.state import State
from sqlmodel import Session

from agent_platform.models import Role
from services import accounts
from state.providers import ProvidersState
from tests.factories import PASSWORD, add_member, limiter, make_user, personal_actor

SECRET = "sk-test-do-not-show-9f3a"


def signed_in(session: Session, email: str) -> ProvidersState:
    token = accounts.login(session, limiter(), email=email, password=PASSWORD).token
    session.commit()
    root = State(_reflex_internal_init=True)
    state = root.get_substate(ProvidersState.get_full_name().split(".")[1:])
    assert isinstance(state, ProvidersState)
    state.auth_token = token
    return state


@pytest.fixture
def admin_state(session: Session) -> ProvidersState:
    state = signed_in(session, make_user(session).email)
    assert state.load() is None
    return state


def test_signed_out_visitor_is_sent_to_login() -> None:
    root = State(_reflex_internal_init=True)
    state = root.get_substate(ProvidersState.get_full_name().split(".")[1:])
    assert state.load() is not None
    assert not state.signed_in and state.providers == []


def test_saved_provider_shows_only_the_key_hint(admin_state: ProvidersState) -> None:
    admin_state.open_new()
    admin_state.save(
        {"provider_name": "openai", "provider_api_key": SECRET, "provider_models": "a, b"}
    )
    assert admin_state.error == "" and not admin_state.form_open
    [row] = admin_state.providers
    assert row["name"] == "openai" and row["models"] == "a, b" and row["key_hint"] == "…9f3a"
    assert SECRET not in repr(admin_state.dict())


def test_edit_with_empty_key_keeps_the_stored_key(admin_state: ProvidersState) -> None:
    admin_state.open_new()
    admin_state.save({"provider_name": "openai", "provider_api_key": SECRET})
    hint = admin_state.providers[0]["key_hint"]
    admin_state.open_edit(admin_state.providers[0]["id"])
    admin_state.save({"provider_name": "main", "provider_api_key": "", "provider_models": "m"})
    assert admin_state.error == ""
    assert [(p["name"], p["key_hint"]) for p in admin_state.providers] == [("main", hint)]


def test_refused_form_shows_inline_errors_and_stays_open(admin_state: ProvidersState) -> None:
    admin_state.open_new()
    admin_state.save({"provider_name": "Not A Slug!", "provider_api_key": ""})
    assert admin_state.form_open
    assert "provider_name" in admin_state.field_errors
    assert admin_state.error and admin_state.providers == []


def test_delete_removes_the_provider(admin_state: ProvidersState) -> None:
    admin_state.open_new()
    admin_state.save({"provider_name": "openai", "provider_api_key": SECRET})
    admin_state.delete(admin_state.providers[0]["id"])
    assert admin_state.providers == [] and admin_state.error == ""
    admin_state.delete("not-a-uuid")
    assert admin_state.error == "Provider not found."


def test_builder_is_refused(session: Session) -> None:
    owner = personal_actor(session, make_user(session))
    builder, _ = add_member(session, owner.org_id, role=Role.BUILDER)
    session.commit()
    state = signed_in(session, builder.email)
    accounts.switch_org(session, state.auth_token, owner.org_id)
    session.commit()
    state.load()
    assert state.role == "builder" and not state.is_admin
    state.save({"provider_name": "openai", "provider_api_key": SECRET})
    assert state.error
