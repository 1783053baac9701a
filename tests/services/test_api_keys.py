"""services.api_keys: org keys for the REST API, shown once, stored only as a hash."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from agent_platform.models import ApiKey, Membership, Role, User
from agent_platform.models.base import utcnow
from services import agents, api_keys, organizations
from services.access import Actor
from services.errors import Forbidden, Invalid, NotFound, Unauthenticated
from services.tokens import token_hash
from tests.factories import add_member, audit_entries, make_api_key, make_user, personal_actor


@pytest.fixture
def owner(session) -> Actor:
    return personal_actor(session, make_user(session))


class TestCreateKey:
    @pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
    def test_admin_or_owner_can_create_a_key(self, session, owner, role):
        actor = owner if role == Role.OWNER else add_member(session, owner.org_id, role=role)[1]
        created = api_keys.create_key(session, actor, name="  Deploy bot ", role="viewer")
        assert created.key.org_id == owner.org_id
        assert created.key.name == "Deploy bot"
        assert created.key.role == Role.VIEWER
        assert created.key.created_by_id == actor.user_id

    def test_role_defaults_to_builder(self, session, owner):
        assert api_keys.create_key(session, owner, name="CI").key.role == Role.BUILDER

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER])
    def test_viewer_and_builder_cannot_create_keys(self, session, owner, role):
        _, actor = add_member(session, owner.org_id, role=role)
        with pytest.raises(Forbidden):
            api_keys.create_key(session, actor, name="CI")
        session.flush()
        assert session.exec(select(ApiKey)).all() == []

    def test_secret_is_shown_once_and_only_its_hash_is_stored(self, session, owner):
        created = make_api_key(session, owner)
        assert created.secret.startswith("ap_")
        assert len(created.secret) > 32
        assert created.key.key_hash == token_hash(created.secret)
        assert created.secret not in created.key.model_dump().values()
        stored = session.exec(select(ApiKey.key_hash, ApiKey.prefix)).one()
        assert stored == (token_hash(created.secret), created.secret[:9])

    def test_display_prefix_is_a_short_start_of_the_secret(self, session, owner):
        created = make_api_key(session, owner)
        assert created.key.prefix == created.secret[: len("ap_") + 6]
        assert len(created.key.prefix) < len(created.secret) // 4

    def test_each_key_gets_a_distinct_secret(self, session, owner):
        assert make_api_key(session, owner).secret != make_api_key(session, owner).secret

    def test_owner_role_is_refused(self, session, owner):
        with pytest.raises(Forbidden):
            api_keys.create_key(session, owner, name="God mode", role="owner")
        session.flush()
        assert session.exec(select(ApiKey)).all() == []

    @pytest.mark.parametrize(
        ("name", "role", "field"),
        [
            ("", "builder", "name"),
            ("   ", "builder", "name"),
            ("x" * 81, "builder", "name"),
            ("CI", "superuser", "role"),
        ],
    )
    def test_bad_name_or_role_is_invalid(self, session, owner, name, role, field):
        with pytest.raises(Invalid) as exc:
            api_keys.create_key(session, owner, name=name, role=role)
        assert field in exc.value.fields

    def test_creation_is_audited_without_the_secret(self, session, owner):
        created = api_keys.create_key(session, owner, name="CI", role="admin")
        session.flush()
        [entry] = audit_entries(session, "api_key.created", org_id=owner.org_id)
        assert entry.actor_id == owner.user_id
        assert entry.target_type == "api_key"
        assert entry.target_id == str(created.key.id)
        assert entry.details == {"name": "CI", "role": "admin", "scopes": ["read", "run", "write"]}
        assert created.secret not in str(entry.details)


class TestActorForKey:
    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER, Role.ADMIN])
    def test_key_resolves_to_its_org_and_role(self, session, owner, role):
        created = make_api_key(session, owner, role=role)
        actor = api_keys.actor_for_key(session, created.secret)
        assert actor.org_id == owner.org_id
        assert actor.role == role
        assert actor.user_id is None

    def test_use_is_recorded(self, session, owner):
        created = make_api_key(session, owner)
        assert created.key.last_used_at is None
        api_keys.actor_for_key(session, created.secret)
        assert created.key.last_used_at is not None

    def test_revoked_key_is_unauthenticated(self, session, owner):
        created = make_api_key(session, owner)
        api_keys.revoke_key(session, owner, created.key.id)
        session.flush()
        with pytest.raises(Unauthenticated):
            api_keys.actor_for_key(session, created.secret)

    def test_expired_key_is_unauthenticated(self, session, owner):
        created = make_api_key(session, owner)
        created.key.expires_at = utcnow() - timedelta(seconds=1)
        session.add(created.key)
        session.flush()
        with pytest.raises(Unauthenticated):
            api_keys.actor_for_key(session, created.secret)

    def test_key_with_future_expiry_still_works(self, session, owner):
        created = make_api_key(session, owner)
        created.key.expires_at = utcnow() + timedelta(days=1)
        session.add(created.key)
        session.flush()
        assert api_keys.actor_for_key(session, created.secret).org_id == owner.org_id

    @pytest.mark.parametrize("secret", [None, "", "ap_not-a-real-key", "no-prefix-at-all"])
    def test_missing_or_unknown_secret_is_unauthenticated(self, session, owner, secret):
        make_api_key(session, owner)
        with pytest.raises(Unauthenticated):
            api_keys.actor_for_key(session, secret)

    def test_the_stored_hash_itself_is_not_a_valid_key(self, session, owner):
        created = make_api_key(session, owner)
        with pytest.raises(Unauthenticated):
            api_keys.actor_for_key(session, "ap_" + created.key.key_hash)
        with pytest.raises(Unauthenticated):
            api_keys.actor_for_key(session, created.key.key_hash)

    def test_every_failure_gives_the_same_message(self, session, owner):
        created = make_api_key(session, owner)
        api_keys.revoke_key(session, owner, created.key.id)
        session.flush()
        messages = set()
        for secret in (None, "nope", "ap_unknown", created.secret):
            with pytest.raises(Unauthenticated) as exc:
                api_keys.actor_for_key(session, secret)
            messages.add(exc.value.message)
        assert len(messages) == 1


class TestListKeys:
    def test_lists_live_keys_newest_first(self, session, owner):
        older = make_api_key(session, owner, name="old")
        older.key.created_at = utcnow() - timedelta(hours=1)
        session.add(older.key)
        newer = make_api_key(session, owner, name="new")
        revoked = make_api_key(session, owner, name="gone")
        api_keys.revoke_key(session, owner, revoked.key.id)
        session.flush()
        assert [k.id for k in api_keys.list_keys(session, owner)] == [newer.key.id, older.key.id]

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER])
    def test_viewer_and_builder_cannot_list(self, session, owner, role):
        _, actor = add_member(session, owner.org_id, role=role)
        with pytest.raises(Forbidden):
            api_keys.list_keys(session, actor)


class TestRevokeKey:
    def test_admin_revokes_and_it_is_audited(self, session, owner):
        _, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        created = make_api_key(session, owner)
        api_keys.revoke_key(session, admin, created.key.id)
        session.flush()
        assert created.key.revoked_at is not None
        [entry] = audit_entries(session, "api_key.revoked", org_id=owner.org_id)
        assert entry.actor_id == admin.user_id
        assert entry.target_id == str(created.key.id)

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER])
    def test_viewer_and_builder_cannot_revoke(self, session, owner, role):
        _, actor = add_member(session, owner.org_id, role=role)
        created = make_api_key(session, owner)
        with pytest.raises(Forbidden):
            api_keys.revoke_key(session, actor, created.key.id)
        assert api_keys.actor_for_key(session, created.secret).org_id == owner.org_id

    def test_revoking_twice_is_not_found(self, session, owner):
        created = make_api_key(session, owner)
        api_keys.revoke_key(session, owner, created.key.id)
        session.flush()
        with pytest.raises(NotFound):
            api_keys.revoke_key(session, owner, created.key.id)
        assert len(audit_entries(session, "api_key.revoked")) == 1

    def test_revoking_an_unknown_id_is_not_found(self, session, owner):
        with pytest.raises(NotFound):
            api_keys.revoke_key(session, owner, uuid.uuid4())

    def test_a_key_can_revoke_keys_when_it_has_the_admin_role(self, session, owner):
        admin_key = make_api_key(session, owner, role=Role.ADMIN)
        victim = make_api_key(session, owner)
        key_actor = api_keys.actor_for_key(session, admin_key.secret)
        api_keys.revoke_key(session, key_actor, victim.key.id)
        session.flush()
        [entry] = audit_entries(session, "api_key.revoked")
        assert entry.actor_id is None


class TestKeyFollowsItsCreator:
    """A key acts with at most its creator's current role; leaving revokes it (issue 10 #5)."""

    def _admin_with_key(self, session, owner, *, role: Role = Role.ADMIN):
        user, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        created = make_api_key(session, admin, role=role)
        membership = session.exec(
            select(Membership).where(
                Membership.org_id == owner.org_id, Membership.user_id == user.id
            )
        ).one()
        return admin, created, membership

    def test_key_of_a_removed_member_is_refused_and_revoked(self, session, owner):
        admin, created, membership = self._admin_with_key(session, owner)
        assert api_keys.actor_for_key(session, created.secret).role == Role.ADMIN
        organizations.remove_member(session, owner, membership.id)
        session.flush()
        with pytest.raises(Unauthenticated):
            api_keys.actor_for_key(session, created.secret)
        assert created.key.revoked_at is not None
        [entry] = audit_entries(session, "api_key.revoked", org_id=owner.org_id)
        assert entry.target_id == str(created.key.id)
        assert entry.actor_id == owner.user_id
        assert entry.details["reason"] == "member_removed"

    def test_key_of_a_member_who_left_is_refused(self, session, owner):
        admin, created, membership = self._admin_with_key(session, owner)
        organizations.remove_member(session, admin, membership.id)
        session.flush()
        with pytest.raises(Unauthenticated):
            api_keys.actor_for_key(session, created.secret)

    def test_key_is_refused_even_if_its_membership_vanished_without_revocation(
        self, session, owner
    ):
        _admin, created, membership = self._admin_with_key(session, owner)
        session.delete(membership)  # e.g. removed by an older version or by hand
        session.flush()
        with pytest.raises(Unauthenticated):
            api_keys.actor_for_key(session, created.secret)

    def test_key_of_a_disabled_account_is_refused(self, session, owner):
        admin, created, _membership = self._admin_with_key(session, owner)
        user = session.get(User, admin.user_id)
        user.is_active = False
        session.add(user)
        session.flush()
        with pytest.raises(Unauthenticated):
            api_keys.actor_for_key(session, created.secret)

    def test_key_after_demotion_cannot_write(self, session, owner):
        _admin, created, membership = self._admin_with_key(session, owner)
        agents.create_agent(session, api_keys.actor_for_key(session, created.secret), name="ok")
        organizations.change_role(session, owner, membership.id, role="viewer")
        session.flush()
        key_actor = api_keys.actor_for_key(session, created.secret)
        assert key_actor.role == Role.VIEWER
        with pytest.raises(Forbidden):
            agents.create_agent(session, key_actor, name="not any more")
        assert created.key.role == Role.VIEWER
        [entry] = audit_entries(session, "api_key.narrowed", org_id=owner.org_id)
        assert entry.details["old"] == "admin" and entry.details["new"] == "viewer"
        assert entry.target_id == str(created.key.id)

    def test_key_role_is_capped_at_the_creators_role_when_they_are_read_and_written_apart(
        self, session, owner
    ):
        _admin, created, membership = self._admin_with_key(session, owner)
        membership.role = Role.BUILDER  # lowered without the service (no narrowing written)
        session.add(membership)
        session.flush()
        assert api_keys.actor_for_key(session, created.secret).role == Role.BUILDER

    def test_promotion_does_not_widen_a_key_and_lower_keys_are_untouched(self, session, owner):
        admin, created, membership = self._admin_with_key(session, owner, role=Role.VIEWER)
        organizations.change_role(session, owner, membership.id, role="builder")
        organizations.change_role(session, owner, membership.id, role="owner")
        session.flush()
        assert api_keys.actor_for_key(session, created.secret).role == Role.VIEWER
        assert audit_entries(session, "api_key.narrowed") == []

    def test_other_members_keys_are_untouched(self, session, owner):
        _admin, created, membership = self._admin_with_key(session, owner)
        own = make_api_key(session, owner, role=Role.ADMIN)
        organizations.remove_member(session, owner, membership.id)
        session.flush()
        assert api_keys.actor_for_key(session, own.secret).role == Role.ADMIN
