"""An organization's private hosts reach its own HTTP API connections, and no one else's."""

from __future__ import annotations

import asyncio

import pytest

from agent_platform.db import session_scope
from agent_platform.settings import get_settings
from services import private_hosts
from services.errors import Invalid
from services.integrations import connections, proxy
from tests.factories import make_user, personal_actor


@pytest.fixture
def instance_refuses_loopback(fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "")
    get_settings.cache_clear()


def _connect(session, actor, base_url: str):
    return connections.create_api_connection(
        session,
        actor,
        {"name": "internal", "base_url": base_url, "auth_kind": "bearer", "token": "t-123456"},
    )


@pytest.mark.usefixtures("instance_refuses_loopback")
def test_an_orgs_private_host_serves_its_connection_only(session, fakes) -> None:
    echo = fakes["echo"]
    echo.required_auth = ("bearer", "t-123456")
    inside = personal_actor(session, make_user(session))
    outside = personal_actor(session, make_user(session))
    private_hosts.set_private_hosts(session, inside, ["127.0.0.1"])
    session.commit()

    row = _connect(session, inside, echo.base_url)
    session.commit()
    problem, _account, _ = asyncio.run(proxy.check_connection(session_scope, inside.org_id, row.id))
    assert problem is None

    with pytest.raises(Invalid) as refused:
        _connect(session, outside, echo.base_url)
    assert refused.value.fields["base_url"].startswith("Base URL is not allowed")
    session.rollback()


@pytest.mark.usefixtures("instance_refuses_loopback")
def test_removing_the_private_host_stops_the_connection(session, fakes) -> None:
    echo = fakes["echo"]
    echo.required_auth = ("bearer", "t-123456")
    actor = personal_actor(session, make_user(session))
    private_hosts.set_private_hosts(session, actor, ["127.0.0.1"])
    row = _connect(session, actor, echo.base_url)
    session.commit()
    private_hosts.set_private_hosts(session, actor, [])
    session.commit()
    problem, _account, _ = asyncio.run(proxy.check_connection(session_scope, actor.org_id, row.id))
    assert problem is not None and "loopback" in problem
