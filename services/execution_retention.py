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
one unpartitioned row per run (see the migration), so a month's runs are deleted first — the
cascade removes their keys and children, under row locks only — and then its emptied
partition is detached and dropped. DETACH locks the whole runs table (ACCESS EXCLUSIVE) until
the commit, so these are separate steps: the job (agent_platform.execution_upkeep) commits
after each, a month at a time, and gives up on a month whose DETACH waits too long for the
lock (tried again the next day). SQLite (and a PostgreSQL database not partitioned) keeps one
table and deletes the old rows; so does the default partition.

Identifiers in the DDL below are made from integers (year, month), never from input.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col

from agent_platform.models import Execution

log = logging.getLogger(__name__)

MONTHS_AHEAD = 3
PARTITION_NAME = re.compile(r"^executions_y(\d{4})m(\d{2})$")
LOCK_NOT_AVAILABLE = "55P03"


@dataclass
class Upkeep:
    created: list[str] = field(default_factory=list)  # partitions made now
    dropped: list[str] = field(default_factory=list)  # partitions dropped (whole months)
    deleted_runs: int = 0  # runs deleted (the old months', the default partition's, SQLite's)
    refused: list[str] = field(default_factory=list)  # months the default partition holds
    busy: list[str] = field(default_factory=list)  # emptied, not dropped: executions was busy


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


def months_ahead(session: Session, now: datetime) -> tuple[list[str], list[str]]:
    """Make this month's partition and the next MONTHS_AHEAD ones where missing: (made,
    refused: the default partition already holds rows of that month)."""
    existing = monthly_partitions(session)
    made: list[str] = []
    refused: list[str] = []
    for ahead in range(MONTHS_AHEAD + 1):
        month = add_months(month_start(now), ahead)
        name = partition_name(month)
        if name not in existing:
            (made if create_partition(session, month) else refused).append(name)
    return made, refused


def months_past(session: Session, cutoff: datetime) -> list[str]:
    """Our monthly partitions wholly before `cutoff`, oldest first."""
    months = monthly_partitions(session)
    return [
        name
        for name, month in sorted(months.items(), key=lambda item: item[1])
        if add_months(month, 1) <= cutoff
    ]


def delete_month(session: Session, name: str) -> int:
    """Delete the month's runs; their keys and children (steps, scores, approvals) cascade.
    Row locks only: run starts and reads of other months go on meanwhile."""
    _check_name(name)
    deleted = cast("CursorResult[Any]", session.execute(text(f"DELETE FROM {name}")))
    return deleted.rowcount


def detach_and_drop(session: Session, name: str, *, lock_timeout_ms: int) -> None:
    """Detach the (emptied) month and drop it. DETACH takes an ACCESS EXCLUSIVE lock on
    `executions` until the commit, so the caller commits right after; waiting longer than
    `lock_timeout_ms` for it raises (is_lock_timeout) instead of queueing every run start
    behind it. PostgreSQL checks that no run key still points into the month."""
    _check_name(name)
    session.execute(
        text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{int(lock_timeout_ms)}ms"}
    )
    session.execute(text(f"ALTER TABLE executions DETACH PARTITION {name}"))
    session.execute(text(f"DROP TABLE {name}"))


def delete_older_runs(session: Session, cutoff: datetime) -> int:
    """Row by row: one table (SQLite), or what is left in the default partition; the foreign
    keys (PostgreSQL: through execution_keys) take the children."""
    deleted = session.exec(delete(Execution).where(col(Execution.created_at) < cutoff))
    return deleted.rowcount


def is_lock_timeout(exc: DBAPIError) -> bool:
    """PostgreSQL gave up waiting for a lock (lock_timeout, SQLSTATE 55P03)."""
    return getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


def _check_name(name: str) -> None:
    if not PARTITION_NAME.match(name):
        raise ValueError(f"not a monthly partition of executions: {name!r}")
