"""services.agent_editor: everything the agent editor shows, in one read of the caller's org."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlmodel import Session

from agent_platform.settings import get_settings
from services import agents
from services.agent_editor import IMPLIED_TOOL, editor_view
from services.errors import NotFound
from services.integrations import connections
from services.integrations.providers import PROVIDERS
from services.tools.registry import builtin_names
from tests.factories import make_user, personal_actor


@pytest.fixture
def local_hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A connection to 127.0.0.1 may be saved (no name lookups in this test)."""
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_view_offers_what_the_agent_may_be_given(session: Session, local_hosts: None) -> None:
    actor = personal_actor(session, make_user(session))
    helper = agents.create_agent(session, actor, name="Helper")
    agent = agents.create_agent(session, actor, name="Router", config={"tools": []})
    row = connections.create_api_connection(
        session,
        actor,
        {
            "name": "api",
            "base_url": "http://127.0.0.1:9",
            "auth_kind": "bearer",
            "token": "t-123456789",
        },
    )
    session.flush()
    view = editor_view(session, actor, agent.id)
    assert view.agent.id == agent.id and view.config.tools == []
    assert [a.name for a in view.other_agents] == [helper.name]  # never itself
    assert IMPLIED_TOOL not in view.builtin_tools
    assert set(view.builtin_tools) == set(builtin_names()) - {IMPLIED_TOOL}
    assert [(g.connection_id, g.action.name) for g in view.grant_choices] == [
        (row.id, action.name) for action in PROVIDERS["http"].actions
    ]
    assert [v.version for v in view.versions] == [1]
    assert view.recent_runs == []


def test_an_implied_tool_already_chosen_stays_offered(session: Session) -> None:
    actor = personal_actor(session, make_user(session))
    agent = agents.create_agent(
        session, actor, name="Reader", config={"tools": [{"kind": "builtin", "name": IMPLIED_TOOL}]}
    )
    assert IMPLIED_TOOL in editor_view(session, actor, agent.id).builtin_tools


def test_another_orgs_agent_is_not_found(session: Session) -> None:
    owner = personal_actor(session, make_user(session))
    stranger = personal_actor(session, make_user(session))
    agent = agents.create_agent(session, owner, name="Private")
    with pytest.raises(NotFound):
        editor_view(session, stranger, agent.id)
