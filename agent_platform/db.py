"""The one place that creates database engines and sessions.

Services never commit; whoever opens `session_scope()` owns the transaction and it commits
once on success (rolls back on error), so a failure never leaves a half-written record.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from agent_platform.settings import get_settings

logger = logging.getLogger(__name__)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def private_dir(path: Path) -> None:
    """Create `path` readable by this user only (0700), and tighten it if it already exists:
    DATA_DIR holds the database, the secret store's key and the Redis socket."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path, 0o700)


def private_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would use the umask, often 0644),
    and tighten an existing one; its -wal and -shm files take the same mode from it."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if file.exists():
            _tighten(file, 0o600)


def _tighten(path: Path, mode: int) -> None:
    """chmod what this user owns; a directory someone else owns (a mounted volume) is theirs
    to set, and refusing to start over it would help no one."""
    if path.stat().st_uid != os.getuid():
        logger.warning("%s is not owned by this user; leaving its mode as it is", path)
        return
    os.chmod(path, mode)


@functools.cache
def get_engine() -> Engine:
    settings = get_settings()
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        private_dir(settings.data_dir)
        private_sqlite_file(url)
    return make_engine(url)


def reset_engine() -> None:
    """Forget the cached engine (tests and forked processes need a fresh pool)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: commit at the end, roll back on any error, then run the matching hooks.

    An error carrying `audit` (services.errors.DomainError) still leaves that one audit entry:
    the caller's work is rolled back first, so a half-done change is never committed with it.
    """
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException as exc:
        _finish_failed(session, exc)
        raise
    finally:
        session.close()
    session.info.pop("after_rollback", None)
    for hook in session.info.pop("after_commit", []):
        hook()


def _finish_failed(session: Session, exc: BaseException) -> None:
    """Roll back (or, for an audited refusal, commit) and write the error's audit entry."""
    audit = getattr(exc, "audit", None)
    keep = bool(getattr(exc, "keep_changes", False))
    session.info.pop("after_commit", None)
    if keep:  # an audited refusal (services.errors): its own entries are the changes
        try:
            if audit:
                add_audit_entry(session, audit)
            session.commit()
            session.info.pop("after_rollback", None)
            return
        except Exception:  # noqa: BLE001 - the original error is what the caller must see
            logger.exception("could not commit the audit entries of a refusal")
    session.rollback()
    _run_rollback_hooks(session)
    if audit and not keep:
        try:
            add_audit_entry(session, audit)
            session.commit()
        except Exception:  # noqa: BLE001 - the original error is what the caller must see
            session.rollback()
            logger.exception("could not write the audit entry %r", audit.get("action"))


def add_audit_entry(session: Session, audit: Mapping[str, Any]) -> None:
    """Add the AuditEntry of an error's `audit` payload (services.errors.AuditPayload).

    An org or user that vanished with the rollback is dropped from the foreign key (its id
    stays in the details), so the entry can still be written."""
    from agent_platform.models import AuditEntry, Organization, User

    org_id, actor_id = audit.get("org_id"), audit.get("actor_id")
    details = dict(audit.get("details") or {})
    if org_id is not None and session.get(Organization, org_id) is None:
        details.setdefault("org_id", str(org_id))
        org_id = None
    if actor_id is not None and session.get(User, actor_id) is None:
        details.setdefault("actor_id", str(actor_id))
        actor_id = None
    session.add(
        AuditEntry(
            org_id=org_id,
            actor_id=actor_id,
            action=audit["action"],
            details={k: v for k, v in details.items() if v is not None},
        )
    )


def _run_rollback_hooks(session: Session) -> None:
    """Undo what a transaction did outside the database (e.g. a Vault write); a failing hook
    is logged and the others still run, so the caller still sees its original error."""
    for hook in reversed(session.info.pop("after_rollback", [])):
        try:
            hook()
        except Exception:  # noqa: BLE001 - see docstring
            logger.exception("an after-rollback hook failed")


def after_commit(session: Session, hook: Callable[[], None]) -> None:
    """Run `hook` only once this session's transaction has committed (e.g. enqueue a job)."""
    session.info.setdefault("after_commit", []).append(hook)


def after_rollback(session: Session, hook: Callable[[], None]) -> None:
    """Run `hook` only if this session's transaction rolls back (e.g. delete a Vault secret it
    wrote), so work done outside the database does not outlive the transaction that did it.
    Hooks run newest first (undo order); only a `session_scope()` runs them, like
    `after_commit`."""
    session.info.setdefault("after_rollback", []).append(hook)
