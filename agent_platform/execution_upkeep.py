"""RQ job (daily): the runs table's upkeep (services.execution_retention), a step per
transaction so the runs table is never locked for long.

1. this month's and the next months' partitions made where missing;
2. per month past EXECUTION_RETENTION_MONTHS, oldest first: its runs deleted (row locks; their
   keys, steps, scores and approvals cascade), committed; then, in a transaction of its own,
   the emptied month detached and dropped. DETACH holds an ACCESS EXCLUSIVE lock on
   `executions` until that commit, and waits at most DETACH_LOCK_TIMEOUT_MS for it: a busy
   table makes the job skip the remaining drops (the next day's pass does them) instead of
   queueing every run start behind the DETACH;
3. older runs left elsewhere (SQLite, the default partition) deleted row by row.

A failure in one step leaves the months already done dropped.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import DBAPIError

from agent_platform.db import session_scope
from services import execution_retention as retention

log = logging.getLogger(__name__)

DETACH_LOCK_TIMEOUT_MS = 5000


def upkeep_executions(
    *, now: datetime, retention_months: int, lock_timeout_ms: int = DETACH_LOCK_TIMEOUT_MS
) -> retention.Upkeep:
    upkeep = retention.Upkeep()
    cutoff = retention.retention_cutoff(now, retention_months)
    with session_scope() as session:
        partitioned = retention.is_partitioned(session)
        if partitioned:
            upkeep.created, upkeep.refused = retention.months_ahead(session, now)
    if partitioned and cutoff is not None:
        with session_scope() as session:
            old_months = retention.months_past(session, cutoff)
        for name in old_months:
            with session_scope() as session:
                upkeep.deleted_runs += retention.delete_month(session, name)
            try:
                with session_scope() as session:
                    retention.detach_and_drop(session, name, lock_timeout_ms=lock_timeout_ms)
            except DBAPIError as exc:
                if not retention.is_lock_timeout(exc):
                    raise
                log.warning("runs table busy: %s emptied, dropped on the next pass", name)
                upkeep.busy.append(name)
                break
            upkeep.dropped.append(name)
    if cutoff is not None:
        with session_scope() as session:
            upkeep.deleted_runs += retention.delete_older_runs(session, cutoff)
    return upkeep
