"""Sign-up form state: it shows the service's refusal in words (the registration switch lives in
services.accounts.sign_up, so the form cannot skip it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reflex.state import State
from sqlmodel import Session, select

from agent_platform.models import User
from agent_platform.settings import get_settings
from services.accounts import REGISTRATION_CLOSED
from state.auth import AuthFormState
from tests.factories import PASSWORD


@pytest.fixture
def form() -> AuthFormState:
    root = State(_reflex_internal_init=True)
    state = root.get_substate(AuthFormState.get_full_name().split(".")[1:])
    assert isinstance(state, AuthFormState)
    return state


@pytest.fixture
def registration_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("REGISTRATION_OPEN", "false")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


SIGN_UP = {"email": "new@example.com", "name": "New", "password": PASSWORD, "confirm": PASSWORD}


def test_closed_registration_shows_the_services_words(
    session: Session, form: AuthFormState, registration_closed: None
) -> None:
    assert form.register(SIGN_UP) is None
    assert form.error == REGISTRATION_CLOSED and form.auth_token == ""
    assert session.exec(select(User)).all() == []


def test_open_registration_signs_the_new_account_in(session: Session, form: AuthFormState) -> None:
    form.register(SIGN_UP)
    assert form.error == "" and form.auth_token != ""
    assert [u.email for u in session.exec(select(User)).all()] == ["new@example.com"]
