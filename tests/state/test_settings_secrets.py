"""Issue 10 #4: a shown-once API key or invitation link lives in the tab's state only until it
is dismissed, the page is left, or the person logs out; logout resets every page's state."""

from __future__ import annotations

import asyncio

from reflex.state import State
from sqlmodel import Session

from services import accounts
from state.base import SessionState
from state.playground import PlaygroundState
from state.settings import SettingsState
from tests.factories import PASSWORD, limiter, make_user


def _signed_in_settings(session: Session) -> SettingsState:
    user = make_user(session, name="Ada", email="ada-secrets@example.com")
    token = accounts.login(session, limiter(), email=user.email, password=PASSWORD).token
    session.commit()
    root = State(_reflex_internal_init=True)
    state = root.get_substate(SettingsState.get_full_name().split(".")[1:])
    assert isinstance(state, SettingsState)
    state.auth_token = token
    state.load()
    assert state.error == "", state.error
    return state


def _with_secrets(state: SettingsState) -> tuple[str, str]:
    state.create_key({"key_name": "CI", "key_role": "builder"})
    state.invite({"invite_email": "bob@example.com", "invite_role": "builder"})
    assert state.new_key_secret.startswith("ap_") and "token=inv_" in state.new_invite_link
    return state.new_key_secret, state.new_invite_link


def _all_values(state: SessionState) -> str:
    root = state._get_root_state()
    return repr(root.dict())


def test_logout_resets_every_page_state_and_forgets_the_secrets(session: Session) -> None:
    state = _signed_in_settings(session)
    secret, link = _with_secrets(state)
    root = state._get_root_state()
    playground = root.get_substate(PlaygroundState.get_full_name().split(".")[1:])
    playground.error = "something of Ada's"
    assert secret in _all_values(state)

    asyncio.run(state.logout())

    values = _all_values(state)
    assert secret not in values and link not in values and "ada-secrets" not in values
    assert state.new_key_secret == "" and state.new_invite_link == ""
    assert state.keys == [] and state.members == [] and state.org_name == ""
    assert playground.error == ""
    assert state.auth_token == "" and state.signed_in is False


def test_dismissing_forgets_the_secrets(session: Session) -> None:
    state = _signed_in_settings(session)
    _with_secrets(state)
    state.forget_secrets()
    assert state.new_key_secret == "" and state.new_invite_link == ""


def test_coming_back_to_the_page_does_not_show_them_again(session: Session) -> None:
    state = _signed_in_settings(session)
    secret, _link = _with_secrets(state)
    state.load()  # the page's on_load after navigating away and back
    assert state.new_key_secret == "" and state.new_invite_link == ""
    assert secret not in _all_values(state)
