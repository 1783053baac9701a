"""Instance admin page state: only the instance admin sees organizations and saves plans."""

from __future__ import annotations

from reflex.state import State
from sqlmodel import Session

from agent_platform.models import Organization
from services import accounts
from state.admin import AdminState
from tests.factories import PASSWORD, audit_entries, limiter, make_user, personal_actor


def new_state(session: Session, email: str) -> AdminState:
    root = State(_reflex_internal_init=True)
    state = root.get_substate(AdminState.get_full_name().split(".")[1:])
    assert isinstance(state, AdminState)
    state.auth_token = accounts.login(session, limiter(), email=email, password=PASSWORD).token
    session.commit()
    return state


def test_the_admin_lists_orgs_and_sets_a_plan(session: Session) -> None:
    make_user(session, email="root@example.com")  # the first user: instance admin
    olive = personal_actor(session, make_user(session, name="Olive", email="olive@example.com"))
    state = new_state(session, "root@example.com")
    assert state.load() is None
    assert state.is_instance_admin and state.error == ""
    assert state.total == 2 and not state.plans_enabled
    row = next(r for r in state.rows if r["id"] == str(olive.org_id))
    assert "Agents unlimited" in row["limits"]

    state.search_orgs({"q": "olive"})
    assert [r["id"] for r in state.rows] == [str(olive.org_id)]
    state.edit(str(olive.org_id))
    assert state.editing["name"] == "Olive's workspace"
    state.save(
        {
            "tier": "pro",
            "max_agents": "12",
            "max_runs_per_month": "unlimited",
            "max_concurrent_runs": "",
            "max_members": "",
        }
    )
    assert state.editing == {} and state.field_errors == {}
    session.expire_all()
    org = session.get(Organization, olive.org_id)
    assert (org.tier.value, org.max_agents, org.max_runs_per_month) == ("pro", 12, -1)
    assert org.max_concurrent_runs is None and org.max_members is None
    assert len(audit_entries(session, "org.plan_changed", org_id=olive.org_id)) == 1
    assert "Agents 12*" in state.rows[0]["limits"]


def test_a_bad_number_is_shown_on_its_field_and_nothing_changes(session: Session) -> None:
    make_user(session, email="root@example.com")
    olive = personal_actor(session, make_user(session, email="olive@example.com"))
    state = new_state(session, "root@example.com")
    state.load()
    state.edit(str(olive.org_id))
    state.save({"tier": "pro", "max_agents": "lots"})
    assert "max_agents" in state.field_errors and state.editing != {}
    session.expire_all()
    assert session.get(Organization, olive.org_id).tier.value == "starter"


def test_anyone_else_sees_no_orgs_and_cannot_save(session: Session) -> None:
    make_user(session, email="root@example.com")
    olive = personal_actor(session, make_user(session, email="olive@example.com"))
    state = new_state(session, "olive@example.com")
    state.load()
    assert state.rows == [] and state.total == 0
    assert state.error == "Only the instance admin can do this."
    # the handler refuses even when the websocket sends the event by hand
    state.editing = {"id": str(olive.org_id), "name": "x"}
    state.save({"tier": "enterprise", "max_agents": "unlimited"})
    session.expire_all()
    assert session.get(Organization, olive.org_id).tier.value == "starter"
