"""Migrations upgrade an empty database, match the models, and downgrade, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from agent_platform import migrations
from agent_platform.db import make_engine
from tests.conftest import create_pg_database, drop_pg_database, pg_url, require_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    require_postgres("migrations must run on PostgreSQL too")
    name = create_pg_database()
    try:
        yield pg_url(name)
    finally:
        drop_pg_database(name)


def test_upgrade_from_empty_creates_every_table_and_matches_models(empty_db: str) -> None:
    engine = make_engine(empty_db)
    with engine.begin() as conn:
        migrations.upgrade(conn)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert {
            "users",
            "organizations",
            "memberships",
            "invitations",
            "sessions",
            "api_keys",
            "agents",
            "agent_versions",
            "executions",
            "execution_steps",
            "integrations",
            "marketplace_listings",
            "agent_tests",
            "test_results",
            "schedules",
            "audit_log",
            "tier_limits",
            "schedule_fires",
        } <= tables
        assert migrations.pending_changes(conn) == []
        tiers = dict(conn.execute(text("SELECT tier, max_members FROM tier_limits")).all())
        assert tiers == {"starter": 3, "pro": 10, "team": 100, "enterprise": -1}
    engine.dispose()


def test_downgrade_to_empty_and_upgrade_again(empty_db: str) -> None:
    from alembic import command

    engine = make_engine(empty_db)
    with engine.begin() as conn:
        migrations.upgrade(conn)
        command.downgrade(migrations.alembic_config(conn), "base")
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    with engine.begin() as conn:
        migrations.upgrade(conn)
    with engine.connect() as conn:
        assert "executions" in inspect(conn).get_table_names()
    engine.dispose()


def test_foreign_keys_cascade_from_organization(session) -> None:
    """Deleting an organization removes its memberships (ON DELETE CASCADE is real)."""
    from sqlmodel import select

    from agent_platform.models import Membership, Organization
    from tests.factories import make_user, personal_actor

    user = make_user(session)
    actor = personal_actor(session, user)
    session.commit()
    session.delete(session.get(Organization, actor.org_id))
    session.commit()
    assert session.exec(select(Membership).where(Membership.org_id == actor.org_id)).all() == []


def test_partitioned_runs_keep_an_index_for_idempotency_lookups() -> None:
    """0016 (PostgreSQL): the unique (org, key) index moves to execution_keys, and `executions`
    keeps a non-unique one so a keyed run start or webhook call does not read every month;
    downgrading gives back exactly 0015's indexes."""
    from alembic import command

    require_postgres("0016 partitions executions on PostgreSQL only")
    name = create_pg_database()
    engine = make_engine(pg_url(name))
    indexes = text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'executions'")
    try:
        with engine.begin() as conn:
            migrations.upgrade(conn, "0015")
            before = dict(conn.execute(indexes).all())
            migrations.upgrade(conn)
            after = dict(conn.execute(indexes).all())
            lookup = after["ix_executions_org_idempotency"]
            assert "UNIQUE" not in lookup and "(org_id, idempotency_key)" in lookup
            assert "uq_executions_org_idempotency" not in after
            command.downgrade(migrations.alembic_config(conn), "0015")
            assert dict(conn.execute(indexes).all()) == before
    finally:
        engine.dispose()
        drop_pg_database(name)
