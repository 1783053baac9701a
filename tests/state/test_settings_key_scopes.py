"""The Settings page makes keys with the scopes and expiry a person picks, and lists them."""

from __future__ import annotations

from reflex.state import State
from sqlmodel import Session, select

from agent_platform.models import ApiKey
from services import accounts
from state.settings import SettingsState
from tests.factories import PASSWORD, limiter, make_user


def _settings(session: Session) -> SettingsState:
    user = make_user(session, name="Kay", email="kay-scopes@example.com")
    token = accounts.login(session, limiter(), email=user.email, password=PASSWORD).token
    session.commit()
    root = State(_reflex_internal_init=True)
    state = root.get_substate(SettingsState.get_full_name().split(".")[1:])
    assert isinstance(state, SettingsState)
    state.auth_token = token
    state.load()
    return state


def test_a_read_and_run_key_that_expires(session: Session) -> None:
    state = _settings(session)
    assert state.key_scopes == ["run", "write"]  # the default: what keys could always do
    state.toggle_key_scope("write", False)
    state.create_key({"key_name": "CI runner", "key_role": "builder", "key_days": "30"})
    assert state.error == "", state.error
    key = session.exec(select(ApiKey).where(ApiKey.name == "CI runner")).one()
    assert key.scopes == ["read", "run"] and key.expires_at is not None
    [row] = state.keys
    assert row["scopes"] == "read, run" and row["expires"] != "never"


def test_admin_scope_needs_the_admin_role_and_says_so(session: Session) -> None:
    state = _settings(session)
    state.toggle_key_scope("admin", True)
    state.create_key({"key_name": "Ops", "key_role": "builder", "key_days": "never"})
    assert "admin" in state.field_errors["key_scopes"].lower()  # under the scopes, once
    assert state.form_error == "" and state.error == ""
    assert state.new_key_secret == "" and state.keys == []
