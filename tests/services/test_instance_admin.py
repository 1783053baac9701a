"""Plans and limits: unlimited without billing, tiers with it, the instance admin's overrides."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from agent_platform.models import Organization, Role, Tier
from services import agents, instance_admin, invitations, organizations, runs
from services.access import Actor
from services.errors import Forbidden, Invalid, NotFound
from services.llm import providers
from tests.factories import add_member, audit_entries, make_invitation, make_user, personal_actor
from tests.plans import billing_on  # noqa: F401 - fixture


@pytest.fixture
def admin(session: Session) -> Actor:
    """The first user of an instance is its admin."""
    actor = personal_actor(session, make_user(session, name="Root", email="root@example.com"))
    user = session.get(instance_admin.User, actor.user_id)
    assert user is not None and user.is_instance_admin
    return actor


@pytest.fixture
def owner(session: Session, admin: Actor) -> Actor:
    actor = personal_actor(session, make_user(session, name="Olive", email="olive@example.com"))
    providers.save_provider(
        session,
        actor,
        {"name": "openai", "kind": "openai", "api_key": "sk-test-1", "models": ["gpt-4o-mini"]},
    )
    session.flush()
    return actor


def make_agents(session: Session, actor: Actor, count: int) -> None:
    for i in range(count):
        agents.create_agent(session, actor, name=f"Agent {i}")
        session.flush()


def fill_members(session: Session, actor: Actor, total: int) -> None:
    while organizations.member_count(session, actor.org_id) < total:
        add_member(session, actor.org_id)


class TestWithoutBilling:
    def test_a_starter_org_has_no_limits(self, session, owner):
        limits = organizations.tier_limits(session, owner)
        assert limits.tier == Tier.STARTER and not limits.plans_enabled
        assert (limits.max_agents, limits.max_runs_per_month) == (-1, -1)
        assert (limits.max_concurrent_runs, limits.max_members) == (-1, -1)
        assert runs.concurrency_cap(session, owner.org_id) == -1

    def test_a_starter_org_creates_a_sixth_agent(self, session, owner):
        make_agents(session, owner, 6)
        assert agents.list_agents(session, owner)[1] == 6

    def test_a_starter_org_invites_and_gains_a_fourth_member(self, session, owner):
        fill_members(session, owner, 3)
        _, token = make_invitation(session, owner, email="fourth@example.com")
        fourth = make_user(session, email="fourth@example.com")
        invitations.accept(session, fourth, token)
        session.flush()
        assert organizations.member_count(session, owner.org_id) == 4

    def test_an_admin_override_still_caps_one_org(self, session, admin, owner):
        instance_admin.set_org_plan(session, admin.user_id, owner.org_id, {"max_agents": 1})
        make_agents(session, owner, 1)
        with pytest.raises(Invalid):
            make_agents(session, owner, 1)


@pytest.mark.usefixtures("billing_on")
class TestWithBilling:
    def test_the_starter_tier_caps_apply(self, session, owner):
        limits = organizations.tier_limits(session, owner)
        assert limits.plans_enabled
        assert (limits.max_agents, limits.max_members, limits.max_concurrent_runs) == (5, 3, 2)
        assert runs.concurrency_cap(session, owner.org_id) == 2
        make_agents(session, owner, 5)
        with pytest.raises(Invalid) as exc:
            make_agents(session, owner, 1)
        assert "5 agents" in exc.value.message
        fill_members(session, owner, 3)
        with pytest.raises(Invalid):
            invitations.create_invitation(session, owner, email="four@example.com", role="viewer")

    def test_an_override_lifts_a_cap(self, session, admin, owner):
        make_agents(session, owner, 5)
        instance_admin.set_org_plan(session, admin.user_id, owner.org_id, {"max_agents": -1})
        make_agents(session, owner, 1)
        assert organizations.tier_limits(session, owner).max_agents == -1
        assert organizations.tier_limits(session, owner).max_members == 3  # the others stay

    def test_a_higher_tier_set_by_the_admin_applies(self, session, admin, owner):
        summary = instance_admin.set_org_plan(session, admin.user_id, owner.org_id, {"tier": "pro"})
        assert summary.limits.tier == Tier.PRO
        assert organizations.tier_limits(session, owner).max_members > 3

    def test_clearing_an_override_returns_to_the_tier(self, session, admin, owner):
        instance_admin.set_org_plan(session, admin.user_id, owner.org_id, {"max_members": 50})
        assert organizations.tier_limits(session, owner).max_members == 50
        instance_admin.set_org_plan(session, admin.user_id, owner.org_id, {"max_members": None})
        assert organizations.tier_limits(session, owner).max_members == 3


class TestSetOrgPlan:
    def test_changes_are_audited_in_the_orgs_log(self, session, admin, owner):
        instance_admin.set_org_plan(
            session,
            admin.user_id,
            owner.org_id,
            {"tier": "team", "max_concurrent_runs": 10, "max_members": None},
        )
        [entry] = audit_entries(session, "org.plan_changed", org_id=owner.org_id)
        assert entry.actor_id == admin.user_id
        assert entry.details["old"] == {"tier": "starter", "max_concurrent_runs": None}
        assert entry.details["new"] == {"tier": "team", "max_concurrent_runs": 10}

    def test_an_unchanged_plan_writes_no_entry(self, session, admin, owner):
        instance_admin.set_org_plan(session, admin.user_id, owner.org_id, {"max_agents": None})
        assert audit_entries(session, "org.plan_changed", org_id=owner.org_id) == []

    @pytest.mark.parametrize(
        ("changes", "field"),
        [({"max_agents": -2}, "max_agents"), ({"tier": "gold"}, "tier"), ({"tier": None}, "tier")],
    )
    def test_bad_values_are_invalid(self, session, admin, owner, changes, field):
        with pytest.raises(Invalid) as exc:
            instance_admin.set_org_plan(session, admin.user_id, owner.org_id, changes)
        assert field in exc.value.fields

    def test_unknown_org_is_not_found(self, session, admin):
        with pytest.raises(NotFound):
            instance_admin.set_org_plan(session, admin.user_id, admin.org_id.__class__(int=1), {})

    @pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
    def test_an_org_owner_or_admin_who_is_not_instance_admin_is_refused(self, session, owner, role):
        _, other = add_member(session, owner.org_id, role=role)
        for actor in (owner, other):
            with pytest.raises(Forbidden):
                instance_admin.set_org_plan(
                    session, actor.user_id, owner.org_id, {"max_agents": -1}
                )
            with pytest.raises(Forbidden):
                instance_admin.list_orgs(session, actor.user_id)
            with pytest.raises(Forbidden):
                instance_admin.get_org(session, actor.user_id, owner.org_id)
        assert session.get(Organization, owner.org_id).max_agents is None


class TestListOrgs:
    def test_lists_every_org_paged_with_counts(self, session, admin, owner):
        make_agents(session, owner, 2)
        fill_members(session, owner, 2)
        rows, total = instance_admin.list_orgs(session, admin.user_id, limit=200)
        # root, olive, and the added member's personal org
        assert total == len(rows) == 3
        olive = next(r for r in rows if r.id == owner.org_id)
        assert (olive.members, olive.agents) == (2, 2)
        first, total = instance_admin.list_orgs(session, admin.user_id, offset=0, limit=2)
        rest, _ = instance_admin.list_orgs(session, admin.user_id, offset=2, limit=2)
        assert total == 3 and len(first) == 2 and len(rest) == 1
        assert {r.id for r in first} | {r.id for r in rest} == {r.id for r in rows}

    def test_search_matches_name(self, session, admin, owner):
        rows, total = instance_admin.list_orgs(session, admin.user_id, search="  OLIVE ")
        assert total == 1 and rows[0].id == owner.org_id


@pytest.mark.parametrize(
    ("text", "value"), [("", None), ("  ", None), ("unlimited", -1), ("-1", -1), ("1,000", 1000)]
)
def test_parse_limit_reads_what_people_type(text, value):
    assert instance_admin.parse_limit(text, "max_agents") == value


@pytest.mark.parametrize("text", ["-5", "ten", "1.5", "99999999999"])
def test_parse_limit_refuses_other_text(text):
    with pytest.raises(Invalid) as exc:
        instance_admin.parse_limit(text, "max_agents")
    assert "max_agents" in exc.value.fields
