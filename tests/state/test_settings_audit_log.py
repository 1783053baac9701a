"""The audit log says who did each thing, and a rename names the organization it renamed."""

from __future__ import annotations

from reflex.state import State
from sqlmodel import Session

from services import accounts, audit, organizations
from state.settings import SettingsState
from tests.factories import PASSWORD, limiter, make_user, personal_actor


def test_rename_is_logged_against_the_organization(session: Session) -> None:
    actor = personal_actor(session, make_user(session, name="Ada", email="ada@example.com"))
    organizations.rename_org(session, actor, name="Ada's lab")
    session.flush()
    entries, _ = audit.list_entries(session, actor, action="org.renamed")
    assert [(e.target_type, e.target_id) for e in entries] == [("org", str(actor.org_id))]


def test_actor_labels_name_people_and_leave_out_the_unknown(session: Session) -> None:
    actor = personal_actor(session, make_user(session, name="Ada", email="ada@example.com"))
    organizations.rename_org(session, actor, name="Renamed")
    audit.record(session, "system.tick", org_id=actor.org_id, actor_id=None)
    session.flush()
    entries, _ = audit.list_entries(session, actor)
    assert audit.actor_labels(session, entries) == {actor.user_id: "Ada <ada@example.com>"}


def test_the_log_tab_shows_the_actor_by_name(session: Session) -> None:
    user = make_user(session, name="Ada", email="ada@example.com")
    actor = personal_actor(session, user)
    organizations.rename_org(session, actor, name="Ada's lab")
    audit.record(session, "system.tick", org_id=actor.org_id, actor_id=None)
    token = accounts.login(session, limiter(), email=user.email, password=PASSWORD).token
    session.commit()
    root = State(_reflex_internal_init=True)
    state = root.get_substate(SettingsState.get_full_name().split(".")[1:])
    assert isinstance(state, SettingsState)
    state.auth_token = token
    state.load()
    assert state.error == "", state.error
    rows = {row["action"]: row for row in state.audit_rows}
    assert rows["org.renamed"]["actor"] == "Ada <ada@example.com>"
    assert rows["org.renamed"]["target"] == f"org {actor.org_id}"
    assert rows["system.tick"]["actor"] == "the system"
