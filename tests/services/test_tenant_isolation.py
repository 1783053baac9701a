"""Tenant isolation: another organization's objects do not exist for you.

Org A (owner Alice, builder Bob) holds a pending invitation and an API key. Mallory acts in
org B. Whatever her role there, naming one of A's ids gets NotFound — never Forbidden, which
would confirm the id exists — and A's object is left exactly as it was.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import io
import pkgutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import Session, SQLModel, select

import services
from agent_platform.db import session_scope
from agent_platform.models import (
    ApiKey,
    AuditEntry,
    CaseStatus,
    DocumentStatus,
    Execution,
    ExecutionStatus,
    ExecutionStep,
    Integration,
    Invitation,
    KnowledgeCollection,
    KnowledgeDocument,
    Membership,
    ModelPrice,
    ProviderCredential,
    Purchase,
    Role,
    ServicePayout,
    SuiteRun,
    SuiteRunStatus,
    TestResult,
    Thread,
    User,
)
from agent_platform.redis_client import get_redis
from services import (
    accounts,
    agent_canvas,
    agent_editor,
    agent_graph,
    agent_publishing,
    agent_reads,
    agent_versions,
    agent_yaml,
    agents,
    api_keys,
    audit,
    dashboard,
    dashboard_queries,
    invitations,
    model_prices,
    openai_chat,
    organizations,
    run_costs,
    run_reads,
    runs,
    schedules,
    thread_titles,
    webhook_calls,
    webhooks,
)
from services.access import Actor, actor_for
from services.agent_graph import Graph
from services.api_keys import CreatedKey
from services.billing import purchases, service_payouts
from services.errors import DomainError, NotFound, Unauthenticated
from services.integrations import approvals, connections, lifecycle
from services.llm import providers
from services.marketplace import (
    details,
    installs,
    listings,
    media,
    moderation,
    reviews,
    service_runs,
)
from services.memory import collections, ingest
from services.runtime import follow
from services.testing import (
    ci,
    gates,
    generate,
    online,
    runner,
    safety,
    suite_schedules,
    suites,
    views,
)
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


# --- every service that takes an id ----------------------------------------------------------
#
# Org A holds one object of every kind; Mallory names each of them through every public service
# function that takes an actor and an id. Whatever the function, A's id must behave exactly like
# an id that exists nowhere (same error, same message: nothing confirms it exists), that is
# NotFound once her role lets her ask at all, and nothing of A's may change. The table below is
# checked against the services themselves, so a new function taking an id fails
# `test_every_service_taking_an_id_is_covered` until it is added here.


@dataclass
class World:
    """Mallory (owner in org B, with an agent of her own) and one object of each kind in A."""

    session: Session
    mallory: Actor
    b_agent: uuid.UUID
    b_suite: uuid.UUID
    b_suite_run: uuid.UUID
    a_org: uuid.UUID
    ids: dict[str, uuid.UUID]


@dataclass(frozen=True)
class Case:
    """How to hand `object_id` to one service; `kind` names A's object of that kind.

    `quiet`: the id only narrows what the function reads or writes in the actor's own org
    (a filter, not a lookup), so another org's id finds nothing and says so by an empty result
    rather than NotFound; the result must still equal that of a random id.
    """

    kind: str
    call: Callable[[World, Any], object]
    quiet: bool = False


def _follow_first(actor: Actor, run_id: uuid.UUID) -> object:
    async def first() -> object:
        return await anext(aiter(follow.follow(session_scope, actor, run_id, idle_timeout=0)))

    return asyncio.run(first())


SCHEDULE_FORM = {"name": "Mine", "kind": "cron", "cron": "0 9 * * *", "message": "go"}
RULE_FORM = {
    "name": "Mine",
    "sample_rate": 1.0,
    "assertions": [{"type": "icontains", "value": "x"}],
}
SUITE_YAML = "description: Mine\ntests:\n  - description: one\n    vars:\n      message: hi\n"
PROVIDER_FORM = {"name": "mine", "kind": "openai", "api_key": "sk-test-123456", "models": ["m"]}

CASES: dict[str, Case] = {
    "agent_reads.get_agent:agent_id": Case(
        "agent", lambda w, i: agent_reads.get_agent(w.session, w.mallory, i)
    ),
    "agent_reads.get_agent_head:agent_id": Case(
        "agent", lambda w, i: agent_reads.get_agent_head(w.session, w.mallory, i)
    ),
    "agent_graph.context_for:agent_id": Case(
        "agent", lambda w, i: agent_graph.context_for(w.session, w.mallory, i)
    ),
    "agent_publishing.publish_problems:agent_id": Case(
        "agent", lambda w, i: agent_publishing.publish_problems(w.session, w.mallory, i)
    ),
    "agent_publishing.publish_agent:agent_id": Case(
        "agent", lambda w, i: agent_publishing.publish_agent(w.session, w.mallory, i)
    ),
    "agent_publishing.unpublish_agent:agent_id": Case(
        "agent", lambda w, i: agent_publishing.unpublish_agent(w.session, w.mallory, i)
    ),
    "agent_versions.list_versions:agent_id": Case(
        "agent", lambda w, i: agent_versions.list_versions(w.session, w.mallory, i)
    ),
    "agent_versions.version_history:agent_id": Case(
        "agent", lambda w, i: agent_versions.version_history(w.session, w.mallory, i)
    ),
    "agent_versions.get_version:agent_id": Case(
        "agent", lambda w, i: agent_versions.get_version(w.session, w.mallory, i, 1)
    ),
    "agent_versions.version_number:version_id": Case(
        "version",
        lambda w, i: agent_versions.version_number(w.session, w.mallory, i),
        quiet=True,  # documented: None for a version of another org (a label, not a lookup)
    ),
    "agent_versions.diff_versions:agent_id": Case(
        "agent", lambda w, i: agent_versions.diff_versions(w.session, w.mallory, i, 1, 1)
    ),
    "agent_versions.restore_version:agent_id": Case(
        "agent", lambda w, i: agent_versions.restore_version(w.session, w.mallory, i, 1)
    ),
    "agents.update_agent:agent_id": Case(
        "agent", lambda w, i: agents.update_agent(w.session, w.mallory, i, name="Mine now")
    ),
    "agents.update_agent:based_on": Case(
        "version",
        lambda w, i: agents.update_agent(w.session, w.mallory, w.b_agent, name="B", based_on=i),
        quiet=True,  # a stale-edit marker compared with B's own current version
    ),
    "agent_yaml.export_yaml:agent_id": Case(
        "agent", lambda w, i: agent_yaml.export_yaml(w.session, w.mallory, i)
    ),
    "agent_yaml.apply_yaml:agent_id": Case(
        "agent", lambda w, i: agent_yaml.apply_yaml(w.session, w.mallory, i, "name: Mine now")
    ),
    "agents.archive_agent:agent_id": Case(
        "agent", lambda w, i: agents.archive_agent(w.session, w.mallory, i)
    ),
    "agents.unarchive_agent:agent_id": Case(
        "agent", lambda w, i: agents.unarchive_agent(w.session, w.mallory, i)
    ),
    "agents.delete_agent:agent_id": Case(
        "agent", lambda w, i: agents.delete_agent(w.session, w.mallory, i)
    ),
    "agents.duplicate_agent:agent_id": Case(
        "agent", lambda w, i: agents.duplicate_agent(w.session, w.mallory, i)
    ),
    "api_keys.get_key:key_id": Case("key", lambda w, i: api_keys.get_key(w.session, w.mallory, i)),
    "api_keys.revoke_key:key_id": Case(
        "key", lambda w, i: api_keys.revoke_key(w.session, w.mallory, i)
    ),
    "api_keys.revoke_keys_of:user_id": Case(
        "user",
        lambda w, i: api_keys.revoke_keys_of(w.session, w.mallory, i, reason="test"),
        quiet=True,  # called after the membership lookup: revokes only keys of the actor's org
    ),
    "api_keys.narrow_keys_of:user_id": Case(
        "user",
        lambda w, i: api_keys.narrow_keys_of(w.session, w.mallory, i, role=Role.VIEWER),
        quiet=True,  # the same, for a lowered role
    ),
    "dashboard.summary:agent_id": Case(
        "agent", lambda w, i: dashboard.summary(w.session, w.mallory, range_key="24h", agent_id=i)
    ),
    "dashboard.change_marker:agent_id": Case(
        "agent", lambda w, i: dashboard.change_marker(w.session, w.mallory, agent_id=i)
    ),
    "approvals.get_approval:approval_id": Case(
        "approval", lambda w, i: approvals.get_approval(w.session, w.mallory, i)
    ),
    "approvals.pending:run_id": Case(
        "run", lambda w, i: approvals.pending(w.session, w.mallory, run_id=i)
    ),
    "approvals.decide:approval_id": Case(
        "approval", lambda w, i: approvals.decide(w.session, w.mallory, i, approve=False)
    ),
    "connections.get_connection:integration_id": Case(
        "connection", lambda w, i: connections.get_connection(w.session, w.mallory, i)
    ),
    "connections.start_sign_in:integration_id": Case(
        "connection",
        lambda w, i: connections.start_sign_in(w.session, w.mallory, get_redis(), integration_id=i),
    ),
    "connections.record_check:integration_id": Case(
        "connection", lambda w, i: connections.record_check(w.session, w.mallory, i, error="x")
    ),
    "connections.removal:integration_id": Case(
        "connection", lambda w, i: connections.removal(w.session, w.mallory, i)
    ),
    "connections.remove:integration_id": Case(
        "connection", lambda w, i: connections.remove(w.session, w.mallory, i)
    ),
    "connections.set_builders_may_use:integration_id": Case(
        "connection",
        lambda w, i: connections.set_builders_may_use(w.session, w.mallory, i, allowed=True),
    ),
    "invitations.get_invitation:invitation_id": Case(
        "invitation", lambda w, i: invitations.get_invitation(w.session, w.mallory, i)
    ),
    "invitations.revoke_invitation:invitation_id": Case(
        "invitation", lambda w, i: invitations.revoke_invitation(w.session, w.mallory, i)
    ),
    "providers.get_provider:provider_id": Case(
        "provider", lambda w, i: providers.get_provider(w.session, w.mallory, i)
    ),
    "providers.save_provider:provider_id": Case(
        "provider",
        lambda w, i: providers.save_provider(w.session, w.mallory, PROVIDER_FORM, provider_id=i),
    ),
    "providers.delete_provider:provider_id": Case(
        "provider", lambda w, i: providers.delete_provider(w.session, w.mallory, i)
    ),
    "providers.connection_target:provider_id": Case(
        "provider", lambda w, i: providers.connection_target(w.session, w.mallory, i)
    ),
    "providers.record_check:provider_id": Case(
        "provider", lambda w, i: providers.record_check(w.session, w.mallory, i, error="x")
    ),
    "collections.get_collection:collection_id": Case(
        "collection", lambda w, i: collections.get_collection(w.session, w.mallory, i)
    ),
    "collections.delete_collection:collection_id": Case(
        "collection", lambda w, i: collections.delete_collection(w.session, w.mallory, i)
    ),
    "collections.add_document:collection_id": Case(
        "collection",
        lambda w, i: collections.add_document(
            w.session, w.mallory, i, filename="notes.txt", data=b"hello"
        ),
    ),
    "collections.list_documents:collection_id": Case(
        "collection", lambda w, i: collections.list_documents(w.session, w.mallory, i)
    ),
    "collections.search:collection_ids": Case(
        "collection",
        lambda w, i: collections.search(w.session, w.mallory, collection_ids=[i], query="hello"),
    ),
    "collections.get_document:document_id": Case(
        "document", lambda w, i: collections.get_document(w.session, w.mallory, i)
    ),
    "collections.delete_document:document_id": Case(
        "document", lambda w, i: collections.delete_document(w.session, w.mallory, i)
    ),
    "ingest.stage_document:collection_id": Case(
        "collection",
        lambda w, i: ingest.stage_document(
            w.session, w.mallory, i, filename="notes.txt", source=io.BytesIO(b"hello")
        ),
    ),
    "model_prices.get_price:price_id": Case(
        "price", lambda w, i: model_prices.get_price(w.session, w.mallory, i)
    ),
    "model_prices.delete_price:price_id": Case(
        "price", lambda w, i: model_prices.delete_price(w.session, w.mallory, i)
    ),
    "organizations.get_membership:membership_id": Case(
        "membership", lambda w, i: organizations.get_membership(w.session, w.mallory, i)
    ),
    "organizations.change_role:membership_id": Case(
        "membership",
        lambda w, i: organizations.change_role(w.session, w.mallory, i, role="viewer"),
    ),
    "organizations.remove_member:membership_id": Case(
        "membership", lambda w, i: organizations.remove_member(w.session, w.mallory, i)
    ),
    "run_reads.get_run:run_id": Case(
        "run", lambda w, i: run_reads.get_run(w.session, w.mallory, i)
    ),
    "run_reads.get_thread:thread_id": Case(
        "thread", lambda w, i: run_reads.get_thread(w.session, w.mallory, i)
    ),
    "runs.start_run:agent_id": Case(
        "agent", lambda w, i: runs.start_run(w.session, w.mallory, i, message="hi")
    ),
    "runs.start_run:thread_id": Case(
        "thread",
        lambda w, i: runs.start_run(w.session, w.mallory, w.b_agent, message="hi", thread_id=i),
    ),
    "runs.replay:run_id": Case("run", lambda w, i: runs.replay(w.session, w.mallory, i)),
    "openai_chat.usage_of:run_id": Case(
        "run", lambda w, i: openai_chat.usage_of(w.session, w.mallory, i)
    ),
    "runs.new_thread:agent_id": Case(
        "agent", lambda w, i: runs.new_thread(w.session, w.mallory, i, title="t")
    ),
    "runs.send_message:agent_id": Case(
        "agent", lambda w, i: runs.send_message(w.session, w.mallory, i, message="hi")
    ),
    "runs.send_message:thread_id": Case(
        "thread",
        lambda w, i: runs.send_message(w.session, w.mallory, w.b_agent, message="hi", thread_id=i),
    ),
    "runs.list_threads:agent_id": Case(
        "agent", lambda w, i: runs.list_threads(w.session, w.mallory, i)
    ),
    "runs.thread_runs:thread_id": Case(
        "thread", lambda w, i: runs.thread_runs(w.session, w.mallory, i)
    ),
    "runs.get_steps:run_id": Case("run", lambda w, i: runs.get_steps(w.session, w.mallory, i)),
    "runs.cancel_run:run_id": Case("run", lambda w, i: runs.cancel_run(w.session, w.mallory, i)),
    "run_costs.unpriced_runs:run_ids": Case(
        "run",
        lambda w, i: run_costs.unpriced_runs(w.session, w.mallory, [i]),
        quiet=True,  # a batch filter over runs the caller listed for its own org
    ),
    "follow.follow:run_id": Case("run", lambda w, i: _follow_first(w.mallory, i)),
    "thread_titles.title_for:agent_id": Case(
        "agent", lambda w, i: thread_titles.title_for(w.session, w.mallory, i, "hi")
    ),
    "agent_canvas.save_canvas:agent_id": Case(
        "agent", lambda w, i: agent_canvas.save_canvas(w.session, w.mallory, i, Graph())
    ),
    "agent_canvas.save_canvas:based_on": Case(
        "version",
        lambda w, i: agent_canvas.save_canvas(w.session, w.mallory, w.b_agent, Graph(), based_on=i),
        quiet=True,  # the same stale-edit marker as update_agent's
    ),
    "webhooks.get_webhook:trigger_id": Case(
        "webhook", lambda w, i: webhooks.get_webhook(w.session, w.mallory, i)
    ),
    "webhooks.list_webhooks:agent_id": Case(
        "agent",
        lambda w, i: webhooks.list_webhooks(w.session, w.mallory, agent_id=i),
        quiet=True,  # a filter over the actor's own triggers
    ),
    "webhooks.create_webhook:agent_id": Case(
        "agent",
        lambda w, i: webhooks.create_webhook(w.session, w.mallory, i, data={"name": "mine"}),
    ),
    "webhooks.update_webhook:trigger_id": Case(
        "webhook",
        lambda w, i: webhooks.update_webhook(w.session, w.mallory, i, data={"enabled": False}),
    ),
    "webhooks.rotate_webhook:trigger_id": Case(
        "webhook", lambda w, i: webhooks.rotate_webhook(w.session, w.mallory, i)
    ),
    "webhooks.delete_webhook:trigger_id": Case(
        "webhook", lambda w, i: webhooks.delete_webhook(w.session, w.mallory, i)
    ),
    "webhooks.recent_deliveries:trigger_id": Case(
        "webhook", lambda w, i: webhooks.recent_deliveries(w.session, w.mallory, i)
    ),
    "webhook_calls.wait_for_run:run_id": Case(
        "run",
        lambda w, i: asyncio.run(
            webhook_calls.wait_for_run(session_scope, w.mallory, i, timeout=5)
        ),
    ),
    "agent_editor.editor_view:agent_id": Case(
        "agent", lambda w, i: agent_editor.editor_view(w.session, w.mallory, i)
    ),
    "lifecycle.check:integration_id": Case(
        "connection", lambda w, i: lifecycle.check(session_scope, w.mallory, i)
    ),
    "lifecycle.remove:integration_id": Case(
        "connection", lambda w, i: lifecycle.remove(session_scope, w.mallory, i)
    ),
    "schedules.get_schedule:schedule_id": Case(
        "schedule", lambda w, i: schedules.get_schedule(w.session, w.mallory, i)
    ),
    "schedules.list_schedules:agent_id": Case(
        "agent", lambda w, i: schedules.list_schedules(w.session, w.mallory, agent_id=i)
    ),
    "schedules.create_schedule:agent_id": Case(
        "agent", lambda w, i: schedules.create_schedule(w.session, w.mallory, i, SCHEDULE_FORM)
    ),
    "schedules.update_schedule:schedule_id": Case(
        "schedule",
        lambda w, i: schedules.update_schedule(w.session, w.mallory, i, SCHEDULE_FORM),
    ),
    "schedules.set_enabled:schedule_id": Case(
        "schedule", lambda w, i: schedules.set_enabled(w.session, w.mallory, i, enabled=False)
    ),
    "schedules.delete_schedule:schedule_id": Case(
        "schedule", lambda w, i: schedules.delete_schedule(w.session, w.mallory, i)
    ),
    "schedules.list_fires:schedule_id": Case(
        "schedule", lambda w, i: schedules.list_fires(w.session, w.mallory, i)
    ),
    "suites.get_suite:suite_id": Case(
        "suite", lambda w, i: suites.get_suite(w.session, w.mallory, i)
    ),
    "suites.create_suite:agent_id": Case(
        "agent", lambda w, i: suites.create_suite(w.session, w.mallory, i, {"name": "Mine"})
    ),
    "suites.update_suite:suite_id": Case(
        "suite", lambda w, i: suites.update_suite(w.session, w.mallory, i, {"name": "Mine"})
    ),
    "suites.delete_suite:suite_id": Case(
        "suite", lambda w, i: suites.delete_suite(w.session, w.mallory, i)
    ),
    "suites.list_suites:agent_id": Case(
        "agent",
        lambda w, i: suites.list_suites(w.session, w.mallory, agent_id=i),
        quiet=True,  # a filter over the actor's own suites
    ),
    "suites.add_case:suite_id": Case(
        "suite",
        lambda w, i: suites.add_case(w.session, w.mallory, i, {"name": "c", "message": "hi"}),
    ),
    "suites.list_cases:suite_id": Case(
        "suite", lambda w, i: suites.list_cases(w.session, w.mallory, i)
    ),
    "suites.export_yaml:suite_id": Case(
        "suite", lambda w, i: suites.export_yaml(w.session, w.mallory, i)
    ),
    "suites.import_yaml:agent_id": Case(
        "agent", lambda w, i: suites.import_yaml(w.session, w.mallory, i, SUITE_YAML)
    ),
    "suites.import_yaml:suite_id": Case(
        "suite",
        lambda w, i: suites.import_yaml(w.session, w.mallory, w.b_agent, SUITE_YAML, suite_id=i),
    ),
    "suites.get_case:case_id": Case("case", lambda w, i: suites.get_case(w.session, w.mallory, i)),
    "suites.update_case:case_id": Case(
        "case", lambda w, i: suites.update_case(w.session, w.mallory, i, {"name": "Mine"})
    ),
    "suites.set_case_status:case_id": Case(
        "case",
        lambda w, i: suites.set_case_status(w.session, w.mallory, i, CaseStatus.REJECTED),
    ),
    "suites.delete_case:case_id": Case(
        "case", lambda w, i: suites.delete_case(w.session, w.mallory, i)
    ),
    "ci.suite_from_file:agent_id": Case(
        "agent",
        lambda w, i: ci.suite_from_file(w.session, w.mallory, i, SUITE_YAML, name="A's suite"),
    ),
    "generate.prepare:agent_id": Case(
        "agent", lambda w, i: generate.prepare(w.session, w.mallory, i)
    ),
    "generate.prepare:suite_id": Case(
        "suite", lambda w, i: generate.prepare(w.session, w.mallory, w.b_agent, suite_id=i)
    ),
    "gates.run_on_new_version:agent_id": Case(
        "agent",
        lambda w, i: gates.run_on_new_version(w.session, w.mallory, i, uuid.uuid4()),
        quiet=True,  # after a save, for the agent just saved: starts the actor's own suites only
    ),
    "gates.run_on_new_version:version_id": Case(
        "version",
        lambda w, i: gates.run_on_new_version(w.session, w.mallory, w.b_agent, i),
        quiet=True,  # B's suites of B's agent; a version of no B agent starts none of them
    ),
    "dashboard_queries.newest_and_active:agent_id": Case(
        "agent",
        lambda w, i: dashboard_queries.newest_and_active(w.session, w.mallory, i),
        quiet=True,  # a filter inside the actor's runs (change_marker checks the agent first)
    ),
    "dashboard_queries.agent_names:agent_ids": Case(
        "agent",
        lambda w, i: dashboard_queries.agent_names(w.session, w.mallory, {i}),
        quiet=True,  # names of the actor's agents among the ids of its own runs
    ),
    "online.get_rule:rule_id": Case("rule", lambda w, i: online.get_rule(w.session, w.mallory, i)),
    "online.create_rule:agent_id": Case(
        "agent", lambda w, i: online.create_rule(w.session, w.mallory, i, RULE_FORM)
    ),
    "online.delete_rule:rule_id": Case(
        "rule", lambda w, i: online.delete_rule(w.session, w.mallory, i)
    ),
    "online.list_rules:agent_id": Case(
        "agent", lambda w, i: online.list_rules(w.session, w.mallory, i)
    ),
    "online.recent_scores:rule_id": Case(
        "rule", lambda w, i: online.recent_scores(w.session, w.mallory, i)
    ),
    "views.suite_rows:agent_id": Case(
        "agent", lambda w, i: views.suite_rows(w.session, w.mallory, agent_id=i)
    ),
    "views.result_rows:suite_run_id": Case(
        "suite_run", lambda w, i: views.result_rows(w.session, w.mallory, i)
    ),
    "views.score_history:suite_id": Case(
        "suite", lambda w, i: views.score_history(w.session, w.mallory, i)
    ),
    "views.compare_runs:before_id": Case(
        "suite_run", lambda w, i: views.compare_runs(w.session, w.mallory, i, w.b_suite_run)
    ),
    "views.compare_runs:after_id": Case(
        "suite_run", lambda w, i: views.compare_runs(w.session, w.mallory, w.b_suite_run, i)
    ),
    "runner.overrule:result_id": Case(
        "result", lambda w, i: runner.overrule(w.session, w.mallory, i, passed=True)
    ),
    "safety.probes_for:agent_id": Case(
        "agent", lambda w, i: safety.probes_for(w.session, w.mallory, i)
    ),
    "safety.ensure_safety_suite:agent_id": Case(
        "agent", lambda w, i: safety.ensure_safety_suite(w.session, w.mallory, i)
    ),
    "runner.get_suite_run:suite_run_id": Case(
        "suite_run", lambda w, i: runner.get_suite_run(w.session, w.mallory, i)
    ),
    "runner.list_suite_runs:suite_id": Case(
        "suite", lambda w, i: runner.list_suite_runs(w.session, w.mallory, i)
    ),
    "runner.results_of:suite_run_id": Case(
        "suite_run", lambda w, i: runner.results_of(w.session, w.mallory, i)
    ),
    "runner.cancel_suite_run:suite_run_id": Case(
        "suite_run", lambda w, i: runner.cancel_suite_run(w.session, w.mallory, i)
    ),
    "runner.start_suite_run:suite_id": Case(
        "suite", lambda w, i: runner.start_suite_run(w.session, w.mallory, i)
    ),
    "runner.start_suite_run:version_id": Case(
        "version",
        lambda w, i: runner.start_suite_run(w.session, w.mallory, w.b_suite, version_id=i),
    ),
    "suite_schedules.schedule_suite:suite_id": Case(
        "suite",
        lambda w, i: suite_schedules.schedule_suite(w.session, w.mallory, i, cron="0 6 * * *"),
    ),
    # the marketplace: A's listing is pending (live ones are public), A's install and review
    # are of a live listing of a third org
    "listings.get_listing:listing_id": Case(
        "listing", lambda w, i: listings.get_listing(w.session, w.mallory, i)
    ),
    "listings.get_own_listing:listing_id": Case(
        "listing", lambda w, i: listings.get_own_listing(w.session, w.mallory, i)
    ),
    "listings.list_versions:listing_id": Case(
        "listing", lambda w, i: listings.list_versions(w.session, w.mallory, i)
    ),
    "listings.publish_listing:agent_id": Case(
        "agent", lambda w, i: listings.publish_listing(w.session, w.mallory, i, {"title": "Mine"})
    ),
    "listings.add_version:listing_id": Case(
        "listing", lambda w, i: listings.add_version(w.session, w.mallory, i, changelog="x")
    ),
    "listings.update_listing:listing_id": Case(
        "listing", lambda w, i: listings.update_listing(w.session, w.mallory, i, {"title": "M"})
    ),
    "media.set_icon:listing_id": Case(
        "listing", lambda w, i: media.set_icon(w.session, w.mallory, i, PNG)
    ),
    "media.add_screenshot:listing_id": Case(
        "listing", lambda w, i: media.add_screenshot(w.session, w.mallory, i, PNG)
    ),
    "media.remove_screenshot:listing_id": Case(
        "listing", lambda w, i: media.remove_screenshot(w.session, w.mallory, i, "x")
    ),
    "installs.get_install:install_id": Case(
        "install", lambda w, i: installs.get_install(w.session, w.mallory, i)
    ),
    "installs.install_of:listing_id": Case(
        "listing", lambda w, i: installs.install_of(w.session, w.mallory, i), quiet=True
    ),
    "installs.install_listing:listing_id": Case(
        "listing", lambda w, i: installs.install_listing(w.session, w.mallory, i)
    ),
    "installs.update_install:install_id": Case(
        "install", lambda w, i: installs.update_install(w.session, w.mallory, i)
    ),
    "service_runs.subscription_of:listing_id": Case(
        "listing", lambda w, i: service_runs.subscription_of(w.session, w.mallory, i), quiet=True
    ),
    "service_runs.subscribe:listing_id": Case(
        "listing",
        lambda w, i: service_runs.subscribe(w.session, w.mallory, i, max_spend_per_run_usd=1),
    ),
    "service_runs.set_max_spend:listing_id": Case(
        "listing", lambda w, i: service_runs.set_max_spend(w.session, w.mallory, i, 1)
    ),
    "service_runs.unsubscribe:listing_id": Case(
        "listing", lambda w, i: service_runs.unsubscribe(w.session, w.mallory, i)
    ),
    "service_runs.start_service_run:listing_id": Case(
        "listing",
        lambda w, i: service_runs.start_service_run(w.session, w.mallory, i, message="hi"),
    ),
    "purchases.buy_listing:listing_id": Case(
        "listing", lambda w, i: purchases.buy_listing(w.session, w.mallory, i)
    ),
    "service_payouts.get_payout:payout_id": Case(
        "service_payout", lambda w, i: service_payouts.get_payout(w.session, w.mallory, i)
    ),
    "purchases.get_purchase:purchase_id": Case(
        "purchase", lambda w, i: purchases.get_purchase(w.session, w.mallory, i)
    ),
    "reviews.review_listing:listing_id": Case(
        "listing", lambda w, i: reviews.review_listing(w.session, w.mallory, i, {"rating": 1})
    ),
    "reviews.reply_to_review:review_id": Case(
        "review", lambda w, i: reviews.reply_to_review(w.session, w.mallory, i, "mine")
    ),
    "reviews.report:listing_id": Case(
        "listing", lambda w, i: reviews.report(w.session, w.mallory, i, "spam")
    ),
    "reviews.list_reviews:listing_id": Case(
        "listing", lambda w, i: reviews.list_reviews(w.session, w.mallory, i)
    ),
    "details.listing_detail:listing_id": Case(
        "listing", lambda w, i: details.listing_detail(w.session, w.mallory, i)
    ),
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8

# Functions that take an actor and an id but read nothing by it, with the reason.
ACTS_AS = "whom an API key's work acts as: its creator, passed by the API; a person acts as self"

NOT_READS: dict[str, str] = {
    "agent_reads.audit_agent:agent_id": "writes the audit entry of an agent its caller read",
    "audit.by_actor:target_id": "writes the audit entry of an object its caller read",
    "runs.start_run:schedule_id": "set only by the scheduler, from a schedule of the same org",
    "runs.start_run:webhook_trigger_id": "set only by a webhook call, from its own trigger",
    "webhooks.create_webhook:created_by_id": ACTS_AS,
    "connections.record_check:account_id": "the provider's id of the signed-in account",
    "schedules.create_schedule:runs_as": ACTS_AS,
    "schedules.update_schedule:runs_as": ACTS_AS,
    "schedules.set_enabled:runs_as": ACTS_AS,
    "reviews.report:review_id": "a review of a live listing is public: anyone may report it",
    "api_keys.create_key:creator_id": ACTS_AS,
    "runs.start_pinned_run:service_listing_id": "set only by service_runs.start_service_run, "
    "for a listing the actor's organization subscribed to",
}

SERVICE_MODULES = {
    "service_runs": service_runs,
    "purchases": purchases,
    "service_payouts": service_payouts,
    "agent_reads": agent_reads,
    "agent_graph": agent_graph,
    "agent_publishing": agent_publishing,
    "agent_versions": agent_versions,
    "agent_yaml": agent_yaml,
    "agents": agents,
    "api_keys": api_keys,
    "audit": audit,
    "dashboard": dashboard,
    "approvals": approvals,
    "connections": connections,
    "invitations": invitations,
    "providers": providers,
    "collections": collections,
    "ingest": ingest,
    "model_prices": model_prices,
    "openai_chat": openai_chat,
    "organizations": organizations,
    "run_reads": run_reads,
    "runs": runs,
    "run_costs": run_costs,
    "follow": follow,
    "thread_titles": thread_titles,
    "agent_canvas": agent_canvas,
    "webhooks": webhooks,
    "webhook_calls": webhook_calls,
    "agent_editor": agent_editor,
    "lifecycle": lifecycle,
    "schedules": schedules,
    "suites": suites,
    "runner": runner,
    "safety": safety,
    "ci": ci,
    "generate": generate,
    "gates": gates,
    "dashboard_queries": dashboard_queries,
    "online": online,
    "views": views,
    "suite_schedules": suite_schedules,
    "listings": listings,
    "media": media,
    "installs": installs,
    "reviews": reviews,
    "details": details,
}


def _id_taking_services() -> set[str]:
    """Every public function in services/ that takes an actor, a session or a transaction to
    read with, and an id, as "module.function:parameter": a parameter named *_id or *_ids, or
    annotated as a UUID (`based_on`, `runs_as`)."""
    found: set[str] = set()
    for info in pkgutil.walk_packages(services.__path__, "services."):
        module = importlib.import_module(info.name)
        for name, fn in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(fn):
                continue
            if fn.__module__ != module.__name__:
                continue  # imported here; counted where it is defined
            params = inspect.signature(fn).parameters
            if "actor" not in params or not {"session", "transaction"} & set(params):
                continue  # no actor, or nothing to read with (a query-building helper)
            short = info.name.rsplit(".", 1)[-1]
            for param in params:
                annotation = str(params[param].annotation)
                if param.endswith(("_id", "_ids")) or "uuid.UUID" in annotation:
                    found.add(f"{short}.{name}:{param}")
    return found


def test_every_service_taking_an_id_is_covered():
    found = _id_taking_services()
    assert found, "the scan found no services: it is broken"
    missing = found - set(CASES) - set(NOT_READS)
    assert not missing, f"add these to CASES (or NOT_READS, with the reason): {sorted(missing)}"
    stale = (set(CASES) | set(NOT_READS)) - found
    assert not stale, f"these no longer exist: {sorted(stale)}"
    for key in found:
        module = key.split(".", 1)[0]
        assert module in SERVICE_MODULES, f"{module} is not imported by this test"


# Functions that read by an id without an actor: entry points the platform itself calls, for
# an organization it already holds (a worker job on the run it enqueued, the runtime for its
# own run's org, an org_id taken from an actor). Each is listed with that reason; a new one
# fails `test_functions_reading_by_id_without_an_actor_are_known` until someone says why.
JOB = "a worker job on an id the platform enqueued itself"
ORG_OF_CALLER = "per-org data for an org_id the caller holds (its actor's or its run's)"
INSTANCE_ADMIN = "the instance admin's cross-organization pages (require_instance_admin first)"
TRUSTED: dict[str, str] = {
    "access.actor_for": "makes the actor: NotFound unless the user is a member (tested above)",
    "agent_reads.version_config": "a version id the caller read from its own run or agent row",
    "accounts.default_org_id": "the signed-in user's own first organization",
    "accounts.switch_org": "NotFound unless the session's user is a member (tested above)",
    "audit.record": "writes an entry; reads nothing",
    "instance_admin.require_instance_admin": INSTANCE_ADMIN,
    "instance_admin.list_orgs": INSTANCE_ADMIN,
    "instance_admin.get_org": INSTANCE_ADMIN,
    "instance_admin.set_org_plan": INSTANCE_ADMIN,
    "approvals.request": "the runtime asks for its own run, in that run's org",
    "approvals.outcome": "the waiting run polls the request it made",
    "proxy.check_connection": "called with actor.org_id after get_connection read the row",
    "providers.resolve": ORG_OF_CALLER,
    "providers.resolve_chain": ORG_OF_CALLER,
    "providers.resolve_chain_cached": ORG_OF_CALLER,
    "chain_cache.changed": "writes a fresh cache token for the org the caller just changed",
    "providers.configured_names": ORG_OF_CALLER,
    "model_prices.price_of": ORG_OF_CALLER,
    "organizations.limits_for": ORG_OF_CALLER,
    "organizations.member_count": ORG_OF_CALLER,
    "private_hosts.org_entries": ORG_OF_CALLER,
    "private_hosts.guard_for": ORG_OF_CALLER,
    "runs.concurrency_cap": ORG_OF_CALLER,
    "secrets.put": ORG_OF_CALLER,
    "ingest.ingest_document": JOB,
    "runs.claim": JOB,
    "runs.finish": JOB,
    "engine.prepare": JOB,
    "engine.execute": JOB,
    "grading.collect": JOB,
    "grading.record_failure": JOB,
    "ci.graded_lines": "the test CLI, on the suite run it has just started",
    "verification.verification": "callers pass a version they read through visible_versions",
    "gates.publish_gate_problems": "publish_problems, for the agent it read through get_agent",
    "alerts.raise_alert": "writes an alert for the org whose run or suite it is about",
    "alerts.record_delivery": JOB,
    "alerts.delivery_target": JOB,
    "grading.attach_judges": "grading of a run the platform enqueued, with its suite",
    "online.collect": JOB,
    "moderation.pending_listings": INSTANCE_ADMIN,
    "moderation.open_reports": INSTANCE_ADMIN,
    "moderation.approve_listing": INSTANCE_ADMIN,
    "moderation.take_down_listing": INSTANCE_ADMIN,
    "moderation.resolve_report": INSTANCE_ADMIN,
    "badges.refresh_badge": "the badge of a listing version the platform just wrote or re-checks",
    "badges.refresh_badges_of": JOB,
    "spend.take_spend_allowance": "runs.start_run/replay, for the actor's own org",
    "spend.month_spend": ORG_OF_CALLER,
    "spend.refuse_when_cap_reached": "a sub-agent hand-off, for its parent run's own org",
    "spend.record_alerts": JOB,
    "connect.seller_account": ORG_OF_CALLER,
    "connect.can_take_charges": "the seller of a listing read through visible_listings",
    "connect.refresh_account": "a Stripe account.updated event: the account Stripe names",
    "earnings.apply_payout": "a Stripe payout event of the connected account Stripe names",
    "events.process": JOB,
    "events.mark_failed": JOB,
    "installs.check_installable": ORG_OF_CALLER,
    "licences.licensed": ORG_OF_CALLER,
    "licences.ever_refunded": ORG_OF_CALLER,
    "usage.bill_service_run": "the runtime, for the run it has just finished",
    "usage.report_service_run": JOB,
    "service_payouts.seller_months": ORG_OF_CALLER,
    "service_payouts.pay_month": JOB,
}


def test_functions_reading_by_id_without_an_actor_are_known():
    found = set()
    for info in pkgutil.walk_packages(services.__path__, "services."):
        module = importlib.import_module(info.name)
        for name, fn in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(fn):
                continue
            if fn.__module__ != module.__name__:
                continue
            params = inspect.signature(fn).parameters
            if "actor" in params or not {"session", "transaction"} & set(params):
                continue
            if any(p.endswith(("_id", "_ids")) for p in params):
                found.add(f"{info.name.rsplit('.', 1)[-1]}.{name}")
    unknown = found - set(TRUSTED)
    assert not unknown, f"take an actor, or add to TRUSTED with the reason: {sorted(unknown)}"
    assert not set(TRUSTED) - found, f"gone: {sorted(set(TRUSTED) - found)}"


@pytest.fixture
def world(session: Session, org_a: OrgA, mallory_owner: Actor) -> World:
    alice = org_a.alice
    agent = agents.create_agent(session, alice, name="A's agent", config={"model": "openai/x"})
    b_agent = agents.create_agent(
        session, mallory_owner, name="B's agent", config={"model": "openai/x"}
    )
    session.flush()
    thread = Thread(org_id=alice.org_id, agent_id=agent.id, title="A's chat")
    session.add(thread)
    session.flush()
    run = Execution(
        org_id=alice.org_id,
        agent_id=agent.id,
        agent_version_id=agent.current_version_id,
        thread_id=thread.id,
        status=ExecutionStatus.RUNNING,
        input={"message": "A's secret question"},
    )
    session.add(run)
    session.flush()
    session.add(ExecutionStep(execution_id=run.id, position=0, kind="model", model="openai/x"))
    provider = ProviderCredential(org_id=alice.org_id, name="a-openai", models=["gpt"])
    collection = KnowledgeCollection(org_id=alice.org_id, name="A's docs", embedder="lexical")
    connection = Integration(
        org_id=alice.org_id, provider="github", name="A's GitHub", credential_ref="test/none"
    )
    price = ModelPrice(
        org_id=alice.org_id, model="a-openai/gpt", input_per_million=1, output_per_million=2
    )
    session.add_all([provider, collection, connection, price])
    session.flush()
    document = KnowledgeDocument(
        org_id=alice.org_id,
        collection_id=collection.id,
        filename="a.txt",
        content_type="text/plain",
        status=DocumentStatus.READY,
    )
    approval = approvals.request(
        session,
        org_id=alice.org_id,
        run_id=run.id,
        integration_id=connection.id,
        action="github.create_issue",
        arguments={},
        timeout_seconds=600,
    )
    session.add(document)
    hook = webhooks.create_webhook(session, alice, agent.id, data={"name": "A's hook"})
    schedule = schedules.create_schedule(session, alice, agent.id, SCHEDULE_FORM)
    suite = suites.create_suite(session, alice, agent.id, {"name": "A's suite"})
    case = suites.add_case(session, alice, suite.id, {"name": "A's case", "message": "hello"})
    suite_run = SuiteRun(
        org_id=alice.org_id,
        suite_id=suite.id,
        agent_id=agent.id,
        agent_version_id=agent.current_version_id,
        status=SuiteRunStatus.RUNNING,
        trigger="ui",
        repeat=1,
        total_runs=1,
    )
    session.add(suite_run)
    b_suite = suites.create_suite(session, mallory_owner, b_agent.id, {"name": "B's suite"})
    suites.add_case(session, mallory_owner, b_suite.id, {"name": "B's case", "message": "hi"})
    b_suite_run = SuiteRun(
        org_id=mallory_owner.org_id,
        suite_id=b_suite.id,
        agent_id=b_agent.id,
        agent_version_id=b_agent.current_version_id,
        status=SuiteRunStatus.PASSED,
        trigger="ui",
        repeat=1,
        total_runs=1,
    )
    session.add(b_suite_run)
    rule = online.create_rule(session, alice, agent.id, RULE_FORM)
    session.flush()
    result = TestResult(
        org_id=alice.org_id,
        suite_run_id=suite_run.id,
        test_id=case.id,
        execution_id=run.id,
        agent_version_id=agent.current_version_id,
        passed=False,
    )
    session.add(result)
    market = _marketplace(session, alice)
    session.commit()  # `follow` reads in a session of its own
    assert agent.current_version_id is not None
    return World(
        session=session,
        mallory=mallory_owner,
        b_agent=b_agent.id,
        b_suite=b_suite.id,
        b_suite_run=b_suite_run.id,
        a_org=alice.org_id,
        ids={
            "agent": agent.id,
            "version": agent.current_version_id,
            "thread": thread.id,
            "run": run.id,
            "provider": provider.id,
            "collection": collection.id,
            "document": document.id,
            "connection": connection.id,
            "approval": approval.id,
            "price": price.id,
            "membership": org_a.bob_membership.id,
            "user": org_a.bob_user.id,
            "invitation": org_a.invitation.id,
            "key": org_a.key.key.id,
            "webhook": hook.trigger.id,
            "schedule": schedule.id,
            "suite": suite.id,
            "case": case.id,
            "suite_run": suite_run.id,
            "rule": rule.id,
            "result": result.id,
            **market,
        },
    )


def _marketplace(session: Session, alice: Actor) -> dict[str, uuid.UUID]:
    """A's pending listing, and A's install and review of a third org's live listing."""
    session.add(ProviderCredential(org_id=alice.org_id, name="openai", models=["m"]))
    listed = agents.create_agent(session, alice, name="A's listed", config={"model": "openai/m"})
    agent_publishing.publish_agent(session, alice, listed.id)
    listing = listings.publish_listing(session, alice, listed.id, {"title": "A's listing"})
    carol = personal_actor(session, make_user(session, email="carol@c.example"))
    session.add(ProviderCredential(org_id=carol.org_id, name="openai", models=["m"]))
    c_agent = agents.create_agent(session, carol, name="C's agent", config={"model": "openai/m"})
    agent_publishing.publish_agent(session, carol, c_agent.id)
    c_listing = listings.publish_listing(session, carol, c_agent.id, {"title": "C's listing"})
    assert alice.user_id is not None
    moderation.approve_listing(session, alice.user_id, c_listing.id)  # alice: the first user
    install = installs.install_listing(session, alice, c_listing.id).install
    review = reviews.review_listing(session, alice, c_listing.id, {"rating": 4})
    purchase = Purchase(
        org_id=alice.org_id,
        listing_id=c_listing.id,
        seller_org_id=carol.org_id,
        amount_cents=500,
        fee_cents=50,
    )
    session.add(purchase)
    payout = ServicePayout(
        org_id=alice.org_id,
        month="2026-11",
        runs=2,
        gross_cents=50,
        fee_cents=5,
        amount_cents=45,
        stripe_transfer_id="tr_a",
    )
    session.add(payout)
    session.flush()
    return {
        "listing": listing.id,
        "install": install.id,
        "review": review.id,
        "purchase": purchase.id,
        "service_payout": payout.id,
    }


