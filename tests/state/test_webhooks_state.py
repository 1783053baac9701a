"""The agent page's Triggers section: create shows the URL and secret once, rotate replaces
them, enable/disable and delete reach the service, and errors come back in words."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from agent_platform.models import WebhookTrigger
from services import webhook_calls
from state.webhooks import WebhooksState
from tests.factories import make_user, personal_actor
from tests.services.webhook_helpers import agent_of
from tests.state.helpers import signed_in


def test_create_rotate_disable_delete(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    agent_id = agent_of(session, actor)
    state = signed_in(session, WebhooksState, user)
    monkeypatch.setattr(WebhooksState, "_agent", lambda self: agent_id)
    state.load()
    assert state.triggers == []

    state.create(
        {
            "trigger_name": "Shop",
            "message_mapping": "Order {{payload.id}}",
            "variables": "email = payload.customer.email",
            "rate_limit_per_minute": "5",
            "max_wait_seconds": "10",
            "require_signature": True,  # what Reflex sends for a checked Radix checkbox
        }
    )
    assert state.error == "", state.error
    assert "/api/v1/hooks/wh_" in state.shown_url and state.shown_secret.startswith("whsec_")
    [row] = state.triggers
    assert row["name"] == "Shop" and row["enabled"] == "yes" and row["signed"] == "signed"
    token = state.shown_url.rsplit("/", 1)[1]
    assert row["hint"].endswith(token[-6:]) and token not in str(state.triggers)
    session.expire_all()
    trigger = session.get(WebhookTrigger, webhook_calls.trigger_for_token(session, token).id)
    assert trigger.input_mapping == {
        "message": "Order {{payload.id}}",
        "variables": {"email": "payload.customer.email"},
    }
    assert trigger.rate_limit_per_minute == 5 and trigger.require_signature

    state.forget_shown()
    assert state.shown_url == state.shown_secret == ""
    state.rotate(row["id"])
    assert state.shown_url and state.shown_url.rsplit("/", 1)[1] != token

    state.set_enabled(row["id"], False)
    assert state.triggers[0]["enabled"] == ""
    state.delete(row["id"])
    assert state.triggers == []


def test_a_bad_mapping_is_shown_in_words(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    user = make_user(session)
    agent_id = agent_of(session, personal_actor(session, user))
    state = signed_in(session, WebhooksState, user)
    monkeypatch.setattr(WebhooksState, "_agent", lambda self: agent_id)
    state.load()
    state.create({"trigger_name": "X", "message_mapping": "{{ 1 + 1 }}", "variables": ""})
    assert "not a payload path" in state.error and state.shown_secret == ""
    state.create({"trigger_name": "X", "variables": "just-a-name"})
    assert "name = payload.path" in state.error
    state.create({"trigger_name": "X", "rate_limit_per_minute": "lots"})
    assert "whole number" in state.error
    assert state.triggers == []


def test_empty_number_fields_take_the_defaults(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A browser sends "" for number inputs left empty."""
    user = make_user(session)
    agent_id = agent_of(session, personal_actor(session, user))
    state = signed_in(session, WebhooksState, user)
    monkeypatch.setattr(WebhooksState, "_agent", lambda self: agent_id)
    state.load()
    form = {"trigger_name": "Plain", "message_mapping": "", "variables": ""}
    state.create(
        {**form, "rate_limit_per_minute": "", "max_wait_seconds": "", "require_signature": False}
    )
    assert state.error == "" and state.shown_url
    assert state.triggers[0]["limits"] == "60/min, waits ≤ 30 s"
    assert state.triggers[0]["signed"] == "unsigned"
