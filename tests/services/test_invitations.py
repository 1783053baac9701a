"""services.invitations: single-use, expiring links that make their holder a member."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlmodel import select

from agent_platform.models import Invitation, Organization, Role, Tier
from agent_platform.models.base import utcnow
from services import invitations
from services.access import Actor, actor_for
from services.errors import Conflict, Forbidden, Invalid, NotFound
from services.organizations import member_count
from services.tokens import token_hash
from tests.factories import (
    add_member,
    audit_entries,
    make_invitation,
    make_user,
    personal_actor,
)
from tests.plans import billing_on  # noqa: F401 - fixture


@pytest.fixture
def owner(session) -> Actor:
    return personal_actor(session, make_user(session, email="owner@example.com"))


class TestCreateInvitation:
    @pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
    def test_admin_or_owner_can_invite(self, session, owner, role):
        actor = owner if role == Role.OWNER else add_member(session, owner.org_id, role=role)[1]
        invitation, token = invitations.create_invitation(
            session, actor, email="New@Example.com", role="builder"
        )
        assert invitation.org_id == owner.org_id
        assert invitation.email == "new@example.com"
        assert invitation.role == Role.BUILDER
        assert invitation.invited_by_id == actor.user_id
        assert token

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER])
    def test_viewer_and_builder_cannot_invite(self, session, owner, role):
        _, actor = add_member(session, owner.org_id, role=role)
        with pytest.raises(Forbidden):
            invitations.create_invitation(session, actor, email="new@example.com", role="viewer")
        session.flush()
        assert session.exec(select(Invitation)).all() == []

    def test_token_is_returned_once_and_only_its_hash_is_stored(self, session, owner):
        invitation, token = make_invitation(session, owner)
        assert token.startswith("inv_")
        assert len(token) > 32
        assert invitation.token_hash == token_hash(token)
        assert token not in invitation.model_dump().values()
        stored = session.exec(select(Invitation.token_hash)).one()
        assert stored == token_hash(token)

    def test_each_invitation_gets_a_distinct_token(self, session, owner):
        _, first = make_invitation(session, owner, email="a@example.com")
        _, second = make_invitation(session, owner, email="b@example.com")
        assert first != second

    def test_invitation_expires_after_the_given_days(self, session, owner):
        invitation, _ = invitations.create_invitation(
            session, owner, email="new@example.com", role="builder", days=2
        )
        remaining = invitation.expires_at - utcnow()
        assert timedelta(days=1, hours=23) < remaining <= timedelta(days=2)

    def test_only_owners_can_invite_owners(self, session, owner):
        _, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        with pytest.raises(Forbidden):
            invitations.create_invitation(session, admin, email="boss@example.com", role="owner")
        invitation, _ = invitations.create_invitation(
            session, owner, email="boss@example.com", role="owner"
        )
        assert invitation.role == Role.OWNER

    def test_inviting_an_existing_member_is_a_conflict(self, session, owner):
        add_member(session, owner.org_id, email="member@example.com")
        with pytest.raises(Conflict) as exc:
            invitations.create_invitation(
                session, owner, email=" MEMBER@example.com ", role="viewer"
            )
        assert "email" in exc.value.fields

    def test_a_user_who_is_member_elsewhere_can_be_invited(self, session, owner):
        make_user(session, email="elsewhere@example.com")
        invitation, _ = invitations.create_invitation(
            session, owner, email="elsewhere@example.com", role="viewer"
        )
        assert invitation.email == "elsewhere@example.com"

    @pytest.mark.parametrize(
        ("email", "role", "field"),
        [("not-an-email", "builder", "email"), ("new@example.com", "superuser", "role")],
    )
    def test_bad_email_or_role_is_invalid(self, session, owner, email, role, field):
        with pytest.raises(Invalid) as exc:
            invitations.create_invitation(session, owner, email=email, role=role)
        assert field in exc.value.fields

    @pytest.mark.usefixtures("billing_on")  # tiers apply only with billing on
    def test_starter_member_limit_is_enforced(self, session, owner):
        add_member(session, owner.org_id)
        make_invitation(session, owner)  # 2 members: a third may still be invited
        add_member(session, owner.org_id)  # 3 members = starter max_members
        with pytest.raises(Invalid) as exc:
            invitations.create_invitation(session, owner, email="four@example.com", role="viewer")
        assert "3 members" in exc.value.message

    @pytest.mark.usefixtures("billing_on")
    def test_higher_tier_raises_the_member_limit(self, session, owner):
        org = session.get(Organization, owner.org_id)
        org.tier = Tier.PRO
        session.add(org)
        add_member(session, owner.org_id)
        add_member(session, owner.org_id)
        invitation, _ = make_invitation(session, owner)
        assert invitation.org_id == owner.org_id

    def test_creation_is_audited(self, session, owner):
        invitation, token = invitations.create_invitation(
            session, owner, email="new@example.com", role="admin"
        )
        session.flush()
        [entry] = audit_entries(session, "invitation.created", org_id=owner.org_id)
        assert entry.actor_id == owner.user_id
        assert entry.target_type == "invitation"
        assert entry.target_id == str(invitation.id)
        assert entry.details == {"email": "new@example.com", "role": "admin"}
        assert token not in str(entry.details)


class TestAccept:
    def test_accepting_creates_a_membership_with_the_invited_role(self, session, owner):
        invitation, token = make_invitation(session, owner, role=Role.ADMIN)
        joiner = make_user(session)
        membership = invitations.accept(session, joiner, token)
        session.flush()
        assert membership.org_id == owner.org_id
        assert membership.user_id == joiner.id
        assert membership.role == Role.ADMIN
        assert actor_for(session, joiner, owner.org_id).role == Role.ADMIN
        assert invitation.accepted_at is not None
        assert invitation.accepted_by_id == joiner.id

    def test_acceptance_is_audited(self, session, owner):
        invitation, token = make_invitation(session, owner, role=Role.VIEWER)
        joiner = make_user(session)
        invitations.accept(session, joiner, token)
        session.flush()
        [entry] = audit_entries(session, "invitation.accepted", org_id=owner.org_id)
        assert entry.actor_id == joiner.id
        assert entry.target_id == str(invitation.id)
        assert entry.details == {"role": "viewer"}

    def test_token_is_single_use(self, session, owner):
        _, token = make_invitation(session, owner)
        invitations.accept(session, make_user(session), token)
        session.flush()
        second = make_user(session)
        with pytest.raises(Invalid):
            invitations.accept(session, second, token)
        session.flush()
        with pytest.raises(NotFound):
            actor_for(session, second, owner.org_id)

    def test_expired_invitation_is_invalid(self, session, owner):
        invitation, token = make_invitation(session, owner)
        invitation.expires_at = utcnow() - timedelta(seconds=1)
        session.add(invitation)
        session.commit()
        joiner = make_user(session)
        with pytest.raises(Invalid) as exc:
            invitations.accept(session, joiner, token)
        assert "expired" in exc.value.message
        session.flush()
        assert member_count(session, owner.org_id) == 1
        assert invitation.accepted_at is None

    def test_revoked_invitation_is_not_found(self, session, owner):
        invitation, token = make_invitation(session, owner)
        invitations.revoke_invitation(session, owner, invitation.id)
        session.flush()
        with pytest.raises(NotFound):
            invitations.accept(session, make_user(session), token)
        assert member_count(session, owner.org_id) == 1

    @pytest.mark.parametrize("token", ["", "inv_not-a-real-token", "garbage"])
    def test_unknown_token_is_not_found(self, session, owner, token):
        make_invitation(session, owner)
        with pytest.raises(NotFound):
            invitations.accept(session, make_user(session), token)

    def test_existing_member_keeps_their_membership_and_role(self, session, owner):
        user, viewer = add_member(session, owner.org_id, role=Role.VIEWER)
        invitation, token = make_invitation(session, owner, email="someone@example.com")
        membership = invitations.accept(session, user, token)
        session.flush()
        assert membership.role == Role.VIEWER
        assert member_count(session, owner.org_id) == 2
        assert invitation.accepted_by_id == user.id

    def test_accepted_invitation_leaves_the_pending_list(self, session, owner):
        _, token = make_invitation(session, owner, email="a@example.com")
        still_pending, _ = make_invitation(session, owner, email="b@example.com")
        invitations.accept(session, make_user(session), token)
        session.flush()
        assert [i.id for i in invitations.list_pending(session, owner)] == [still_pending.id]

    @pytest.mark.usefixtures("billing_on")
    def test_accepting_beyond_the_member_limit_is_refused(self, session, owner):
        add_member(session, owner.org_id)  # 2 of 3
        _, first = make_invitation(session, owner, email="a@example.com")
        try:
            _, second = make_invitation(session, owner, email="b@example.com")
        except Invalid:
            second = None  # refusing the second invitation up front is a fix too
        invitations.accept(session, make_user(session), first)
        session.flush()
        if second is not None:
            with pytest.raises(Invalid):
                invitations.accept(session, make_user(session), second)
            session.flush()
        assert member_count(session, owner.org_id) == 3


class TestPreview:
    def test_preview_shows_the_invitation_and_its_org(self, session, owner):
        invitation, token = make_invitation(session, owner, role=Role.VIEWER)
        seen, org = invitations.preview(session, token)
        assert seen.id == invitation.id
        assert org.id == owner.org_id

    def test_preview_of_a_used_link_is_invalid(self, session, owner):
        _, token = make_invitation(session, owner)
        invitations.accept(session, make_user(session), token)
        session.flush()
        with pytest.raises(Invalid):
            invitations.preview(session, token)


class TestListPending:
    def test_lists_open_invitations_newest_first(self, session, owner):
        older, _ = make_invitation(session, owner, email="a@example.com")
        older.created_at = utcnow() - timedelta(hours=1)
        session.add(older)
        newer, _ = make_invitation(session, owner, email="b@example.com")
        revoked, _ = make_invitation(session, owner, email="c@example.com")
        invitations.revoke_invitation(session, owner, revoked.id)
        session.flush()
        assert [i.id for i in invitations.list_pending(session, owner)] == [newer.id, older.id]

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER])
    def test_viewer_and_builder_cannot_list(self, session, owner, role):
        _, actor = add_member(session, owner.org_id, role=role)
        with pytest.raises(Forbidden):
            invitations.list_pending(session, actor)


class TestRevokeInvitation:
    def test_admin_revokes_and_it_is_audited(self, session, owner):
        _, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        invitation, _ = make_invitation(session, owner)
        invitations.revoke_invitation(session, admin, invitation.id)
        session.flush()
        assert invitation.revoked_at is not None
        [entry] = audit_entries(session, "invitation.revoked", org_id=owner.org_id)
        assert entry.actor_id == admin.user_id
        assert entry.target_id == str(invitation.id)

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER])
    def test_viewer_and_builder_cannot_revoke(self, session, owner, role):
        _, actor = add_member(session, owner.org_id, role=role)
        invitation, token = make_invitation(session, owner)
        with pytest.raises(Forbidden):
            invitations.revoke_invitation(session, actor, invitation.id)
        assert invitation.revoked_at is None
        assert invitations.preview(session, token)[0].id == invitation.id

    def test_revoking_an_unknown_id_is_not_found(self, session, owner):
        with pytest.raises(NotFound):
            invitations.revoke_invitation(session, owner, uuid.uuid4())
