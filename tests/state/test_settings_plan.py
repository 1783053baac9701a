"""Settings names the plan only when plans apply: a self-hosted org is not 'starter'."""

from __future__ import annotations

import pytest
from reflex.state import State
from sqlmodel import Session

from services import accounts
from state.settings import SettingsState
from tests.factories import PASSWORD, limiter, make_user
from tests.plans import billing_on  # noqa: F401 - fixture


def _settings(session: Session) -> SettingsState:
    user = make_user(session)
    token = accounts.login(session, limiter(), email=user.email, password=PASSWORD).token
    session.commit()
    root = State(_reflex_internal_init=True)
    state = root.get_substate(SettingsState.get_full_name().split(".")[1:])
    assert isinstance(state, SettingsState)
    state.auth_token = token
    state.load()
    assert state.error == "", state.error
    return state


def test_without_billing_the_plan_is_self_hosted_and_unlimited(session: Session) -> None:
    state = _settings(session)
    assert state.org_tier == "self-hosted, no plan"
    assert set(state.limits.values()) == {"unlimited"}


@pytest.mark.usefixtures("billing_on")
def test_with_billing_the_tier_is_named_with_its_limits(session: Session) -> None:
    state = _settings(session)
    assert state.org_tier == "starter"
    assert state.limits["Members"] == "3"
