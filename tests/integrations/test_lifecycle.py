"""services.integrations.lifecycle: saving from a credential form, checking and removing a
connection — the steps every caller (the Integrations page, an API) takes the same way."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import Integration, IntegrationStatus, Role, StoredSecret
from agent_platform.redis_client import get_redis
from services.access import Actor
from services.errors import Forbidden, Invalid, NotFound
from services.integrations import credentials, lifecycle
from tests.factories import add_member, audit_entries, make_user, personal_actor
from tests.integrations.helpers import callback, connect


def save_api(actor: Actor, echo: Any, auth_kind: str, **values: str) -> lifecycle.Saved:
    return lifecycle.save(
        session_scope,
        actor,
        get_redis(),
        form="http",
        auth_kind=auth_kind,
        values={"name": "echo", "base_url": echo.base_url, **values},
    )


def custom_app(google: Any, **overrides: str) -> dict[str, str]:
    return {
        "name": "my-api",
        "base_url": google.base_url,
        "authorize_url": google.base_url + "/o/oauth2/v2/auth",
        "token_url": google.base_url + "/token",
        "revoke_url": google.base_url + "/revoke",
        "client_id": google.client_id,
        "client_secret": google.client_secret,
        "scopes": "openid, email",
        **overrides,
    }


class TestSave:
    def test_only_the_fields_of_the_chosen_kind_are_stored(self, session: Session, fakes) -> None:
        actor = personal_actor(session, make_user(session))
        session.commit()
        saved = save_api(actor, fakes["echo"], "bearer", token="t-123456", password="hidden")
        assert saved == lifecycle.Saved("echo")
        row = session.exec(select(Integration)).one()
        assert row.auth_kind == "bearer" and row.status == IntegrationStatus.ACTIVE
        assert credentials.load(session, row) == {"token": "t-123456"}

    def test_an_unknown_credential_kind_is_refused_in_words(self, session: Session, fakes) -> None:
        actor = personal_actor(session, make_user(session))
        session.commit()
        with pytest.raises(Invalid, match="Choose how the API checks the credential"):
            save_api(actor, fakes["echo"], "telepathy")
        assert session.exec(select(Integration)).all() == []

    def test_a_custom_oauth_app_is_stored_then_sent_to_consent(
        self, session: Session, fakes
    ) -> None:
        google = fakes["google"]
        actor = personal_actor(session, make_user(session))
        session.commit()
        saved = lifecycle.save(
            session_scope,
            actor,
            get_redis(),
            form="oauth2",
            auth_kind="bearer",
            values=custom_app(google),
        )
        assert saved.name == "my-api" and saved.sign_in_url is not None
        assert urlsplit(saved.sign_in_url).path == "/o/oauth2/v2/auth"
        row = session.exec(select(Integration)).one()  # committed before the sign-in began
        assert row.status == IntegrationStatus.PENDING and row.scopes == ["openid", "email"]
        assert callback(google, saved.sign_in_url, actor) == "my-api"

    def test_a_builder_cannot_save_a_connection(self, session: Session, fakes) -> None:
        owner = personal_actor(session, make_user(session))
        _user, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        session.commit()
        with pytest.raises(Forbidden):
            save_api(builder, fakes["echo"], "bearer", token="t-123456")


class TestCheck:
    def test_the_outcome_is_recorded_on_the_row(self, session: Session, fakes) -> None:
        echo = fakes["echo"]
        actor = personal_actor(session, make_user(session))
        session.commit()
        save_api(actor, echo, "bearer", token="t-123456")
        row_id = session.exec(select(Integration.id)).one()
        assert asyncio.run(lifecycle.check(session_scope, actor, row_id)).problem is None
        echo.required_auth = ("header", "Authorization", "Bearer another")
        checked = asyncio.run(lifecycle.check(session_scope, actor, row_id))
        assert checked.problem == "HTTP 401"
        session.expire_all()
        row = session.get(Integration, row_id)
        assert row is not None and row.status == IntegrationStatus.ERROR
        assert row.last_error == "HTTP 401" and row.last_checked_at is not None

    def test_another_org_and_a_builder_are_refused(self, session: Session, fakes) -> None:
        owner = personal_actor(session, make_user(session))
        stranger = personal_actor(session, make_user(session))
        _user, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        session.commit()
        save_api(owner, fakes["echo"], "bearer", token="t-123456")
        row_id = session.exec(select(Integration.id)).one()
        with pytest.raises(NotFound):
            asyncio.run(lifecycle.check(session_scope, stranger, row_id))
        with pytest.raises(Forbidden):
            asyncio.run(lifecycle.check(session_scope, builder, row_id))
        session.expire_all()
        assert session.get(Integration, row_id).last_checked_at is None


class TestRemove:
    def test_the_grant_is_revoked_before_the_row_and_secret_go(
        self, session: Session, fakes
    ) -> None:
        slack = fakes["slack"]
        actor = personal_actor(session, make_user(session))
        session.commit()
        row = connect(session, actor, slack, "slack")
        token = credentials.load(session, row)["access_token"]
        row_id, secret_ref = row.id, row.credential_ref
        assert asyncio.run(lifecycle.remove(session_scope, actor, row_id)) is None
        assert token in slack.revoked or not slack.is_valid(token)
        session.expunge_all()
        assert session.get(Integration, row_id) is None
        assert session.get(StoredSecret, secret_ref) is None

    def test_a_provider_that_does_not_confirm_is_named_and_the_removal_stands(
        self, session: Session, fakes
    ) -> None:
        google = fakes["google"]
        actor = personal_actor(session, make_user(session))
        session.commit()
        saved = lifecycle.save(
            session_scope,
            actor,
            get_redis(),
            form="oauth2",
            auth_kind="bearer",
            values=custom_app(google, revoke_url=google.base_url + "/no-such-revoke"),
        )
        assert saved.sign_in_url is not None
        callback(google, saved.sign_in_url, actor)
        row_id = session.exec(select(Integration.id)).one()
        problem = asyncio.run(lifecycle.remove(session_scope, actor, row_id))
        assert problem is not None and problem.startswith("HTTP 4")
        session.expire_all()
        assert session.get(Integration, row_id) is None
        [entry] = audit_entries(session, "integration.removed")
        assert entry.details["revoke_error"] == problem
