"""Providers page, private-hosts section: real database, handlers called as the websocket would."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from agent_platform.models import Role
from services import accounts, private_hosts
from state.providers import ProvidersState
from tests.factories import add_member, make_user, personal_actor
from tests.state.test_providers_state import signed_in


@pytest.fixture
def admin_state(session: Session) -> ProvidersState:
    state = signed_in(session, make_user(session).email)
    assert state.load() is None
    return state


def test_an_admin_saves_the_list_and_sees_it_cleaned(
    session: Session, admin_state: ProvidersState
) -> None:
    assert admin_state.hosts_text == "" and admin_state.hosts_enabled
    admin_state.save_hosts({"private_hosts": "127.0.0.1\nOllama.Internal, 10.0.0.0/24\n\n"})
    assert admin_state.hosts_error == ""
    assert admin_state.hosts_text == "127.0.0.1\nollama.internal\n10.0.0.0/24"
    admin_state.load()
    assert admin_state.hosts_text == "127.0.0.1\nollama.internal\n10.0.0.0/24"


def test_a_bad_entry_is_shown_and_what_was_typed_is_kept(admin_state: ProvidersState) -> None:
    admin_state.save_hosts({"private_hosts": "127.0.0.1\nhttp://ollama:11434"})
    assert admin_state.hosts_error.startswith("'http://ollama:11434' is not a host name")
    assert admin_state.hosts_text == "127.0.0.1\nhttp://ollama:11434"


def test_a_builder_is_refused(session: Session) -> None:
    owner = personal_actor(session, make_user(session))
    user, _builder = add_member(session, owner.org_id, role=Role.BUILDER)
    session.commit()
    state = signed_in(session, user.email)
    accounts.switch_org(session, state.auth_token, owner.org_id)
    session.commit()
    state.load()
    assert state.role == "builder"
    state.save_hosts({"private_hosts": "127.0.0.1"})
    assert state.hosts_error == "This needs the admin role or higher."
    assert private_hosts.get_private_hosts(session, owner) == []
