"""The usage page's state: loading, empty, loaded and error; the spend cap form."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session

from agent_platform.models import Execution, ExecutionStatus, Organization, Role
from services import accounts, spend
from state.usage import UsageState
from tests.factories import add_member, make_user, personal_actor
from tests.plans import billing_on  # noqa: F401 - fixture
from tests.state.helpers import signed_in


def test_it_starts_loading_and_shows_an_empty_month(session: Session) -> None:
    user = make_user(session)
    personal_actor(session, user)
    state = signed_in(session, UsageState, user)
    assert state.loading is True  # the page shows its spinner until load ran
    state.load()
    assert state.loading is False and state.error == ""
    assert state.nothing_yet is True
    assert state.plan == "self-hosted, no plan" and state.upgrade == ""
    assert {m["key"]: m["limit"] for m in state.meters} == {
        "runs": "unlimited",
        "concurrent_runs": "unlimited",
        "agents": "unlimited",
        "seats": "unlimited",
    }
    assert state.cost == "$0.00" and state.spend_cap == "" and state.spend_percent == -1
    assert state.alerts == []


def test_spend_alerts_are_listed(session: Session) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    spend.set_spend_settings(session, actor, monthly_spend_cap_usd="1", alert_webhook_url=None)
    session.add(
        Execution(
            org_id=actor.org_id,
            status=ExecutionStatus.SUCCEEDED,
            input={"message": "x"},
            cost=Decimal("0.9"),
        )
    )
    session.commit()
    spend.record_alerts(session, actor.org_id, spend.month_start())
    session.commit()
    state = signed_in(session, UsageState, user)
    state.load()
    [alert] = state.alerts
    assert alert["message"] == "80 % of the monthly spend cap used: $0.90 of $1.00."
    assert state.spend_percent == 90


@pytest.mark.usefixtures("billing_on")
def test_a_month_with_runs_against_the_starter_tier(session: Session) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    session.add(
        Execution(
            org_id=actor.org_id,
            status=ExecutionStatus.SUCCEEDED,
            input={"message": "x"},
            tokens_used=1500,
            cost=Decimal("0.0042"),
        )
    )
    session.commit()
    state = signed_in(session, UsageState, user)
    state.load()
    assert state.nothing_yet is False
    assert state.plan == "Starter plan" and state.upgrade == "Upgrade to Pro for higher limits."
    runs = next(m for m in state.meters if m["key"] == "runs")
    assert runs["used"] == "1" and runs["limit"] != "unlimited" and runs["percent"] != ""
    assert state.tokens == "1,500" and state.cost == "$0.0042"


def test_an_admin_sets_the_cap_and_a_bad_one_is_shown(session: Session) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    state = signed_in(session, UsageState, user)
    state.load()
    assert state.is_admin
    refused = state.save_cap({"monthly_spend_cap": "abc", "alert_webhook_url": ""})
    assert "amount in dollars" in state.cap_error
    assert refused is None  # said once, under the field: no toast over the form on a phone
    state.save_cap({"monthly_spend_cap": "25", "alert_webhook_url": "https://h.example/x"})
    assert state.cap_error == "" and state.spend_cap == "$25.00" and state.cap_input == "25"
    assert state.spend_percent == 0
    session.expire_all()
    assert session.get(Organization, actor.org_id).monthly_spend_cap_usd == Decimal("25")


def test_a_builder_sees_usage_but_cannot_change_the_cap(session: Session) -> None:
    owner = personal_actor(session, make_user(session))
    member, _ = add_member(session, owner.org_id, role=Role.BUILDER)
    session.commit()
    state = signed_in(session, UsageState, member)
    accounts.switch_org(session, state.auth_token, owner.org_id)
    session.commit()
    state.load()
    assert state.error == "" and not state.is_admin
    state.save_cap({"monthly_spend_cap": "5", "alert_webhook_url": ""})
    assert state.cap_error != ""
    assert spend.get_spend_settings(session, owner).monthly_spend_cap_usd is None


def test_a_gone_organization_sends_the_tab_to_sign_in_not_a_traceback(session: Session) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    state = signed_in(session, UsageState, user)
    state.load()
    org = session.get(Organization, actor.org_id)
    session.delete(org)  # the organization went away under the open page
    session.commit()
    event = state.load()
    assert event is not None and "/login" in str(event)


def test_only_an_admin_sees_the_alert_webhook_url(session: Session) -> None:
    """The webhook URL is a secret (anyone with a Slack-style URL can post to the channel)."""
    user = make_user(session)
    actor = personal_actor(session, user)
    spend.set_spend_settings(
        session, actor, monthly_spend_cap_usd="5", alert_webhook_url="https://hooks.example/s"
    )
    session.commit()
    admin = signed_in(session, UsageState, user)
    admin.load()
    assert admin.webhook_input == "https://hooks.example/s"
    viewer_user, viewer = add_member(session, actor.org_id, role=Role.VIEWER)
    settings = spend.get_spend_settings(session, viewer)
    assert settings.alert_webhook_url is None and settings.alert_webhook_set is True
    state = signed_in(session, UsageState, viewer_user)
    accounts.switch_org(session, state.auth_token, actor.org_id)
    session.commit()
    state.load()
    assert state.error == "" and state.spend_cap == "$5.00"
    assert state.webhook_input == ""
