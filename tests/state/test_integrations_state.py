"""Integrations page state: the HTTP API form sends only the fields it shows (issue 10 #16), and
admins open a connection to builders with a switch (issue 10 #6)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reflex.state import State
from sqlmodel import Session, select

from agent_platform.models import Integration
from services import accounts
from state.integrations import IntegrationsState
from tests.factories import PASSWORD, audit_entries, limiter, make_user


@pytest.fixture
def page(session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[IntegrationsState]:
    from agent_platform.settings import get_settings

    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    user = make_user(session)
    token = accounts.login(session, limiter(), email=user.email, password=PASSWORD).token
    session.commit()
    root = State(_reflex_internal_init=True)
    state = root.get_substate(IntegrationsState.get_full_name().split(".")[1:])
    assert isinstance(state, IntegrationsState)
    state.auth_token = token
    state.load()
    assert state.error == ""
    yield state
    get_settings.cache_clear()


# What the browser sends: the inputs of the chosen kind; hidden ones are simply absent (null).
FORMS = {
    "bearer": {"conn_token": "t-123456"},
    "basic": {"conn_username": "svc", "conn_password": "pw-123456"},
    "api_key": {"conn_header_name": "", "conn_api_key": "k-123456"},
}


@pytest.mark.parametrize("kind", list(FORMS))
def test_each_auth_kind_saves_from_the_form(page: IntegrationsState, kind: str) -> None:
    page.connect("http")
    page.set_form_auth(kind)
    page.save({"conn_name": f"api-{kind}", "conn_base_url": "http://127.0.0.1:9", **FORMS[kind]})
    assert page.error == "" and page.field_errors == {}
    assert page.form_open is False
    assert [c["name"] for c in page.connections] == [f"api-{kind}"]


def test_errors_land_under_the_field_in_words(page: IntegrationsState) -> None:
    page.connect("http")
    page.set_form_auth("basic")
    page.save({"conn_name": "x", "conn_base_url": "http://127.0.0.1:9", "conn_username": "svc"})
    assert page.field_errors == {"conn_password": "Password is required."}
    assert page.error == "Please correct: Password is required."


def test_admin_lets_builders_grant_a_connection(session: Session, page: IntegrationsState) -> None:
    page.connect("http")
    page.save({"conn_name": "api", "conn_base_url": "http://127.0.0.1:9", "conn_token": "t-1"})
    [row] = page.connections
    assert row["builders"] == ""
    page.set_builders_may_use(row["id"], True)
    assert page.connections[0]["builders"] == "yes"
    session.expire_all()
    assert session.exec(select(Integration.builders_may_use)).one() is True
    assert len(audit_entries(session, "integration.builders_may_use")) == 1


def test_the_catalog_offers_oauth_providers_only_with_a_registered_app(
    page: IntegrationsState, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_platform.settings import get_settings

    def ready() -> dict[str, str]:
        get_settings.cache_clear()
        page.load()
        return {row["key"]: row["ready"] for row in page.catalog}

    monkeypatch.delenv("OAUTH_SLACK_CLIENT_ID", raising=False)
    assert ready()["slack"] == "" and ready()["http"] == "yes"
    monkeypatch.setenv("OAUTH_SLACK_CLIENT_ID", "slack-client-id")
    assert ready()["slack"] == "yes"
