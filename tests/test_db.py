"""The transaction boundary: one commit per scope, after-commit hooks only after a commit."""

from __future__ import annotations

import pytest
from sqlmodel import select

from agent_platform.db import after_commit, session_scope
from agent_platform.models import AuditEntry, User
from services import accounts, audit
from services.errors import Forbidden, Unavailable
from tests.factories import make_user


def test_hooks_run_after_commit_and_see_committed_rows(session) -> None:
    seen: list[int] = []
    with session_scope() as s:
        make_user(s, email="hook@example.com")
        after_commit(s, lambda: seen.append(len(session.exec(select(User)).all())))
        assert seen == []
    assert seen == [1]


def test_error_rolls_back_everything_and_drops_hooks(session) -> None:
    from services import accounts

    seen: list[str] = []
    with pytest.raises(RuntimeError), session_scope() as s:
        accounts.register(s, email="half@example.com", name="Half", password="long enough pw")
        after_commit(s, lambda: seen.append("ran"))
        raise RuntimeError("boom")
    assert seen == []
    assert session.exec(select(User).where(User.email == "half@example.com")).first() is None


def test_an_audited_refusal_keeps_only_its_entry(session) -> None:
    """The one way a refusal is remembered: the error carries its entry; the caller's
    half-done work rolls back and only that entry is committed."""
    entry = audit.for_error("test.refused", org_id=None, actor_id=None, reason="why")
    with pytest.raises(Forbidden), session_scope() as s:
        accounts.register(s, email="half@example.com", name="Half", password="long enough pw")
        raise Forbidden("No.", audit=entry)
    assert session.exec(select(User)).all() == []
    [kept] = session.exec(select(AuditEntry)).all()
    assert (kept.action, kept.details) == ("test.refused", {"reason": "why"})


def test_a_failed_hook_with_an_entry_is_audited_and_the_commit_stands(session) -> None:
    def purge() -> None:
        raise Unavailable(
            "Vault is sealed.", audit=audit.for_error("test.purge", org_id=None, actor_id=None)
        )

    with session_scope() as s:
        make_user(s, email="kept@example.com")
        after_commit(s, purge)
    assert len(session.exec(select(User)).all()) == 1
    purged = session.exec(select(AuditEntry).where(AuditEntry.action == "test.purge")).all()
    assert len(purged) == 1


def test_any_other_hook_failure_reaches_the_caller(session) -> None:
    def enqueue() -> None:
        raise ConnectionError("Redis is down")

    with pytest.raises(ConnectionError), session_scope() as s:
        make_user(s, email="kept@example.com")
        after_commit(s, enqueue)
    assert len(session.exec(select(User)).all()) == 1


def test_a_connection_killed_while_idle_is_replaced_not_handed_out(monkeypatch) -> None:
    """Pooled connections are pinged only after sitting idle; a dead one is swapped for a new
    connection before any statement runs on it (PostgreSQL: its server process is killed).
    An engine of its own, so its pool holds just the one connection and no other test's."""
    import psycopg
    from sqlalchemy import text

    from agent_platform import db
    from tests.conftest import PG_ADMIN_URL, require_postgres

    require_postgres("a server-side kill of one pooled connection")
    engine = db.make_engine(db.get_engine().url.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            victim = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as conn:  # back in the pool a moment ago: no ping, same one
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() == victim
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (victim,))
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it had sat idle
        with engine.connect() as conn:
            fresh = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert fresh != victim
    finally:
        engine.dispose()
