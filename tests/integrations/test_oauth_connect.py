"""Connecting: OAuth 2.0 code flow with PKCE and state through the real callback route,
static-credential HTTP APIs, checks, refresh and removal with revocation."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import AuditEntry, Integration, IntegrationStatus, Role, StoredSecret
from agent_platform.redis_client import get_redis
from services import secrets
from services.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from services.integrations import connections, credentials, oauth, proxy, sign_in
from services.integrations.providers import get_provider
from tests.factories import add_member, make_user, personal_actor
from tests.integrations.helpers import callback, connect


def test_slack_sign_in_stores_tokens_only_in_the_secret_store(session, fakes) -> None:
    slack = fakes["slack"]
    actor = personal_actor(session, make_user(session))
    session.commit()
    url = connections.start_sign_in(session, actor, get_redis(), provider_key="slack")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(slack.base_url + "/oauth/v2/authorize?")
    assert query["code_challenge_method"] == ["S256"] and len(query["state"][0]) >= 40
    assert query["scope"] == ["chat:write,channels:read"]

    row = connect(session, actor, slack, "slack")
    assert row.status == IntegrationStatus.ACTIVE
    assert set(row.scopes) == {"chat:write", "channels:read"}
    assert row.settings.get("account") == "Fake Team"  # from auth.test, run by the callback
    assert row.expires_at is not None
    blob = credentials.load(session, row)
    assert blob["access_token"].startswith("xoxb-") and blob["refresh_token"]
    # the row itself holds a reference, never the token
    dumped = json.dumps(row.model_dump(mode="json"))
    assert blob["access_token"] not in dumped and row.credential_ref in dumped
    exchange = [r for r in slack.requests if r.path == "/api/oauth.v2.access"][-1]
    assert exchange.form["code_verifier"]  # PKCE verifier sent with the code
    audit = session.exec(
        select(AuditEntry).where(AuditEntry.action == "integration.connected")
    ).one()
    assert audit.details["provider"] == "slack"


def test_callback_only_forwards_and_state_is_single_use(session, fakes) -> None:
    slack = fakes["slack"]
    actor = personal_actor(session, make_user(session))
    session.commit()
    url = connections.start_sign_in(session, actor, get_redis(), provider_key="slack")
    back = urlsplit(slack.approve(url))
    response = TestClient(create_api()).get(f"{back.path}?{back.query}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/integrations?oauth_state=")
    assert session.exec(select(Integration)).all() == []  # the route itself stores nothing
    query = {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
    name = asyncio.run(
        sign_in.complete(
            session_scope, actor, get_redis(), state=query["oauth_state"], code=query["oauth_code"]
        )
    )
    assert name == "Slack"
    for state in (query["oauth_state"], "forged"):  # replayed, or never issued
        with pytest.raises(Invalid, match="expired or was already used"):
            asyncio.run(
                sign_in.complete(session_scope, actor, get_redis(), state=state, code="abc")
            )
    assert len(session.exec(select(Integration)).all()) == 1


def test_a_sign_in_cannot_be_finished_by_someone_else(session, fakes) -> None:
    """Login CSRF: an attacker sends a victim the authorize link of a flow the attacker
    started. The victim's grant must not land in the attacker's organization."""
    google = fakes["google"]
    attacker = personal_actor(session, make_user(session))
    victim = personal_actor(session, make_user(session))
    _colleague_user, colleague = add_member(session, attacker.org_id, role=Role.ADMIN)
    session.commit()
    exchanges = google.exchange_count
    for finisher in (victim, colleague):
        url = connections.start_sign_in(session, attacker, get_redis(), provider_key="google")
        with pytest.raises(Forbidden, match="started by someone else"):
            callback(google, url, finisher)
    assert session.exec(select(Integration)).all() == []
    assert google.exchange_count == exchanges  # the code was never even redeemed


def test_denied_consent_and_wrong_verifier_create_nothing(session, fakes) -> None:
    slack = fakes["slack"]
    actor = personal_actor(session, make_user(session))
    session.commit()
    url = connections.start_sign_in(session, actor, get_redis(), provider_key="slack")
    with pytest.raises(Invalid, match="did not grant access"):
        callback(slack, url, actor, deny=True)

    # a flow whose PKCE verifier does not match the challenge: the provider refuses
    url = connections.start_sign_in(session, actor, get_redis(), provider_key="slack")
    back = urlsplit(slack.approve(url))
    state = parse_qs(back.query)["state"][0]
    code = parse_qs(back.query)["code"][0]
    flow = oauth.take(get_redis(), state)
    flow.verifier = "x" * 64
    with pytest.raises(Invalid, match="refused the sign-in"):
        asyncio.run(oauth.exchange(oauth.app_client(get_provider("slack")), flow, code))
    assert session.exec(select(Integration)).all() == []


def test_unconfigured_provider_and_roles(session, fakes, monkeypatch) -> None:
    from agent_platform.settings import get_settings

    owner = make_user(session)
    actor = personal_actor(session, owner)
    _user, viewer = add_member(session, actor.org_id, role=Role.VIEWER)
    session.commit()
    with pytest.raises(Forbidden):
        connections.start_sign_in(session, viewer, get_redis(), provider_key="slack")
    monkeypatch.setenv("OAUTH_LINKEDIN_CLIENT_ID", "")
    get_settings.cache_clear()
    with pytest.raises(Unavailable, match="OAUTH_LINKEDIN_CLIENT_ID"):
        connections.start_sign_in(session, actor, get_redis(), provider_key="linkedin")
    with pytest.raises(NotFound):
        connections.start_sign_in(session, actor, get_redis(), provider_key="myspace")


def test_http_api_connection_validates_and_checks(session, fakes) -> None:
    echo = fakes["echo"]
    echo.required_auth = ("header", "X-Api-Key", "k-123456789")
    actor = personal_actor(session, make_user(session))
    session.commit()
    with pytest.raises(Invalid) as err:
        connections.create_api_connection(
            session, actor, {"name": "x", "base_url": "ftp://nope", "auth_kind": "api_key"}
        )
    assert err.value.fields == {
        "base_url": "Base URL must be an http(s) URL.",
        "api_key": "API key is required.",
    }
    with pytest.raises(Invalid, match="API key is required"):
        connections.create_api_connection(
            session, actor, {"name": "x", "base_url": echo.base_url, "auth_kind": "api_key"}
        )
    with pytest.raises(Invalid, match="Base URL is not allowed"):
        connections.create_api_connection(
            session,
            actor,
            {
                "name": "m",
                "base_url": "http://169.254.169.254",
                "auth_kind": "bearer",
                "token": "t",
            },
        )
    row = connections.create_api_connection(
        session,
        actor,
        {
            "name": "echo",
            "base_url": echo.base_url,
            "auth_kind": "api_key",
            "header_name": "X-Api-Key",
            "api_key": "k-123456789",
        },
    )
    session.commit()
    with pytest.raises(Conflict):
        connections.create_api_connection(
            session,
            actor,
            {"name": "echo", "base_url": echo.base_url, "auth_kind": "bearer", "token": "t"},
        )
    session.rollback()
    problem, _account, _ = asyncio.run(proxy.check_connection(session_scope, actor.org_id, row.id))
    assert problem is None
    echo.required_auth = ("header", "X-Api-Key", "another")
    problem, _account, _ = asyncio.run(proxy.check_connection(session_scope, actor.org_id, row.id))
    assert problem == "HTTP 401"


def test_other_org_cannot_see_or_use_a_connection(session, fakes) -> None:
    a = personal_actor(session, make_user(session))
    b = personal_actor(session, make_user(session))
    session.commit()
    row = connect(session, a, fakes["slack"], "slack")
    assert connections.list_connections(session, b) == []
    with pytest.raises(NotFound):
        connections.get_connection(session, b, row.id)
    with pytest.raises(NotFound):
        connections.start_sign_in(session, b, get_redis(), integration_id=row.id)
    with pytest.raises(NotFound):
        connections.removal(session, b, row.id)
    problem, _a, _i = asyncio.run(proxy.check_connection(session_scope, b.org_id, row.id))
    assert problem == "Connection not found."


def test_check_refreshes_an_expired_token_and_saves_the_new_one(session, fakes) -> None:
    slack = fakes["slack"]
    actor = personal_actor(session, make_user(session))
    session.commit()
    row = connect(session, actor, slack, "slack")
    before = credentials.load(session, row)
    refreshes = slack.refresh_count
    slack.expire_all_tokens()  # the provider now answers token_expired
    problem, _account, _ = asyncio.run(proxy.check_connection(session_scope, actor.org_id, row.id))
    assert problem is None
    assert slack.refresh_count == refreshes + 1
    session.expire_all()
    after = credentials.load(session, session.get(Integration, row.id))
    assert after["access_token"] != before["access_token"] and slack.is_valid(after["access_token"])


def test_token_close_to_expiry_is_refreshed_before_the_call(session, fakes) -> None:
    slack = fakes["slack"]
    actor = personal_actor(session, make_user(session))
    session.commit()
    row = connect(session, actor, slack, "slack")
    blob = credentials.load(session, row)
    blob["expires_at"] = time.time() + 30  # inside the refresh margin
    credentials.save(session, row, blob)
    session.commit()
    refreshes = slack.refresh_count
    slack.clear_requests()
    problem, _a, _i = asyncio.run(proxy.check_connection(session_scope, actor.org_id, row.id))
    assert problem is None and slack.refresh_count == refreshes + 1
    paths = [r.path for r in slack.requests]
    assert paths.index("/api/oauth.v2.access") < paths.index("/api/auth.test")
    assert all(r.path != "/api/auth.test" or slack.is_valid(r.bearer) for r in slack.requests)


def test_remove_revokes_at_the_provider_and_deletes_the_secret(session, fakes) -> None:
    for key in ("slack", "github", "google"):
        fake = fakes[key]
        actor = personal_actor(session, make_user(session))
        session.commit()
        row = connect(session, actor, fake, key)
        token = credentials.load(session, row)["access_token"]
        client, blob = connections.removal(session, actor, row.id)
        assert asyncio.run(oauth.revoke(client, blob)) is None
        connections.remove(session, actor, row.id)
        session.commit()
        assert token in fake.revoked or not fake.is_valid(token), key
        assert session.get(Integration, row.id) is None
        assert session.get(StoredSecret, row.credential_ref) is None
        with pytest.raises(Unavailable):
            secrets.get(session, row.credential_ref)


def test_reconnect_keeps_the_connection_and_replaces_tokens(session, fakes) -> None:
    github = fakes["github"]
    actor = personal_actor(session, make_user(session))
    session.commit()
    row = connect(session, actor, github, "github")
    old = credentials.load(session, row)["access_token"]
    url = connections.start_sign_in(session, actor, get_redis(), integration_id=row.id)
    assert callback(github, url, actor) == "GitHub"
    session.expire_all()
    rows = session.exec(select(Integration)).all()
    assert [r.id for r in rows] == [row.id]
    assert credentials.load(session, rows[0])["access_token"] != old
    assert rows[0].settings.get("account") == "octo-fake"


def test_generic_oauth2_with_user_given_endpoints(session, fakes) -> None:
    """An OAuth 2.0 API the platform does not know: the user's own app and endpoints (here
    the fake Google's), the client secret kept in the secret store until the sign-in ends."""
    google = fakes["google"]
    actor = personal_actor(session, make_user(session))
    session.commit()
    row = connections.create_custom_oauth(
        session,
        actor,
        {
            "name": "my-api",
            "base_url": google.base_url,
            "authorize_url": google.base_url + "/o/oauth2/v2/auth",
            "token_url": google.base_url + "/token",
            "revoke_url": google.base_url + "/revoke",
            "client_id": google.client_id,
            "client_secret": google.client_secret,
            "scopes": ["openid", "email"],
        },
    )
    session.commit()
    assert row.status == IntegrationStatus.PENDING
    assert "client_secret" not in json.dumps(row.settings)
    assert credentials.load(session, row) == {"client_secret": google.client_secret}
    url = connections.start_sign_in(session, actor, get_redis(), integration_id=row.id)
    assert url.startswith(google.base_url + "/o/oauth2/v2/auth?")
    assert callback(google, url, actor) == "my-api"
    session.expire_all()
    row = session.get(Integration, row.id)
    blob = credentials.load(session, row)
    assert row.status == IntegrationStatus.ACTIVE and blob["access_token"].startswith("ya29.")
    assert blob["client_secret"] == google.client_secret  # kept for refreshes
    problem, _a, _i = asyncio.run(proxy.check_connection(session_scope, actor.org_id, row.id))
    assert problem is None
    client, blob = connections.removal(session, actor, row.id)
    assert asyncio.run(oauth.revoke(client, blob)) is None
    assert not google.is_valid(blob["access_token"])
