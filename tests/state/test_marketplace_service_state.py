"""A service listing's Run box: a buyer subscribes with a maximum spend per run (errors in
words), changes it, and runs the service, which opens the run page of a run in the buyer's
organization."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import Execution, User
from state.marketplace_service import ServiceState
from tests.services.billing_helpers import localstripe, stripe, stripe_server  # noqa: F401
from tests.services.test_service_runs import make_service, take_charges
from tests.state.helpers import signed_in


def _user_of(session: Session, actor: Any) -> User:
    user = session.get(User, actor.user_id)
    assert user is not None
    return user


def test_subscribe_change_the_maximum_and_run(session: Session, llm: Any, stripe: Any) -> None:  # noqa: F811
    service = make_service(session, llm)
    take_charges(session, service)
    page = signed_in(session, ServiceState, _user_of(session, service.buyer))
    page._load_identity()  # what the page's first on_load handler does
    page.listing_id, page.found = str(service.listing_id), True
    page.load_service()
    assert not page.subscribed

    page.set_max_spend_input("0")
    page.subscribe()
    assert not page.subscribed  # refused in words: more than $0
    page.set_max_spend_input("0.50")
    page.subscribe()
    assert page.subscribed and page.max_spend == "$0.50"

    page.set_max_spend_input("2")
    page.save_max_spend()
    assert page.max_spend == "$2.00"

    page.set_run_message("what is 6*7?")
    redirect = page.run_service()
    assert "/run?id=" in str(redirect)
    with session_scope() as s:
        [run] = s.exec(
            select(Execution).where(Execution.service_listing_id == service.listing_id)
        ).all()
        assert run.org_id == service.buyer.org_id and str(run.id) in str(redirect)

    page.unsubscribe()
    assert not page.subscribed


def test_a_stranger_sees_no_run_box_state_for_an_unknown_listing(session: Session) -> None:
    page = signed_in(session, ServiceState)
    page._load_identity()
    page.listing_id, page.found = str(uuid.uuid4()), True
    page.load_service()
    assert not page.subscribed