def snapshot_of_org(session: Session, org_id: uuid.UUID) -> dict[str, list[str]]:
    """Every row of `org_id` in every table (steps through their runs), as the DB has it."""
    session.flush()
    session.expire_all()
    rows: dict[str, list[str]] = {}
    run_ids = select(Execution.id).where(Execution.org_id == org_id)
    for table in SQLModel.metadata.sorted_tables:
        if "org_id" in table.c:
            query = table.select().where(table.c.org_id == org_id)
        elif "execution_id" in table.c:
            query = table.select().where(table.c.execution_id.in_(run_ids))
        else:
            continue
        rows[table.name] = sorted(str(dict(r._mapping)) for r in session.execute(query))
    return rows


def outcome(world: World, case: Case, object_id: uuid.UUID) -> tuple[str, object]:
    """What the call does with this id, inside a savepoint rolled back afterwards."""
    savepoint = world.session.begin_nested()
    try:
        result = case.call(world, object_id)
        if inspect.iscoroutine(result):  # an async service: run it to its answer
            result = asyncio.run(result)
    except DomainError as exc:
        return type(exc).__name__, exc.message
    finally:
        savepoint.rollback()
    return "returned", result


@pytest.mark.parametrize("role", ALL_ROLES, ids=[r.value for r in ALL_ROLES])
def test_another_orgs_id_is_an_id_that_does_not_exist(session, world, role):
    """One pass over every case per role (the set-up is shared: each call runs in a savepoint
    rolled back after it). An owner passes every permission check, so she reaches each lookup
    and must get NotFound; a lower role may be refused earlier, but never differently for A's
    id than for a random one."""
    if role != Role.OWNER:
        world.mallory = mallory_as(session, world.mallory, role)
    before = snapshot_of_org(session, world.a_org)
    wrong = []
    for name, case in sorted(CASES.items()):
        theirs = outcome(world, case, world.ids[case.kind])
        unknown = outcome(world, case, uuid.uuid4())
        if theirs != unknown:
            wrong.append(f"{name}: A's id gives {theirs}, a random id {unknown}")
        expected = ("NotFound",) if role == Role.OWNER else ("NotFound", "Forbidden")
        if not case.quiet and theirs[0] not in expected:
            wrong.append(f"{name}: {theirs}")
    assert wrong == [], "\n".join(wrong)
    assert snapshot_of_org(session, world.a_org) == before
