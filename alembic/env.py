"""Alembic environment: targets SQLModel.metadata; batch mode so ALTERs work on SQLite."""

from sqlmodel import SQLModel

import agent_platform.models  # noqa: F401  (registers every table)
from agent_platform.db import get_engine
from agent_platform.migrations import include_name_for, include_object_for
from alembic import context

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    with get_engine().connect() as connection:
        _run(connection)
        connection.commit()


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render our column types as plain, importable expressions in generated migrations."""
    from sqlmodel.sql.sqltypes import AutoString

    from agent_platform.models.base import UTCDateTime

    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "agent_platform.models.base.UTCDateTime()"
    return False


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
        include_name=include_name_for(connection.dialect.name),
        include_object=include_object_for(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `python -m agent_platform migrate`")
run_migrations_online()
