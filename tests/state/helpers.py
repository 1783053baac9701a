"""A page's state as a signed-in person's browser tab would hold it, for state tests."""

from __future__ import annotations

from typing import TypeVar

from reflex.state import State
from sqlmodel import Session

from agent_platform.models import User
from services import accounts
from state.base import SessionState
from tests.factories import PASSWORD, limiter, make_user

S = TypeVar("S", bound=SessionState)


def signed_in(session: Session, state_cls: type[S], user: User | None = None) -> S:
    """`state_cls` in a fresh tab of `user` (a new user if none), signed in through the real
    login; the session is committed so the state's own transactions see the data."""
    user = user or make_user(session)
    token = accounts.login(session, limiter(), email=user.email, password=PASSWORD).token
    session.commit()
    root = State(_reflex_internal_init=True)
    state = root.get_substate(state_cls.get_full_name().split(".")[1:])
    assert isinstance(state, state_cls)
    state.auth_token = token
    return state
