"""Executions partitioned by month on PostgreSQL; SQLite keeps one table (a no-op there)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 11:00:00.000000

`executions` becomes `PARTITION BY RANGE (created_at)`: one table per month
(`executions_y2026m12`, made three months ahead by the daily upkeep job,
services/execution_retention.py) and `executions_default` for anything outside them. A month
past the retention (EXECUTION_RETENTION_MONTHS) is dropped whole instead of deleted row by row,
and a dashboard range reads only the months it covers. Existing rows are copied into the
partitions of their months.

PostgreSQL wants the partition key in the primary key and in every unique index of a
partitioned table, and a foreign key must point at such a unique index. So:

- the primary key is (id, created_at);
- "one run per (org, idempotency key)" and "a run id exists once" can no longer be unique
  indexes of `executions` (they would hold per month only; the key's lookups use a non-unique
  partial index, ix_executions_org_idempotency, in its place), and the five tables that point at
  a run by id alone (execution_steps, action_approvals, online_scores with ON DELETE CASCADE;
  test_results, schedule_fires with SET NULL) cannot reference it by id any more.

Choices for the references: (1) copy created_at into every referencing table and use composite
foreign keys — five tables and every insert path change; (2) drop the foreign keys — dangling
steps and scores, cascades done by hand; (3) what this migration does: `execution_keys`, one
small unpartitioned row per run (id, created_at, org_id, idempotency_key). Its primary key is
the run id, its unique index is (org_id, idempotency_key), and it references its run with
FOREIGN KEY (id, created_at) REFERENCES executions ON DELETE CASCADE ON UPDATE CASCADE. The five
tables' foreign keys (same names, same ON DELETE) now point at execution_keys(id). A trigger
adds the key after each insert into executions and follows changes of org_id or
idempotency_key; everything else is foreign keys, so referential integrity stays in the
database: a step needs an existing run, deleting a run (or its organization) cascades through
its key to its steps, scores and approvals, and TRUNCATE ... CASCADE reaches them too.

The price: one more row and index entry per run; a duplicate idempotency key is reported by
execution_keys' index (the same IntegrityError the services already handle); and a month's
partition can only be dropped after its keys are deleted (that deletes the children through
the cascade; DROP TABLE alone would be refused by the foreign key), which the upkeep job does.
An UPDATE of created_at that moves a run to another month keeps its key and children on
PostgreSQL 15 and later (the foreign key sees one update; older versions saw a delete and an
insert and would cascade the delete).

The models still describe `executions.id` as the primary key and the foreign keys as pointing
at executions.id (true on SQLite); agent_platform.migrations leaves these PostgreSQL-only
differences out of the model comparison.
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONTHS_AHEAD = 3
IDEMPOTENCY_INDEX = "uq_executions_org_idempotency"
# Its non-unique stand-in on the partitioned table: a keyed run start and a webhook call look
# their key up by (org_id, idempotency_key) on `executions` (services.runs, webhook_calls).
IDEMPOTENCY_LOOKUP = "ix_executions_org_idempotency"


def _months(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    index, end = first[0] * 12 + first[1] - 1, last[0] * 12 + last[1] - 1
    return [(i // 12, i % 12 + 1) for i in range(index, end + 1)]


def _next(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _indexes(bind: sa.Connection, table: str) -> list[tuple[str, str, bool, bool]]:
    """(name, definition, unique, primary) of each index of `table`."""
    rows = bind.execute(
        sa.text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisunique, i.indisprimary "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = CAST(:t AS regclass) ORDER BY c.relname"
        ),
        {"t": table},
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def _foreign_keys(bind: sa.Connection, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the foreign keys from `table` to other tables."""
    rows = bind.execute(
        sa.text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:t AS regclass) AND contype = 'f' ORDER BY conname"
        ),
        {"t": table},
    ).all()
    return [(r[0], r[1]) for r in rows]


def _referencing(bind: sa.Connection, table: str) -> list[tuple[str, str, str]]:
    """(table, name, definition) of the foreign keys of other tables pointing at `table`."""
    rows = bind.execute(
        sa.text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE confrelid = CAST(:t AS regclass) AND contype = 'f' "
            "AND conrelid <> CAST(:t AS regclass) ORDER BY 1, 2"
        ),
        {"t": table},
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _on(definition: str, table: str) -> str:
    """An index definition re-aimed at `table` (`ON ONLY x` for a partitioned parent)."""
    return re.sub(r" ON (ONLY )?\S+ USING ", f" ON {table} USING ", definition, count=1)


def _retarget(definition: str, target: str) -> str:
    return re.sub(r"REFERENCES \S+\(id\)", f"REFERENCES {target}(id)", definition, count=1)


