"""Settings names the plan only when plans apply: a self-hosted org is not 'starter'."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from state.settings import SettingsState
from tests.plans import billing_on  # noqa: F401 - fixture
from tests.state.helpers import signed_in


def _settings(session: Session) -> SettingsState:
    state = signed_in(session, SettingsState)
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
