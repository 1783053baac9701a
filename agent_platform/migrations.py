"""Alembic driven from code (no alembic.ini: Reflex reads that file and ALEMBIC_CONFIG itself)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.config import Config
from sqlalchemy.engine import Connection

from alembic import command

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "alembic"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(connection), revision)


def make_revision(message: str) -> None:
    command.revision(alembic_config(), message=message, autogenerate=True)


# What a migration makes that no model can describe: SQLite's FTS5 search table for the
# marketplace (0013) with the shadow tables FTS5 keeps beside it, and PostgreSQL's GIN index
# on the listings' text vector (an expression index).
UNMODELLED_TABLE_PREFIXES = ("marketplace_search",)
UNMODELLED_INDEXES = ("ix_marketplace_listings_search",)


# PostgreSQL only (0016): `executions` is partitioned by month. Its partitions and
# `execution_keys` (where a run id and an org's idempotency key are unique across months, and
# what the foreign keys to a run point at) have no model: the models describe the one table
# SQLite keeps, so these differences stay out of the comparison there.
PARTITION_TABLE_PREFIXES = ("executions_y", "executions_default", "execution_keys")
# The models' unique idempotency index is on execution_keys there; `executions` has a
# non-unique partial index for the lookups by key instead.
EXECUTIONS_PG_INDEXES = ("uq_executions_org_idempotency", "ix_executions_org_idempotency")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    if type_ == "table":
        return not (name or "").startswith(UNMODELLED_TABLE_PREFIXES)
    return not (type_ == "index" and name in UNMODELLED_INDEXES)


def include_name_for(dialect: str) -> Callable[[str | None, str, object], bool]:
    """`include_name` for one database kind: on PostgreSQL the runs' partitions too."""
    if dialect != "postgresql":
        return include_name

    def include(name: str | None, type_: str, parent_names: object) -> bool:
        if type_ == "table" and (name or "").startswith(PARTITION_TABLE_PREFIXES):
            return False
        return include_name(name, type_, parent_names)

    return include


def include_object_for(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Models and database alike: on PostgreSQL, leave out the foreign keys to a run (they
    point at execution_keys there: fk_<table>_<column>_executions) and the runs' idempotency
    indexes (the unique one lives on execution_keys, a non-unique one on executions)."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        if dialect != "postgresql":
            return True
        if type_ == "foreign_key_constraint":
            return not (name or "").endswith("_executions")
        return not (type_ == "index" and name in EXECUTIONS_PG_INDEXES)

    return include


def pending_changes(connection: Connection) -> list[Any]:
    """What autogenerate would add: empty when the models match the migrated schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import agent_platform.models  # noqa: F401

    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_name": include_name_for(connection.dialect.name),
            "include_object": include_object_for(connection.dialect.name),
        },
    )
    changes: list[Any] = compare_metadata(context, SQLModel.metadata)
    return changes
