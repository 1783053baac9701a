"""The daily upkeep of the runs table: next months' partitions made ahead, old runs dropped.

On PostgreSQL `executions` is partitioned by month of `created_at` (migration 0016): one table
per month (`executions_y2026m12`) and a default one for anything outside them. Two reasons:
a month of runs is dropped as a whole (`DROP TABLE`, no vacuum debt of a mass `DELETE`), and
the dashboard's time ranges read only the months they cover. Partitions are made
`MONTHS_AHEAD` months ahead, so inserts never fall into the default partition unless this job
stopped for months; a month whose rows already sit in the default partition cannot be
attached (PostgreSQL refuses), is reported, and its rows simply stay where they are.

Retention (`EXECUTION_RETENTION_MONTHS`, 0: keep everything): runs created before the first
day of the month N months ago go, with everything that hangs off them (steps, scores,
approvals cascade; test results keep their row with the run unset). Whole months: a run is
kept at least N and at most N + 1 months. The runs' children reference `execution_keys`, the
one unpartitioned row per run (see the migration), so a month's keys are deleted first —
the cascade removes the children — and then its partition is dropped. SQLite (and a
PostgreSQL database not partitioned) keeps one table and deletes the old rows; so does the
default partition.

Identifiers in the DDL below are made from integers (year, month), never from input.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from agent_platform.models import Execution

log = logging.getLogger(__name__)

MONTHS_AHEAD = 3
PARTITION_NAME = re.compile(r"^executions_y(\d{4})m(\d{2})$")


@dataclass
class Upkeep:
    created: list[str] = field(default_factory=list)  # partitions made now
    dropped: list[str] = field(default_factory=list)  # partitions dropped (whole months)
    deleted_runs: int = 0  # rows deleted one by one (SQLite, or the default partition)
    refused: list[str] = field(default_factory=list)  # months the default partition holds


def month_start(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(first_of_month: datetime, months: int) -> datetime:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return first_of_month.replace(year=index // 12, month=index % 12 + 1)


def partition_name(first_of_month: datetime) -> str:
    return f"executions_y{first_of_month.year:04d}m{first_of_month.month:02d}"


def retention_cutoff(now: datetime, retention_months: int) -> datetime | None:
    """Runs created before this go; None: keep everything."""
    if retention_months <= 0:
        return None
    return add_months(month_start(now), -retention_months)


def is_partitioned(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return False
    found = session.execute(
        text(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
            "WHERE c.relname = 'executions' AND pg_table_is_visible(c.oid)"
        )
    ).first()
    return found is not None


def monthly_partitions(session: Session) -> dict[str, datetime]:
    """Our monthly partitions of `executions`, by name, with the month each one holds."""
    rows = session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'executions'::regclass"
        )
    ).scalars()
    months: dict[str, datetime] = {}
    for name in rows:
        match = PARTITION_NAME.match(name)
        if match:
            months[name] = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
    return months


def create_partition(session: Session, first_of_month: datetime) -> bool:
    """Make the month's partition; False when the default partition already holds rows of
    that month (PostgreSQL refuses to attach it then; the rows stay in the default)."""
    name = partition_name(first_of_month)
    start, end = first_of_month.isoformat(), add_months(first_of_month, 1).isoformat()
    try:
        with session.begin_nested():
            session.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF executions "
                    f"FOR VALUES FROM ('{start}') TO ('{end}')"
                )
            )
    except DBAPIError as exc:
        log.warning("partition %s not made: %s", name, str(exc.orig).splitlines()[0])
        return False
    return True


def drop_partition(session: Session, name: str) -> None:
    """Delete the month's run keys (the children cascade), detach its table (PostgreSQL checks
    that no key still points into it) and drop it."""
    if not PARTITION_NAME.match(name):
        raise ValueError(f"not a monthly partition of executions: {name!r}")
    session.execute(text(f"DELETE FROM execution_keys k USING {name} p WHERE k.id = p.id"))
    session.execute(text(f"ALTER TABLE executions DETACH PARTITION {name}"))
    session.execute(text(f"DROP TABLE {name}"))


def maintain(session: Session, *, now: datetime, retention_months: int) -> Upkeep:
    """One upkeep pass; idempotent (running it twice changes nothing the second time)."""
    upkeep = Upkeep()
    cutoff = retention_cutoff(now, retention_months)
    if is_partitioned(session):
        existing = monthly_partitions(session)
        this_month = month_start(now)
        for ahead in range(MONTHS_AHEAD + 1):
            month = add_months(this_month, ahead)
            name = partition_name(month)
            if name in existing:
                continue
            (upkeep.created if create_partition(session, month) else upkeep.refused).append(name)
        for name, month in sorted(existing.items(), key=lambda item: item[1]):
            if cutoff is not None and add_months(month, 1) <= cutoff:
                drop_partition(session, name)
                upkeep.dropped.append(name)
    if cutoff is not None:
        # One table (SQLite), or what is left in the default partition: row by row; the
        # foreign keys (PostgreSQL: the delete trigger and execution_keys) take the children.
        deleted = session.exec(delete(Execution).where(col(Execution.created_at) < cutoff))
        upkeep.deleted_runs = deleted.rowcount
    return upkeep
