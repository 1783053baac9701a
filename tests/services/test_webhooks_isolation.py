"""Tenant isolation of every webhook service that takes an id: another organization's trigger
(or agent) does not exist for the caller — a 404, never a 403 that confirms it exists."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlmodel import Session

from agent_platform.models import WebhookTrigger
from services import webhooks
from services.access import Actor
from services.errors import NotFound
from tests.factories import make_user, personal_actor
from tests.services.webhook_helpers import make_trigger, org_with_agent

TwoOrgs = tuple[Actor, uuid.UUID, uuid.UUID, Actor]
Action = Callable[[Session, Actor, uuid.UUID], object]


@pytest.fixture
def two_orgs(session: Session) -> TwoOrgs:
    owner, agent_id = org_with_agent(session)
    issued = make_trigger(session, owner, agent_id)
    stranger = personal_actor(session, make_user(session))
    return owner, agent_id, issued.trigger.id, stranger


@pytest.mark.parametrize(
    "action",
    [
        lambda s, a, t: webhooks.get_webhook(s, a, t),
        lambda s, a, t: webhooks.update_webhook(s, a, t, data={"enabled": False}),
        lambda s, a, t: webhooks.rotate_webhook(s, a, t),
        lambda s, a, t: webhooks.delete_webhook(s, a, t),
        lambda s, a, t: webhooks.recent_deliveries(s, a, t),
    ],
    ids=["get", "update", "rotate", "delete", "recent_deliveries"],
)
def test_another_orgs_trigger_is_not_found(
    session: Session, two_orgs: TwoOrgs, action: Action
) -> None:
    _owner, _agent_id, trigger_id, stranger = two_orgs
    with pytest.raises(NotFound, match="Trigger not found"):
        action(session, stranger, trigger_id)
    session.rollback()
    trigger = session.get(WebhookTrigger, trigger_id)
    assert trigger is not None and trigger.enabled


def test_another_orgs_agent_cannot_get_or_list_triggers(
    session: Session, two_orgs: TwoOrgs
) -> None:
    _owner, agent_id, _trigger_id, stranger = two_orgs
    with pytest.raises(NotFound, match="Agent not found"):
        webhooks.create_webhook(session, stranger, agent_id, data={"name": "mine now"})
    with pytest.raises(NotFound, match="Agent not found"):
        webhooks.list_webhooks(session, stranger, agent_id=agent_id)


def test_listing_shows_only_the_callers_org(session: Session, two_orgs: TwoOrgs) -> None:
    owner, _agent_id, trigger_id, stranger = two_orgs
    assert webhooks.list_webhooks(session, stranger) == []
    assert [t.id for t in webhooks.list_webhooks(session, owner)] == [trigger_id]
    assert session.exec(webhooks.visible_webhooks(stranger)).all() == []
