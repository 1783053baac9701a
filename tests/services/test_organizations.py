"""services.organizations: members, roles, removal, renaming, tier limits, new orgs."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session, select

from agent_platform.models import Membership, Organization, Role, Tier, User
from services import organizations
from services.access import Actor, actor_for
from services.errors import Forbidden, Invalid, NotFound
from tests.factories import add_member, audit_entries, make_user, personal_actor
from tests.plans import billing_on  # noqa: F401 - fixture


def membership_of(session: Session, actor: Actor) -> Membership:
    return session.exec(
        select(Membership).where(
            Membership.org_id == actor.org_id, Membership.user_id == actor.user_id
        )
    ).one()


def member_exists(session: Session, membership_id: uuid.UUID) -> bool:
    session.flush()
    return (
        session.exec(select(Membership.id).where(Membership.id == membership_id)).first()
        is not None
    )


def make_bulk_user(session: Session, i: int) -> uuid.UUID:
    """A user row without argon2 hashing (fast, for volume tests only)."""
    user = User(email=f"bulk{i:03d}@example.com", name=f"Bulk {i}", password_hash="x")
    session.add(user)
    session.flush()
    return user.id


@pytest.fixture
def owner(session) -> Actor:
    return personal_actor(session, make_user(session, email="owner@example.com", name="Olive"))


class TestListMembers:
    def test_lists_every_member_with_role_sorted_by_email(self, session, owner):
        add_member(session, owner.org_id, role=Role.VIEWER, email="zed@example.com")
        add_member(session, owner.org_id, role=Role.ADMIN, email="amy@example.com")
        rows, total = organizations.list_members(session, owner)
        assert total == 3
        assert [(r.email, r.role) for r in rows] == [
            ("amy@example.com", Role.ADMIN),
            ("owner@example.com", Role.OWNER),
            ("zed@example.com", Role.VIEWER),
        ]
        owner_row = rows[1]
        assert owner_row.user_id == owner.user_id
        assert owner_row.name == "Olive"
        assert owner_row.membership_id == membership_of(session, owner).id

    def test_any_member_may_list_members(self, session, owner):
        _, viewer = add_member(session, owner.org_id, role=Role.VIEWER)
        _, total = organizations.list_members(session, viewer)
        assert total == 2

    def test_search_matches_email_substring_case_insensitively(self, session, owner):
        add_member(session, owner.org_id, email="grace.hopper@navy.example")
        add_member(session, owner.org_id, email="alan@example.com")
        rows, total = organizations.list_members(session, owner, search="  NAVY ")
        assert total == 1
        assert [r.email for r in rows] == ["grace.hopper@navy.example"]

    def test_search_matches_name(self, session, owner):
        user, _ = add_member(session, owner.org_id, email="g@example.com")
        user.name = "Grace Hopper"
        session.add(user)
        session.flush()
        rows, total = organizations.list_members(session, owner, search="hopper")
        assert total == 1 and rows[0].user_id == user.id

    def test_search_without_match_is_empty(self, session, owner):
        rows, total = organizations.list_members(session, owner, search="nobody-here")
        assert (rows, total) == ([], 0)

    def test_paging_returns_disjoint_pages_and_the_full_total(self, session, owner):
        for i in range(5):
            add_member(session, owner.org_id, email=f"m{i}@example.com")
        first, total = organizations.list_members(session, owner, offset=0, limit=2)
        second, _ = organizations.list_members(session, owner, offset=2, limit=2)
        third, _ = organizations.list_members(session, owner, offset=4, limit=2)
        assert total == 6
        assert [r.email for r in first] == ["m0@example.com", "m1@example.com"]
        assert [r.email for r in second] == ["m2@example.com", "m3@example.com"]
        assert [r.email for r in third] == ["m4@example.com", "owner@example.com"]

    def test_search_total_counts_all_matches_not_just_the_page(self, session, owner):
        for i in range(3):
            add_member(session, owner.org_id, email=f"team{i}@example.com")
        rows, total = organizations.list_members(session, owner, search="team", limit=1)
        assert len(rows) == 1 and total == 3

    def test_limit_is_capped_at_200(self, session, owner):
        for i in range(201):
            session.add(
                Membership(
                    org_id=owner.org_id,
                    user_id=make_bulk_user(session, i),
                    role=Role.VIEWER,
                )
            )
        session.flush()
        rows, total = organizations.list_members(session, owner, limit=1000)
        assert total == 202
        assert len(rows) == 200


class TestChangeRole:
    def test_owner_can_promote_a_builder_to_admin(self, session, owner):
        user, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        membership = membership_of(session, builder)
        changed = organizations.change_role(session, owner, membership.id, role="admin")
        assert changed.role == Role.ADMIN
        session.flush()
        assert actor_for(session, user, owner.org_id).role == Role.ADMIN

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER])
    def test_viewer_and_builder_cannot_change_roles(self, session, owner, role):
        _, actor = add_member(session, owner.org_id, role=role)
        _, target = add_member(session, owner.org_id, role=Role.VIEWER)
        target_membership = membership_of(session, target)
        with pytest.raises(Forbidden):
            organizations.change_role(session, actor, target_membership.id, role="builder")
        assert target_membership.role == Role.VIEWER

    def test_builder_cannot_promote_themself(self, session, owner):
        _, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        with pytest.raises(Forbidden):
            organizations.change_role(
                session, builder, membership_of(session, builder).id, role="admin"
            )

    def test_admin_can_change_builder_and_viewer_roles(self, session, owner):
        _, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        _, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        membership = membership_of(session, builder)
        organizations.change_role(session, admin, membership.id, role="viewer")
        assert membership.role == Role.VIEWER
        organizations.change_role(session, admin, membership.id, role="admin")
        assert membership.role == Role.ADMIN

    def test_admin_cannot_make_someone_an_owner(self, session, owner):
        _, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        _, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        membership = membership_of(session, builder)
        with pytest.raises(Forbidden):
            organizations.change_role(session, admin, membership.id, role="owner")
        assert membership.role == Role.BUILDER

    def test_admin_cannot_make_themself_an_owner(self, session, owner):
        _, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        membership = membership_of(session, admin)
        with pytest.raises(Forbidden):
            organizations.change_role(session, admin, membership.id, role="owner")
        assert membership.role == Role.ADMIN

    def test_admin_cannot_change_an_owner(self, session, owner):
        _, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        owner_membership = membership_of(session, owner)
        with pytest.raises(Forbidden):
            organizations.change_role(session, admin, owner_membership.id, role="viewer")
        assert owner_membership.role == Role.OWNER

    def test_owner_can_make_another_owner(self, session, owner):
        _, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        membership = membership_of(session, admin)
        organizations.change_role(session, owner, membership.id, role="owner")
        assert membership.role == Role.OWNER

    def test_last_owner_cannot_be_demoted(self, session, owner):
        membership = membership_of(session, owner)
        with pytest.raises(Invalid):
            organizations.change_role(session, owner, membership.id, role="admin")
        assert membership.role == Role.OWNER

    def test_an_owner_can_step_down_when_another_owner_remains(self, session, owner):
        _, second = add_member(session, owner.org_id, role=Role.OWNER)
        membership = membership_of(session, owner)
        organizations.change_role(session, owner, membership.id, role="admin")
        assert membership.role == Role.ADMIN
        assert membership_of(session, second).role == Role.OWNER

    def test_unknown_role_is_invalid(self, session, owner):
        _, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        membership = membership_of(session, builder)
        with pytest.raises(Invalid) as exc:
            organizations.change_role(session, owner, membership.id, role="superuser")
        assert "role" in exc.value.fields
        assert membership.role == Role.BUILDER

    def test_role_change_is_audited_with_old_and_new_role(self, session, owner):
        user, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        membership = membership_of(session, builder)
        ip_owner = Actor(owner.user_id, owner.org_id, owner.role, client_ip="10.1.1.1")
        organizations.change_role(session, ip_owner, membership.id, role="viewer")
        session.flush()
        [entry] = audit_entries(session, "member.role_changed")
        assert entry.org_id == owner.org_id
        assert entry.actor_id == owner.user_id
        assert entry.target_type == "user"
        assert entry.target_id == str(user.id)
        assert entry.details == {"old": "builder", "new": "viewer"}
        assert entry.client_ip == "10.1.1.1"

    def test_refused_role_change_is_not_audited(self, session, owner):
        _, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        with pytest.raises(Forbidden):
            organizations.change_role(
                session, builder, membership_of(session, owner).id, role="viewer"
            )
        session.flush()
        assert audit_entries(session, "member.role_changed") == []


class TestRemoveMember:
    def test_admin_removes_a_builder(self, session, owner):
        _, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        user, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        membership_id = membership_of(session, builder).id
        organizations.remove_member(session, admin, membership_id)
        assert not member_exists(session, membership_id)
        [entry] = audit_entries(session, "member.removed")
        assert entry.target_id == str(user.id)
        assert entry.actor_id == admin.user_id

    def test_removed_member_loses_access(self, session, owner):
        user, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        organizations.remove_member(session, owner, membership_of(session, builder).id)
        session.flush()
        with pytest.raises(NotFound):
            actor_for(session, user, owner.org_id)

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER])
    def test_viewer_and_builder_cannot_remove_others(self, session, owner, role):
        _, actor = add_member(session, owner.org_id, role=role)
        _, target = add_member(session, owner.org_id, role=Role.VIEWER)
        membership_id = membership_of(session, target).id
        with pytest.raises(Forbidden):
            organizations.remove_member(session, actor, membership_id)
        assert member_exists(session, membership_id)

    def test_admin_cannot_remove_an_owner(self, session, owner):
        _, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        add_member(session, owner.org_id, role=Role.OWNER)  # not the last owner either
        membership_id = membership_of(session, owner).id
        with pytest.raises(Forbidden):
            organizations.remove_member(session, admin, membership_id)
        assert member_exists(session, membership_id)

    def test_last_owner_cannot_leave(self, session, owner):
        add_member(session, owner.org_id, role=Role.ADMIN)
        membership_id = membership_of(session, owner).id
        with pytest.raises(Invalid):
            organizations.remove_member(session, owner, membership_id)
        assert member_exists(session, membership_id)

    def test_owner_can_leave_when_another_owner_remains(self, session, owner):
        add_member(session, owner.org_id, role=Role.OWNER)
        membership_id = membership_of(session, owner).id
        organizations.remove_member(session, owner, membership_id)
        assert not member_exists(session, membership_id)

    def test_owner_can_remove_another_owner(self, session, owner):
        _, second = add_member(session, owner.org_id, role=Role.OWNER)
        membership_id = membership_of(session, second).id
        organizations.remove_member(session, owner, membership_id)
        assert not member_exists(session, membership_id)

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER, Role.ADMIN])
    def test_a_member_can_remove_themself(self, session, owner, role):
        user, actor = add_member(session, owner.org_id, role=role)
        membership_id = membership_of(session, actor).id
        organizations.remove_member(session, actor, membership_id)
        assert not member_exists(session, membership_id)
        [entry] = audit_entries(session, "member.removed")
        assert entry.actor_id == user.id == uuid.UUID(entry.target_id)


class TestRenameOrg:
    @pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
    def test_admin_or_owner_can_rename(self, session, owner, role):
        actor = owner if role == Role.OWNER else add_member(session, owner.org_id, role=role)[1]
        org = organizations.rename_org(session, actor, name="  Research Lab ")
        assert org.name == "Research Lab"
        session.flush()
        [entry] = audit_entries(session, "org.renamed")
        assert entry.details["new"] == "Research Lab"
        assert entry.details["old"] == "Olive's workspace"

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER])
    def test_viewer_and_builder_cannot_rename(self, session, owner, role):
        _, actor = add_member(session, owner.org_id, role=role)
        with pytest.raises(Forbidden):
            organizations.rename_org(session, actor, name="Mine now")
        assert session.get(Organization, owner.org_id).name == "Olive's workspace"

    @pytest.mark.parametrize("name", ["", "   ", "x" * 121])
    def test_blank_or_overlong_name_is_invalid(self, session, owner, name):
        with pytest.raises(Invalid) as exc:
            organizations.rename_org(session, owner, name=name)
        assert "name" in exc.value.fields
        assert session.get(Organization, owner.org_id).name == "Olive's workspace"


@pytest.mark.usefixtures("billing_on")  # tiers apply only with billing on
class TestTierLimits:
    def test_new_org_gets_the_seeded_starter_limits(self, session, owner):
        limits = organizations.tier_limits(session, owner)
        assert limits.tier == Tier.STARTER
        assert limits.max_agents == 5
        assert limits.max_runs_per_month == 1000
        assert limits.max_concurrent_runs == 2
        assert limits.max_members == 3

    def test_limits_follow_the_org_tier(self, session, owner):
        org = session.get(Organization, owner.org_id)
        org.tier = Tier.ENTERPRISE
        session.add(org)
        session.flush()
        limits = organizations.tier_limits(session, owner)
        assert limits.max_members == -1
        assert limits.max_agents == -1
        assert limits.max_concurrent_runs == 200

    def test_any_member_may_read_the_limits(self, session, owner):
        _, viewer = add_member(session, owner.org_id, role=Role.VIEWER)
        assert organizations.tier_limits(session, viewer).max_members == 3


class TestCreateOrg:
    def test_creator_becomes_the_only_owner(self, session):
        user = make_user(session)
        org = organizations.create_org(session, user, name="  Acme Corp ")
        session.flush()
        assert org.name == "Acme Corp"
        assert not org.personal
        assert org.tier == Tier.STARTER
        assert actor_for(session, user, org.id).role == Role.OWNER
        memberships = session.exec(select(Membership).where(Membership.org_id == org.id)).all()
        assert [(m.user_id, m.role) for m in memberships] == [(user.id, Role.OWNER)]

    def test_creation_is_audited(self, session):
        user = make_user(session)
        org = organizations.create_org(session, user, name="Acme")
        session.flush()
        [entry] = audit_entries(session, "org.created")
        assert entry.org_id == org.id and entry.actor_id == user.id

    def test_two_orgs_with_the_same_name_get_distinct_slugs(self, session):
        user = make_user(session)
        a = organizations.create_org(session, user, name="Acme")
        session.flush()
        b = organizations.create_org(session, user, name="Acme")
        session.flush()
        assert a.slug == "acme"
        assert b.slug != a.slug and b.slug.startswith("acme-")

    @pytest.mark.parametrize("name", ["", "   ", "x" * 121])
    def test_blank_or_overlong_name_is_invalid(self, session, name):
        user = make_user(session)
        with pytest.raises(Invalid) as exc:
            organizations.create_org(session, user, name=name)
        assert "name" in exc.value.fields

    def test_orgs_of_user_lists_each_org_with_the_users_role(self, session):
        user = make_user(session, name="Ada")
        organizations.create_org(session, user, name="Beta")
        other = personal_actor(session, make_user(session, name="Zed"))
        session.add(Membership(org_id=other.org_id, user_id=user.id, role=Role.VIEWER))
        session.flush()
        rows = organizations.orgs_of_user(session, user)
        assert [(r.name, r.role) for r in rows] == [
            ("Ada's workspace", Role.OWNER),
            ("Beta", Role.OWNER),
            ("Zed's workspace", Role.VIEWER),
        ]
