"""services.accounts: registration, sign-in with throttling, server-side sessions, admins."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import Membership, Organization, Role, User, UserSession
from agent_platform.models.base import utcnow
from agent_platform.settings import get_settings
from services import accounts
from services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from services.tokens import token_hash
from tests.factories import (
    PASSWORD,
    audit_entries,
    limiter,
    make_org,
    make_user,
    personal_actor,
)


def personal_org(session: Session, user: User) -> Organization:
    org_id = accounts.default_org_id(session, user.id)
    assert org_id is not None
    org = session.get(Organization, org_id)
    assert org is not None
    return org


def session_row(session: Session, token: str) -> UserSession:
    row = session.exec(select(UserSession).where(UserSession.token_hash == token_hash(token))).one()
    return row


class TestRegister:
    @pytest.mark.parametrize(
        ("email", "name", "password", "field"),
        [
            ("not-an-email", "Ada", PASSWORD, "email"),
            ("ada@", "Ada", PASSWORD, "email"),
            ("", "Ada", PASSWORD, "email"),
            ("ada@example.com", "Ada", "short", "password"),
            ("ada@example.com", "Ada", "aaaaaaaaaaaa", "password"),
            ("ada@example.com", "", PASSWORD, "name"),
            ("ada@example.com", "   ", PASSWORD, "name"),
            ("ada@example.com", "x" * 121, PASSWORD, "name"),
        ],
    )
    def test_invalid_input_is_refused_naming_the_field(self, session, email, name, password, field):
        with pytest.raises(Invalid) as exc:
            accounts.register(session, email=email, name=name, password=password)
        assert field in exc.value.fields
        assert exc.value.status == 422
        assert session.exec(select(User)).all() == []

    def test_email_is_stored_trimmed_and_lowercase(self, session):
        user = make_user(session, email="  Ada.Lovelace@Example.COM ")
        assert user.email == "ada.lovelace@example.com"

    def test_name_is_stored_trimmed(self, session):
        user = make_user(session, name="  Ada  ")
        assert user.name == "Ada"

    def test_duplicate_email_is_a_conflict_that_names_no_field(self, session):
        make_user(session, email="ada@example.com")
        with pytest.raises(Conflict) as exc:
            accounts.register(session, email="ada@example.com", name="Other", password=PASSWORD)
        assert exc.value.fields == {}
        assert exc.value.message == accounts.SIGN_UP_REFUSED

    def test_duplicate_email_is_detected_case_insensitively(self, session):
        make_user(session, email="ada@example.com")
        with pytest.raises(Conflict):
            accounts.register(session, email=" ADA@Example.com", name="Other", password=PASSWORD)
        assert len(session.exec(select(User)).all()) == 1

    def test_first_user_is_instance_admin_and_later_users_are_not(self, session):
        first = make_user(session)
        second = make_user(session)
        third = make_user(session)
        assert first.is_instance_admin
        assert not second.is_instance_admin
        assert not third.is_instance_admin

    def test_personal_org_is_created_with_the_user_as_owner(self, session):
        user = make_user(session, name="Ada")
        org = personal_org(session, user)
        assert org.personal
        assert org.name == "Ada's workspace"
        memberships = session.exec(select(Membership).where(Membership.org_id == org.id)).all()
        assert [(m.user_id, m.role) for m in memberships] == [(user.id, Role.OWNER)]

    def test_users_with_the_same_name_get_distinct_org_slugs(self, session):
        a = personal_org(session, make_user(session, name="Ada"))
        b = personal_org(session, make_user(session, name="Ada"))
        assert a.slug != b.slug

    def test_password_is_stored_as_argon2id_hash_never_in_clear(self, session):
        user = make_user(session, password=PASSWORD)
        session.commit()
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        stored = session.exec(select(User.password_hash).where(User.id == user.id)).one()
        assert stored.startswith("$argon2id$")
        for entry in audit_entries(session, "user.registered"):
            assert PASSWORD not in str(entry.details)

    def test_the_same_password_hashes_differently_for_two_users(self, session):
        a = make_user(session, password=PASSWORD)
        b = make_user(session, password=PASSWORD)
        assert a.password_hash != b.password_hash

    def test_registration_is_audited_in_the_personal_org(self, session):
        user = make_user(session)
        org = personal_org(session, user)
        [entry] = audit_entries(session, "user.registered")
        assert entry.org_id == org.id
        assert entry.actor_id == user.id

    def test_longest_allowed_name_still_gets_a_personal_org(self, session):
        user = make_user(session, name="x" * 120)
        org = personal_org(session, user)
        assert len(org.name) <= 120


class TestSignUpSwitch:
    """The instance's registration switch lives in the service: every way in obeys it."""

    @pytest.fixture
    def registration_closed(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv("REGISTRATION_OPEN", "false")
        get_settings.cache_clear()
        yield
        monkeypatch.undo()
        get_settings.cache_clear()

    def sign_up(self, session: Session) -> accounts.LoginResult:
        return accounts.sign_up(
            session, limiter(), email="new@example.com", name="New", password=PASSWORD
        )

    def test_closed_registration_refuses_a_new_account_in_words(self, session, registration_closed):
        with pytest.raises(Forbidden) as exc:
            self.sign_up(session)
        assert exc.value.message == accounts.REGISTRATION_CLOSED
        assert session.exec(select(User)).all() == []

    def test_open_registration_creates_the_account(self, session):
        assert self.sign_up(session).user.email == "new@example.com"


class TestLogin:
    def test_correct_credentials_open_a_server_side_session(self, session):
        user = make_user(session, email="ada@example.com")
        session.commit()
        result = accounts.login(
            session,
            limiter(),
            email="ada@example.com",
            password=PASSWORD,
            client_ip="10.0.0.1",
            user_agent="pytest-browser",
        )
        session.flush()
        assert result.user.id == user.id
        assert result.org_id == personal_org(session, user).id
        row = session_row(session, result.token)
        assert row.user_id == user.id
        assert row.current_org_id == result.org_id
        assert row.client_ip == "10.0.0.1"
        assert row.user_agent == "pytest-browser"
        assert row.revoked_at is None
        assert row.expires_at > utcnow() + timedelta(days=13)
        assert user.last_login_at is not None

    def test_only_the_token_hash_is_stored_never_the_token(self, session):
        make_user(session, email="ada@example.com")
        result = accounts.login(session, limiter(), email="ada@example.com", password=PASSWORD)
        session.flush()
        row = session_row(session, result.token)
        assert row.token_hash == token_hash(result.token)
        assert result.token not in row.model_dump().values()
        assert (
            session.exec(select(UserSession).where(UserSession.token_hash == result.token)).all()
            == []
        )

    def test_each_login_gets_a_distinct_token(self, session):
        make_user(session, email="ada@example.com")
        first = accounts.login(session, limiter(), email="ada@example.com", password=PASSWORD)
        second = accounts.login(session, limiter(), email="ada@example.com", password=PASSWORD)
        assert first.token != second.token
        session.flush()
        assert len(session.exec(select(UserSession)).all()) == 2

    def test_email_is_matched_case_insensitively(self, session):
        user = make_user(session, email="ada@example.com")
        result = accounts.login(session, limiter(), email=" ADA@example.COM ", password=PASSWORD)
        assert result.user.id == user.id

    def test_session_lifetime_follows_session_days(self, session):
        make_user(session, email="ada@example.com")
        result = accounts.login(
            session, limiter(), email="ada@example.com", password=PASSWORD, session_days=1
        )
        session.flush()
        row = session_row(session, result.token)
        assert row.expires_at < utcnow() + timedelta(days=1, minutes=1)

    def test_long_user_agent_is_truncated(self, session):
        make_user(session, email="ada@example.com")
        result = accounts.login(
            session, limiter(), email="ada@example.com", password=PASSWORD, user_agent="u" * 1000
        )
        session.flush()
        assert session_row(session, result.token).user_agent == "u" * 255

    def test_wrong_password_and_unknown_email_give_the_same_message(self, session):
        make_user(session, email="ada@example.com")
        with pytest.raises(Unauthenticated) as wrong_password:
            accounts.login(session, limiter(), email="ada@example.com", password="wrong password!")
        with pytest.raises(Unauthenticated) as unknown_email:
            accounts.login(session, limiter(), email="nobody@example.com", password=PASSWORD)
        assert wrong_password.value.message == accounts.BAD_CREDENTIALS
        assert unknown_email.value.message == accounts.BAD_CREDENTIALS
        assert wrong_password.value.fields == unknown_email.value.fields == {}

    def test_failed_login_opens_no_session(self, session):
        make_user(session, email="ada@example.com")
        with pytest.raises(Unauthenticated):
            accounts.login(session, limiter(), email="ada@example.com", password="wrong password!")
        session.flush()
        assert session.exec(select(UserSession)).all() == []

    def test_deactivated_user_gets_bad_credentials_even_with_the_right_password(self, session):
        user = make_user(session, email="ada@example.com")
        user.is_active = False
        session.add(user)
        session.flush()
        with pytest.raises(Unauthenticated) as exc:
            accounts.login(session, limiter(), email="ada@example.com", password=PASSWORD)
        assert exc.value.message == accounts.BAD_CREDENTIALS

    def test_failed_login_for_known_account_is_audited_in_its_org(self, session):
        user = make_user(session, email="ada@example.com")
        with pytest.raises(Unauthenticated), session_scope() as request_session:
            accounts.login(
                request_session,
                limiter(),
                email="ADA@example.com",
                password="wrong password!",
                client_ip="10.0.0.9",
            )
        [entry] = audit_entries(session, "auth.login_failed")
        assert entry.actor_id == user.id
        assert entry.org_id == personal_org(session, user).id
        assert entry.client_ip == "10.0.0.9"
        assert entry.details["email"] == "ada@example.com"
        assert "wrong password!" not in str(entry.details)

    def test_failed_login_for_unknown_email_is_audited_without_org(self, session):
        with pytest.raises(Unauthenticated), session_scope() as request_session:
            accounts.login(request_session, limiter(), email="ghost@example.com", password=PASSWORD)
        [entry] = audit_entries(session, "auth.login_failed")
        assert entry.org_id is None
        assert entry.actor_id is None
        assert entry.details["email"] == "ghost@example.com"

    def test_failed_login_audit_survives_the_callers_transaction(self, session):
        make_user(session, email="ada@example.com")
        session.commit()
        with pytest.raises(Unauthenticated), session_scope() as request_session:
            accounts.login(
                request_session, limiter(), email="ada@example.com", password="wrong password!"
            )
        assert len(audit_entries(session, "auth.login_failed")) == 1

    def test_successful_login_is_audited(self, session):
        user = make_user(session, email="ada@example.com")
        result = accounts.login(
            session, limiter(), email="ada@example.com", password=PASSWORD, client_ip="10.0.0.2"
        )
        session.flush()
        [entry] = audit_entries(session, "auth.login")
        assert entry.actor_id == user.id
        assert entry.org_id == result.org_id
        assert entry.client_ip == "10.0.0.2"
        assert result.token not in str(entry.details)


class TestSessions:
    def login(self, session: Session, email: str = "ada@example.com", **kw) -> str:
        return accounts.login(session, limiter(), email=email, password=PASSWORD, **kw).token

    def test_token_resolves_to_its_user(self, session):
        user = make_user(session, email="ada@example.com")
        token = self.login(session)
        session.flush()
        resolved = accounts.user_for_token(session, token)
        assert resolved is not None and resolved.id == user.id

    @pytest.mark.parametrize("token", [None, "", "not-a-token"])
    def test_missing_or_unknown_token_resolves_to_nobody(self, session, token):
        make_user(session, email="ada@example.com")
        self.login(session)
        session.flush()
        assert accounts.user_for_token(session, token) is None

    def test_logout_revokes_the_session(self, session):
        make_user(session, email="ada@example.com")
        token = self.login(session)
        session.commit()
        accounts.logout(session, token)
        session.commit()
        assert accounts.user_for_token(session, token) is None
        assert session_row(session, token).revoked_at is not None

    def test_logout_is_audited(self, session):
        user = make_user(session, email="ada@example.com")
        token = self.login(session)
        session.flush()
        accounts.logout(session, token)
        session.flush()
        [entry] = audit_entries(session, "auth.logout")
        assert entry.actor_id == user.id

    def test_logout_leaves_other_sessions_of_the_user_alone(self, session):
        make_user(session, email="ada@example.com")
        laptop = self.login(session)
        phone = self.login(session)
        session.flush()
        accounts.logout(session, laptop)
        session.flush()
        assert accounts.user_for_token(session, laptop) is None
        assert accounts.user_for_token(session, phone) is not None

    def test_logout_with_unknown_token_does_nothing(self, session):
        accounts.logout(session, "not-a-token")
        accounts.logout(session, None)
        session.flush()
        assert audit_entries(session, "auth.logout") == []

    def test_expired_session_does_not_resolve(self, session):
        make_user(session, email="ada@example.com")
        token = self.login(session)
        session.flush()
        row = session_row(session, token)
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
        assert accounts.session_for_token(session, token) is None
        assert accounts.user_for_token(session, token) is None

    def test_session_of_deactivated_user_does_not_resolve(self, session):
        user = make_user(session, email="ada@example.com")
        token = self.login(session)
        user.is_active = False
        session.add(user)
        session.flush()
        assert accounts.user_for_token(session, token) is None

    def test_replace_token_revokes_the_previous_session_of_that_browser(self, session):
        make_user(session, email="ada@example.com")
        old = self.login(session)
        session.flush()
        new = self.login(session, replace_token=old)
        session.flush()
        assert accounts.user_for_token(session, old) is None
        assert session_row(session, old).revoked_at is not None
        assert accounts.user_for_token(session, new) is not None

    def test_replace_token_can_switch_the_browser_to_another_account(self, session):
        make_user(session, email="ada@example.com")
        bob = make_user(session, email="bob@example.com")
        ada_token = self.login(session)
        session.flush()
        bob_token = self.login(session, email="bob@example.com", replace_token=ada_token)
        session.flush()
        assert accounts.user_for_token(session, ada_token) is None
        resolved = accounts.user_for_token(session, bob_token)
        assert resolved is not None and resolved.id == bob.id

    def test_failed_login_does_not_revoke_the_replaced_session(self, session):
        make_user(session, email="ada@example.com")
        old = self.login(session)
        session.flush()
        with pytest.raises(Unauthenticated):
            accounts.login(
                session,
                limiter(),
                email="ada@example.com",
                password="wrong password!",
                replace_token=old,
            )
        session.flush()
        assert accounts.user_for_token(session, old) is not None


class TestSwitchOrg:
    def test_member_can_switch_to_another_of_their_orgs(self, session):
        user = make_user(session, email="ada@example.com")
        team = make_org(session, user, name="Team")
        token = accounts.login(session, limiter(), email="ada@example.com", password=PASSWORD).token
        session.flush()
        row = accounts.switch_org(session, token, team.org_id)
        session.flush()
        assert row.current_org_id == team.org_id
        assert session_row(session, token).current_org_id == team.org_id

    def test_switching_to_an_org_you_are_not_member_of_is_not_found(self, session):
        make_user(session, email="ada@example.com")
        other = make_user(session, email="bob@example.com")
        other_org = personal_actor(session, other).org_id
        token = accounts.login(session, limiter(), email="ada@example.com", password=PASSWORD).token
        session.flush()
        before = session_row(session, token).current_org_id
        with pytest.raises(NotFound):
            accounts.switch_org(session, token, other_org)
        with pytest.raises(NotFound):
            accounts.switch_org(session, token, uuid.uuid4())
        assert session_row(session, token).current_org_id == before

    def test_switching_with_an_ended_session_is_unauthenticated(self, session):
        user = make_user(session, email="ada@example.com")
        org_id = personal_actor(session, user).org_id
        token = accounts.login(session, limiter(), email="ada@example.com", password=PASSWORD).token
        session.flush()
        accounts.logout(session, token)
        session.flush()
        with pytest.raises(Unauthenticated):
            accounts.switch_org(session, token, org_id)


class TestCreateAdmin:
    def test_existing_user_is_promoted(self, session):
        make_user(session)  # first user: already admin
        user = make_user(session, email="bob@example.com")
        assert not user.is_instance_admin
        promoted = accounts.create_admin(
            session, email="BOB@example.com", name="ignored", password="ignored"
        )
        session.flush()
        assert promoted.id == user.id
        assert promoted.is_instance_admin
        assert promoted.name == user.name
        assert len(session.exec(select(User)).all()) == 2
        [entry] = audit_entries(session, "user.promoted_admin")
        assert entry.actor_id == user.id

    def test_promoting_keeps_the_existing_password(self, session):
        make_user(session)
        make_user(session, email="bob@example.com")
        accounts.create_admin(session, email="bob@example.com", name="Bob", password="other pass")
        session.flush()
        assert accounts.login(session, limiter(), email="bob@example.com", password=PASSWORD)

    def test_new_email_creates_an_admin_with_a_personal_org(self, session):
        make_user(session)  # so the admin is not merely the first user
        admin = accounts.create_admin(
            session, email="root@example.com", name="Root", password=PASSWORD
        )
        session.flush()
        assert admin.is_instance_admin
        assert admin.email == "root@example.com"
        assert personal_actor(session, admin).role == Role.OWNER
        assert accounts.login(session, limiter(), email="root@example.com", password=PASSWORD)

    def test_new_admin_input_is_validated(self, session):
        with pytest.raises(Invalid) as exc:
            accounts.create_admin(session, email="root@example.com", name="Root", password="x")
        assert "password" in exc.value.fields


class TestChangePassword:
    def test_new_password_works_and_old_one_does_not(self, session):
        user = make_user(session, email="ada@example.com")
        old_hash = user.password_hash
        accounts.change_password(session, user, current=PASSWORD, new="a brand new secret")
        session.flush()
        assert user.password_hash != old_hash
        assert user.password_hash.startswith("$argon2id$")
        assert "a brand new secret" not in user.password_hash
        assert accounts.login(
            session, limiter(), email="ada@example.com", password="a brand new secret"
        )
        with pytest.raises(Unauthenticated):
            accounts.login(session, limiter(), email="ada@example.com", password=PASSWORD)

    def test_wrong_current_password_is_refused(self, session):
        user = make_user(session)
        old_hash = user.password_hash
        with pytest.raises(Invalid) as exc:
            accounts.change_password(session, user, current="not my password", new="new secret 1")
        assert "current" in exc.value.fields
        assert user.password_hash == old_hash

    @pytest.mark.parametrize("new", ["short", "aaaaaaaaaaaaaa", " " * 12])
    def test_weak_new_password_is_refused(self, session, new):
        user = make_user(session)
        old_hash = user.password_hash
        with pytest.raises(Invalid) as exc:
            accounts.change_password(session, user, current=PASSWORD, new=new)
        assert "password" in exc.value.fields
        assert user.password_hash == old_hash
