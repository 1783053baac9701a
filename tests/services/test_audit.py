"""services.audit.list_entries: the org's audit log, for owners and admins only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from sqlmodel.sql.expression import SelectOfScalar

from agent_platform.models import AuditEntry, Role
from agent_platform.models.base import utcnow
from services import audit
from services.access import Actor
from services.errors import Forbidden
from tests.factories import add_member, make_user, personal_actor


@pytest.fixture
def owner(session) -> Actor:
    actor = personal_actor(session, make_user(session))
    # Registration wrote "user.registered"; start each test from an empty log.
    for entry in session.exec(audit_entries_of(actor)).all():
        session.delete(entry)
    session.flush()
    return actor


def audit_entries_of(actor: Actor) -> SelectOfScalar[AuditEntry]:
    return select(AuditEntry).where(AuditEntry.org_id == actor.org_id)


def record_series(session, actor: Actor, actions: list[str]) -> list[AuditEntry]:
    """Entries one second apart, oldest first, so ordering is deterministic."""
    start = utcnow() - timedelta(hours=1)
    entries = []
    for i, action in enumerate(actions):
        entry = audit.record(session, action, org_id=actor.org_id, actor_id=actor.user_id)
        entry.created_at = start + timedelta(seconds=i)
        entries.append(entry)
    session.flush()
    return entries


class TestListEntries:
    @pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
    def test_admins_and_owners_can_read_the_log(self, session, owner, role):
        actor = owner if role == Role.OWNER else add_member(session, owner.org_id, role=role)[1]
        record_series(session, owner, ["org.renamed"])
        rows, total = audit.list_entries(session, actor)
        assert total == 1 and rows[0].action == "org.renamed"

    @pytest.mark.parametrize("role", [Role.VIEWER, Role.BUILDER])
    def test_viewer_and_builder_are_forbidden(self, session, owner, role):
        _, actor = add_member(session, owner.org_id, role=role)
        with pytest.raises(Forbidden):
            audit.list_entries(session, actor)

    def test_entries_are_newest_first(self, session, owner):
        entries = record_series(session, owner, ["a.one", "a.two", "a.three"])
        rows, total = audit.list_entries(session, owner)
        assert total == 3
        assert [r.id for r in rows] == [e.id for e in reversed(entries)]

    def test_paging_returns_disjoint_pages_and_the_full_total(self, session, owner):
        entries = record_series(session, owner, [f"x.event{i}" for i in range(7)])
        newest_first = [e.id for e in reversed(entries)]
        pages = [audit.list_entries(session, owner, offset=o, limit=3) for o in (0, 3, 6)]
        assert [total for _, total in pages] == [7, 7, 7]
        assert [[r.id for r in rows] for rows, _ in pages] == [
            newest_first[0:3],
            newest_first[3:6],
            newest_first[6:7],
        ]

    def test_offset_past_the_end_is_empty_with_the_total(self, session, owner):
        record_series(session, owner, ["a.one", "a.two"])
        assert audit.list_entries(session, owner, offset=10) == ([], 2)

    def test_limit_is_capped_at_200(self, session, owner):
        record_series(session, owner, ["bulk.event"] * 205)
        rows, total = audit.list_entries(session, owner, limit=10_000)
        assert total == 205 and len(rows) == 200

    def test_filter_by_action_prefix(self, session, owner):
        record_series(
            session,
            owner,
            ["member.role_changed", "api_key.created", "member.removed", "auth.login"],
        )
        rows, total = audit.list_entries(session, owner, action="member.")
        assert total == 2
        assert [r.action for r in rows] == ["member.removed", "member.role_changed"]

    def test_filter_by_full_action(self, session, owner):
        record_series(session, owner, ["auth.login", "auth.login_failed", "auth.logout"])
        rows, total = audit.list_entries(session, owner, action="auth.logout")
        assert total == 1 and rows[0].action == "auth.logout"

    def test_filter_is_a_prefix_not_a_substring(self, session, owner):
        record_series(session, owner, ["invitation.created", "api_key.created"])
        assert audit.list_entries(session, owner, action="created") == ([], 0)

    def test_filter_combines_with_paging(self, session, owner):
        record_series(session, owner, ["auth.login"] * 5 + ["org.renamed"] * 3)
        rows, total = audit.list_entries(session, owner, action="auth.", offset=4, limit=3)
        assert total == 5 and len(rows) == 1

    def test_entries_keep_target_and_details(self, session, owner):
        audit.record(
            session,
            "member.role_changed",
            org_id=owner.org_id,
            actor_id=owner.user_id,
            target_type="user",
            target_id=owner.user_id,
            client_ip="10.0.0.1",
            old="viewer",
            new="admin",
            dropped=None,
        )
        session.flush()
        [row], _ = audit.list_entries(session, owner)
        assert row.target_type == "user"
        assert row.target_id == str(owner.user_id)
        assert row.client_ip == "10.0.0.1"
        assert row.details == {"old": "viewer", "new": "admin"}
