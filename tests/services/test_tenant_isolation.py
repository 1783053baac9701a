"""Tenant isolation: another organization's objects do not exist for you.

Org A (owner Alice, builder Bob) holds a pending invitation and an API key. Mallory acts in
org B. Whatever her role there, naming one of A's ids gets NotFound — never Forbidden, which
would confirm the id exists — and A's object is left exactly as it was.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import ApiKey, AuditEntry, Invitation, Membership, Role, User
from services import accounts, api_keys, audit, invitations, organizations
from services.access import Actor, actor_for
from services.api_keys import CreatedKey
from services.errors import DomainError, NotFound, Unauthenticated
from tests.factories import (
    PASSWORD,
    add_member,
    limiter,
    make_api_key,
    make_invitation,
    make_org,
    make_user,
    personal_actor,
)


@dataclass
class OrgA:
    alice: Actor
    bob_user: User
    bob_membership: Membership
    alice_membership: Membership
    invitation: Invitation
    invitation_token: str
    key: CreatedKey


@pytest.fixture
def org_a(session: Session) -> OrgA:
    alice_user = make_user(session, email="alice@a.example", name="Alice")
    alice = personal_actor(session, alice_user)
    bob_user, _ = add_member(session, alice.org_id, role=Role.BUILDER, email="bob@a.example")
    invitation, token = make_invitation(session, alice, email="carol@a.example", role=Role.ADMIN)
    key = make_api_key(session, alice, name="A's deploy key")
    session.commit()

    def membership(user_id: uuid.UUID) -> Membership:
        return session.exec(
            select(Membership).where(
                Membership.org_id == alice.org_id, Membership.user_id == user_id
            )
        ).one()

    return OrgA(
        alice=alice,
        bob_user=bob_user,
        bob_membership=membership(bob_user.id),
        alice_membership=membership(alice_user.id),
        invitation=invitation,
        invitation_token=token,
        key=key,
    )


@pytest.fixture
def mallory_owner(session: Session) -> Actor:
    return personal_actor(session, make_user(session, email="mallory@b.example", name="Mallory"))


def mallory_as(session: Session, mallory_owner: Actor, role: Role) -> Actor:
    """Mallory acting in org B with `role` (a second B member when not the owner)."""
    if role == Role.OWNER:
        return mallory_owner
    _, actor = add_member(
        session, mallory_owner.org_id, role=role, email=f"mallory-{role.value}@b.example"
    )
    return actor


ALL_ROLES = [Role.OWNER, Role.ADMIN, Role.BUILDER, Role.VIEWER]
MANAGERS = [Role.OWNER, Role.ADMIN]
NON_MANAGERS = [Role.BUILDER, Role.VIEWER]


@pytest.fixture(params=ALL_ROLES, ids=[r.value for r in ALL_ROLES])
def mallory(request, session: Session, mallory_owner: Actor) -> Actor:
    return mallory_as(session, mallory_owner, request.param)


@pytest.fixture(params=MANAGERS, ids=[r.value for r in MANAGERS])
def mallory_manager(request, session: Session, mallory_owner: Actor) -> Actor:
    return mallory_as(session, mallory_owner, request.param)


@pytest.fixture(params=NON_MANAGERS, ids=[r.value for r in NON_MANAGERS])
def mallory_member(request, session: Session, mallory_owner: Actor) -> Actor:
    return mallory_as(session, mallory_owner, request.param)


def a_audit_count(session: Session, org_a: OrgA) -> int:
    session.flush()
    return len(
        session.exec(select(AuditEntry.id).where(AuditEntry.org_id == org_a.alice.org_id)).all()
    )


def fresh(session: Session, model, id_):
    """The row as the database has it now (pending changes flushed, identity map bypassed)."""
    session.flush()
    session.expire_all()
    return session.get(model, id_)


def error_for_random_id(call) -> type[DomainError]:
    with pytest.raises(DomainError) as exc:
        call(uuid.uuid4())
    return type(exc.value)


class TestChangeRoleAcrossOrgs:
    def test_member_of_other_org_gets_not_found(self, session, org_a, mallory):
        audit_before = a_audit_count(session, org_a)
        with pytest.raises(NotFound):
            organizations.change_role(session, mallory, org_a.bob_membership.id, role="owner")
        assert fresh(session, Membership, org_a.bob_membership.id).role == Role.BUILDER
        assert a_audit_count(session, org_a) == audit_before

    def test_owner_of_other_org_is_not_revealed(self, session, org_a, mallory):
        with pytest.raises(NotFound):
            organizations.change_role(session, mallory, org_a.alice_membership.id, role="viewer")
        assert fresh(session, Membership, org_a.alice_membership.id).role == Role.OWNER

    def test_member_of_both_orgs_acting_in_b_gets_not_found_for_a(self, session, org_a):
        alice_user = session.get(User, org_a.alice.user_id)
        alice_in_b = make_org(session, alice_user, name="B")
        with pytest.raises(NotFound):
            organizations.change_role(session, alice_in_b, org_a.bob_membership.id, role="admin")
        assert fresh(session, Membership, org_a.bob_membership.id).role == Role.BUILDER


class TestRemoveMemberAcrossOrgs:
    def test_member_of_other_org_gets_not_found(self, session, org_a, mallory):
        audit_before = a_audit_count(session, org_a)
        with pytest.raises(NotFound):
            organizations.remove_member(session, mallory, org_a.bob_membership.id)
        assert fresh(session, Membership, org_a.bob_membership.id) is not None
        assert a_audit_count(session, org_a) == audit_before

    def test_last_owner_of_other_org_is_not_revealed(self, session, org_a, mallory):
        with pytest.raises(NotFound):
            organizations.remove_member(session, mallory, org_a.alice_membership.id)
        assert fresh(session, Membership, org_a.alice_membership.id) is not None

    def test_member_of_both_orgs_acting_in_b_gets_not_found_for_a(self, session, org_a):
        alice_user = session.get(User, org_a.alice.user_id)
        alice_in_b = make_org(session, alice_user, name="B")
        with pytest.raises(NotFound):
            organizations.remove_member(session, alice_in_b, org_a.bob_membership.id)
        assert fresh(session, Membership, org_a.bob_membership.id) is not None


class TestRevokeInvitationAcrossOrgs:
    def test_admin_or_owner_of_other_org_gets_not_found(self, session, org_a, mallory_manager):
        mallory = mallory_manager
        audit_before = a_audit_count(session, org_a)
        with pytest.raises(NotFound):
            invitations.revoke_invitation(session, mallory, org_a.invitation.id)
        assert fresh(session, Invitation, org_a.invitation.id).revoked_at is None
        assert a_audit_count(session, org_a) == audit_before
        assert invitations.preview(session, org_a.invitation_token)[0].id == org_a.invitation.id

    def test_lower_roles_learn_nothing_about_the_id(self, session, org_a, mallory_member):
        """Builders/viewers are refused before the lookup: same error as for a random id."""
        mallory = mallory_member

        def call(invitation_id: uuid.UUID) -> None:
            invitations.revoke_invitation(session, mallory, invitation_id)

        with pytest.raises(DomainError) as exc:
            call(org_a.invitation.id)
        assert type(exc.value) is error_for_random_id(call)
        assert fresh(session, Invitation, org_a.invitation.id).revoked_at is None

    def test_member_of_both_orgs_acting_in_b_gets_not_found_for_a(self, session, org_a):
        alice_user = session.get(User, org_a.alice.user_id)
        alice_in_b = make_org(session, alice_user, name="B")
        with pytest.raises(NotFound):
            invitations.revoke_invitation(session, alice_in_b, org_a.invitation.id)
        assert fresh(session, Invitation, org_a.invitation.id).revoked_at is None


class TestRevokeKeyAcrossOrgs:
    def test_admin_or_owner_of_other_org_gets_not_found(self, session, org_a, mallory_manager):
        mallory = mallory_manager
        audit_before = a_audit_count(session, org_a)
        with pytest.raises(NotFound):
            api_keys.revoke_key(session, mallory, org_a.key.key.id)
        assert fresh(session, ApiKey, org_a.key.key.id).revoked_at is None
        assert a_audit_count(session, org_a) == audit_before
        assert api_keys.actor_for_key(session, org_a.key.secret).org_id == org_a.alice.org_id

    def test_lower_roles_learn_nothing_about_the_id(self, session, org_a, mallory_member):
        """Builders/viewers are refused before the lookup: same error as for a random id."""
        mallory = mallory_member

        def call(key_id: uuid.UUID) -> None:
            api_keys.revoke_key(session, mallory, key_id)

        with pytest.raises(DomainError) as exc:
            call(org_a.key.key.id)
        assert type(exc.value) is error_for_random_id(call)
        assert fresh(session, ApiKey, org_a.key.key.id).revoked_at is None

    def test_key_of_other_org_acting_as_admin_gets_not_found(self, session, org_a, mallory_owner):
        b_key = make_api_key(session, mallory_owner, role=Role.ADMIN)
        b_actor = api_keys.actor_for_key(session, b_key.secret)
        with pytest.raises(NotFound):
            api_keys.revoke_key(session, b_actor, org_a.key.key.id)
        assert fresh(session, ApiKey, org_a.key.key.id).revoked_at is None

    def test_member_of_both_orgs_acting_in_b_gets_not_found_for_a(self, session, org_a):
        alice_user = session.get(User, org_a.alice.user_id)
        alice_in_b = make_org(session, alice_user, name="B")
        with pytest.raises(NotFound):
            api_keys.revoke_key(session, alice_in_b, org_a.key.key.id)
        assert fresh(session, ApiKey, org_a.key.key.id).revoked_at is None


class TestListsStayInsideTheOrg:
    """Org B gets its own rows of every kind, so an empty result proves nothing by accident."""

    @pytest.fixture
    def org_b(self, session: Session, org_a: OrgA, mallory_owner: Actor) -> Actor:
        add_member(session, mallory_owner.org_id, role=Role.VIEWER, email="victor@b.example")
        make_invitation(session, mallory_owner, email="dave@b.example")
        make_api_key(session, mallory_owner, name="B's key")
        session.flush()
        return mallory_owner

    def test_list_members(self, session, org_a, org_b):
        rows, total = organizations.list_members(session, org_b)
        assert total == 2
        assert {r.email for r in rows} == {"mallory@b.example", "victor@b.example"}
        rows_a, total_a = organizations.list_members(session, org_a.alice)
        assert total_a == 2
        assert {r.email for r in rows_a} == {"alice@a.example", "bob@a.example"}

    def test_list_members_search_does_not_reach_other_orgs(self, session, org_a, org_b):
        assert organizations.list_members(session, org_b, search="a.example") == ([], 0)
        assert organizations.list_members(session, org_b, search="bob") == ([], 0)

    def test_list_pending(self, session, org_a, org_b):
        assert [i.email for i in invitations.list_pending(session, org_b)] == ["dave@b.example"]
        assert [i.email for i in invitations.list_pending(session, org_a.alice)] == [
            "carol@a.example"
        ]

    def test_list_keys(self, session, org_a, org_b):
        assert [k.name for k in api_keys.list_keys(session, org_b)] == ["B's key"]
        assert [k.name for k in api_keys.list_keys(session, org_a.alice)] == ["A's deploy key"]

    def test_audit_list_entries(self, session, org_a, org_b):
        rows_b, total_b = audit.list_entries(session, org_b, limit=200)
        assert total_b == len(rows_b) > 0
        assert {r.org_id for r in rows_b} == {org_b.org_id}
        assert "api_key.created" in {r.action for r in rows_b}
        rows_a, _ = audit.list_entries(session, org_a.alice, limit=200)
        assert {r.org_id for r in rows_a} == {org_a.alice.org_id}
        assert not {r.id for r in rows_a} & {r.id for r in rows_b}

    def test_audit_filter_does_not_reach_other_orgs(self, session, org_a, org_b):
        rows, total = audit.list_entries(session, org_b, action="invitation.")
        assert total == 1
        assert rows[0].details["email"] == "dave@b.example"

    def test_failed_logins_on_a_users_account_go_to_their_org_only(self, session, org_a, org_b):
        session.commit()
        with pytest.raises(Unauthenticated), session_scope() as scope:
            accounts.login(scope, limiter(), email="alice@a.example", password="wrong one!!")
        assert audit.list_entries(session, org_b, action="auth.") == ([], 0)
        assert audit.list_entries(session, org_a.alice, action="auth.login_failed")[1] == 1


class TestActorFor:
    def test_user_gets_not_found_for_an_org_they_do_not_belong_to(
        self, session, org_a, mallory_owner
    ):
        mallory_user = session.get(User, mallory_owner.user_id)
        with pytest.raises(NotFound):
            actor_for(session, mallory_user, org_a.alice.org_id)

    def test_unknown_org_is_not_found_too(self, session, mallory_owner):
        mallory_user = session.get(User, mallory_owner.user_id)
        with pytest.raises(NotFound) as unknown:
            actor_for(session, mallory_user, uuid.uuid4())
        assert unknown.value.message == "Organization not found."

    def test_removed_member_gets_not_found(self, session, org_a):
        organizations.remove_member(session, org_a.alice, org_a.bob_membership.id)
        session.flush()
        with pytest.raises(NotFound):
            actor_for(session, org_a.bob_user, org_a.alice.org_id)

    def test_deactivated_member_gets_not_found(self, session, org_a):
        org_a.bob_user.is_active = False
        session.add(org_a.bob_user)
        session.flush()
        with pytest.raises(NotFound):
            actor_for(session, org_a.bob_user, org_a.alice.org_id)

    def test_actor_carries_the_role_of_that_org(self, session, org_a, mallory_owner):
        bob = actor_for(session, org_a.bob_user, org_a.alice.org_id, client_ip="10.0.0.5")
        assert (bob.org_id, bob.role, bob.client_ip) == (
            org_a.alice.org_id,
            Role.BUILDER,
            "10.0.0.5",
        )

    def test_switch_org_to_another_tenant_is_not_found(self, session, org_a, mallory_owner):

        token = accounts.login(
            session, limiter(), email="mallory@b.example", password=PASSWORD
        ).token
        session.flush()
        with pytest.raises(NotFound):
            accounts.switch_org(session, token, org_a.alice.org_id)


class TestInvitationTokensAreNotOrgScoped:
    def test_accepting_a_token_joins_only_the_inviting_org(self, session, org_a, mallory_owner):
        joiner = make_user(session, email="carol@a.example")
        membership = invitations.accept(session, joiner, org_a.invitation_token)
        assert membership.org_id == org_a.alice.org_id
        session.flush()
        with pytest.raises(NotFound):
            actor_for(session, joiner, mallory_owner.org_id)
