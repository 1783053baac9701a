"""Alembic driven from code (no alembic.ini: Reflex reads that file and ALEMBIC_CONFIG itself)."""

from __future__ import annotations

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


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    if type_ == "table":
        return not (name or "").startswith(UNMODELLED_TABLE_PREFIXES)
    return not (type_ == "index" and name in UNMODELLED_INDEXES)


def pending_changes(connection: Connection) -> list[Any]:
    """What autogenerate would add: empty when the models match the migrated schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import agent_platform.models  # noqa: F401

    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": include_name}
    )
    changes: list[Any] = compare_metadata(context, SQLModel.metadata)
    return changes