KEY_TRIGGERS = """
CREATE FUNCTION execution_keys_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO execution_keys (id, created_at, org_id, idempotency_key)
    VALUES (NEW.id, NEW.created_at, NEW.org_id, NEW.idempotency_key);
    RETURN NULL;
END $$;
CREATE FUNCTION execution_keys_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE execution_keys SET org_id = NEW.org_id, idempotency_key = NEW.idempotency_key
    WHERE id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER execution_keys_add AFTER INSERT ON executions
    FOR EACH ROW EXECUTE FUNCTION execution_keys_add();
CREATE TRIGGER execution_keys_follow AFTER UPDATE OF org_id, idempotency_key ON executions
    FOR EACH ROW EXECUTE FUNCTION execution_keys_follow();
"""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite: one table, as before
    indexes = _indexes(bind, "executions")
    outbound = _foreign_keys(bind, "executions")
    inbound = _referencing(bind, "executions")
    unexpected = [n for n, _, unique, primary in indexes if unique and not primary]
    if unexpected != [IDEMPOTENCY_INDEX]:
        raise RuntimeError(f"unexpected unique indexes on executions: {unexpected}")

    for table, name, _ in inbound:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute("ALTER TABLE executions RENAME TO executions_unpartitioned")
    for name, *_ in indexes:  # their names go to the new table's indexes
        op.execute(f"ALTER INDEX {name} RENAME TO {name[:55]}_unpart")

    op.execute(
        "CREATE TABLE executions (LIKE executions_unpartitioned INCLUDING DEFAULTS "
        "INCLUDING CONSTRAINTS) PARTITION BY RANGE (created_at)"
    )
    primary = next(name for name, _, _, is_primary in indexes if is_primary)
    op.execute(f"ALTER TABLE executions ADD CONSTRAINT {primary} PRIMARY KEY (id, created_at)")
    for _name, definition, unique, is_primary in indexes:
        if not unique and not is_primary:
            op.execute(_on(definition, "executions"))
    op.execute(
        f"CREATE INDEX {IDEMPOTENCY_LOOKUP} ON executions (org_id, idempotency_key) "
        "WHERE idempotency_key IS NOT NULL"
    )
    for name, definition in outbound:
        op.execute(f"ALTER TABLE executions ADD CONSTRAINT {name} {definition}")

    now = bind.execute(sa.text("SELECT now() AT TIME ZONE 'UTC'")).scalar_one()
    oldest = bind.execute(
        sa.text("SELECT min(created_at) AT TIME ZONE 'UTC' FROM executions_unpartitioned")
    ).scalar_one()
    first = (oldest or now).year, (oldest or now).month
    last = (now.year * 12 + now.month - 1 + MONTHS_AHEAD) // 12
    last_month = (now.month - 1 + MONTHS_AHEAD) % 12 + 1
    for year, month in _months(first, (last, last_month)):
        end = _next(year, month)
        op.execute(
            f"CREATE TABLE executions_y{year:04d}m{month:02d} PARTITION OF executions "
            f"FOR VALUES FROM ('{year:04d}-{month:02d}-01 00:00:00+00') "
            f"TO ('{end[0]:04d}-{end[1]:02d}-01 00:00:00+00')"
        )
    op.execute("CREATE TABLE executions_default PARTITION OF executions DEFAULT")

    op.execute(
        "CREATE TABLE execution_keys ("
        " id uuid NOT NULL,"
        " created_at timestamp with time zone NOT NULL,"
        " org_id uuid NOT NULL,"
        " idempotency_key varchar(200),"
        " CONSTRAINT pk_execution_keys PRIMARY KEY (id),"
        " CONSTRAINT fk_execution_keys_run FOREIGN KEY (id, created_at)"
        "  REFERENCES executions (id, created_at) ON DELETE CASCADE ON UPDATE CASCADE)"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_execution_keys_org_idempotency "
        "ON execution_keys (org_id, idempotency_key)"
    )
    op.execute(KEY_TRIGGERS)
    op.execute("INSERT INTO executions SELECT * FROM executions_unpartitioned")  # keys: trigger
    for table, name, definition in inbound:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} {_retarget(definition, 'execution_keys')}"
        )
    op.execute("DROP TABLE executions_unpartitioned")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    indexes = _indexes(bind, "executions")
    outbound = _foreign_keys(bind, "executions")
    inbound = _referencing(bind, "execution_keys")

    for table, name, _ in inbound:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute("DROP TABLE execution_keys")
    op.execute("DROP TRIGGER execution_keys_add ON executions")
    op.execute("DROP TRIGGER execution_keys_follow ON executions")
    op.execute("DROP FUNCTION execution_keys_add()")
    op.execute("DROP FUNCTION execution_keys_follow()")
    op.execute("ALTER TABLE executions RENAME TO executions_partitioned")
    for name, *_ in indexes:
        op.execute(f"ALTER INDEX {name} RENAME TO {name[:55]}_part")

    op.execute(
        "CREATE TABLE executions (LIKE executions_partitioned INCLUDING DEFAULTS "
        "INCLUDING CONSTRAINTS)"
    )
    primary = next(name for name, _, _, is_primary in indexes if is_primary)
    op.execute(f"ALTER TABLE executions ADD CONSTRAINT {primary} PRIMARY KEY (id)")
    for name, definition, _unique, is_primary in indexes:
        if not is_primary and name != IDEMPOTENCY_LOOKUP:  # the unique index comes back
            op.execute(_on(definition, "executions"))
    op.execute(f"CREATE UNIQUE INDEX {IDEMPOTENCY_INDEX} ON executions (org_id, idempotency_key)")
    for name, definition in outbound:
        op.execute(f"ALTER TABLE executions ADD CONSTRAINT {name} {definition}")
    op.execute("INSERT INTO executions SELECT * FROM executions_partitioned")
    for table, name, definition in inbound:
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} {_retarget(definition, 'executions')}"
        )
    op.execute("DROP TABLE executions_partitioned")  # and its partitions
