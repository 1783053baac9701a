"""Dashboard state: the live loop's fetch step and what the page is given, on a real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from reflex.state import State
from sqlmodel import Session

from agent_platform.models import ExecutionStatus
from agent_platform.models.base import utcnow
from services import accounts, dashboard
from services.access import Actor, actor_for
from services.errors import NotFound
from state.dashboard import DashboardState, fetch
from tests.factories import PASSWORD, limiter, make_user
from tests.services.runtime_helpers import make_agent
from tests.services.test_dashboard import NOW, add_run, make_org


def new_state() -> DashboardState:
    root = State(_reflex_internal_init=True)
    state = root.get_substate(DashboardState.get_full_name().split(".")[1:])
    assert isinstance(state, DashboardState)
    return state


def token_of(session: Session, email: str) -> str:
    token = accounts.login(session, limiter(), email=email, password=PASSWORD).token
    session.commit()
    return token


def test_signed_out_visitor_is_sent_to_login() -> None:
    state = new_state()
    assert state.load() is not None
    assert not state.signed_in and not state.live


def test_signed_in_member_starts_the_live_loop(session: Session) -> None:
    state = new_state()
    state.auth_token = token_of(session, make_user(session).email)
    assert state.load() == DashboardState.follow
    assert state.signed_in and not state.loaded


def signed_in_member(session: Session) -> tuple[str, Actor]:
    """A user signed in to their personal organization: their token and actor there."""
    token = token_of(session, make_user(session).email)
    user, org_id = accounts.signed_in(session, token)
    return token, actor_for(session, user, org_id)


def test_fetch_skips_the_figures_while_nothing_changes(session: Session) -> None:
    token, _ = signed_in_member(session)
    theirs = make_org(session, "Mallory")  # another org's run never counts
    add_run(session, theirs, make_agent(session, theirs, "Theirs"), ago=timedelta(minutes=5))
    session.commit()

    first = fetch(token, None, range_key="24h", agent_id="")
    unchanged = fetch(token, None, range_key="24h", agent_id="", marker=first.marker, force=False)

    assert first.data is not None and first.data.total_runs == 0
    assert unchanged.data is None and unchanged.marker == first.marker


def test_a_finished_run_moves_the_marker_and_shows(session: Session) -> None:
    token, actor = signed_in_member(session)
    agent = make_agent(session, actor, "Alpha")
    session.commit()
    before = fetch(token, None, range_key="24h", agent_id="")

    add_run(
        session,
        actor,
        agent,
        ago=timedelta(0),
        status=ExecutionStatus.FAILED,
        error="boom",
        now=utcnow(),
    )
    session.commit()
    after = fetch(token, None, range_key="24h", agent_id="", marker=before.marker, force=False)

    assert after.marker != before.marker and after.data is not None
    assert after.data.total_runs == 1 and after.data.failures[0].error == "boom"


def test_agent_of_another_org_is_not_found(session: Session) -> None:
    token = token_of(session, make_user(session).email)
    theirs = make_org(session, "Mallory")
    agent = make_agent(session, theirs, "Theirs")
    session.commit()
    with pytest.raises(NotFound):
        fetch(token, None, range_key="7d", agent_id=str(agent))


def test_page_gets_formatted_figures(session: Session) -> None:
    actor = make_org(session)
    agent = make_agent(session, actor, "Alpha")
    add_run(
        session,
        actor,
        agent,
        ago=timedelta(minutes=3),
        latency_ms=1500,
        tokens=1234,
        cost="2.5",
        steps=[("model", "openai/gpt-4o", 1234, "2.5")],
    )
    failed = add_run(
        session, actor, agent, ago=timedelta(minutes=2), status=ExecutionStatus.FAILED, error="x"
    )
    session.commit()
    data = dashboard.summary(session, actor, range_key="24h", now=NOW)
    state = new_state()

    state._show(data)

    assert state.loaded and state.total_runs == 2
    assert state.stats["runs"] == "2" and state.stats["success"] == "50.0 %"
    assert state.stats["tokens"] == "1,234" and state.stats["cost"] == "$2.50"
    assert state.stats["p50"] == "1.25 s"  # 1000 ms (the failure) and 1500 ms
    assert len(state.chart) == 24 and state.chart[-1]["failed"] == 1
    assert state.by_provider == [
        {"name": "openai", "calls": "1", "tokens": "1,234", "cost": "$2.50"}
    ]
    assert state.top_runs[0]["name"] == "Alpha" and state.top_runs[0]["id"] == str(agent)
    assert state.failures[0]["id"] == str(failed) and state.failures[0]["error"] == "x"


def test_unknown_range_is_ignored() -> None:
    state = new_state()
    assert state.set_range("1y") is None and state.range_key == "7d"
    assert state.set_range("30d") == DashboardState.follow and state.range_key == "30d"
