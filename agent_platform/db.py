"""The one place that creates database engines and sessions.

Services never commit; whoever opens `session_scope()` owns the transaction and it commits
once on success (rolls back on error), so a failure never leaves a half-written record.

Who opens a transaction: the entry points only — a state handler, an API route, a job
wrapper (agent_platform/worker.py, run_worker.py). A service that must reach the database
more than once from async code (the agent runtime saving steps as a run goes, a tool, the
integration proxy around a provider call, following a run) receives a `Transaction` from its
entry point and opens it where it needs a boundary; it never imports `session_scope`. So the
caller decides what a transaction is (tests and a future request-scoped session can pass
their own), and tests/test_import_structure.py can check that no service commits.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection
from sqlmodel import Session, create_engine

from agent_platform.settings import get_settings

logger = logging.getLogger(__name__)

Transaction = Callable[[], AbstractContextManager[Session]]
"""Opens one transaction (`session_scope` itself, handed down by an entry point)."""


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # An agent worker runs its database work on threads (one per transaction in flight); with
    # 5 kept, every burst above 5 opened a connection per transaction and closed it again (a
    # PostgreSQL backend forked each time: 4 % of the worker's CPU at 90 runs/s). Hence 10 + 10
    # by default; DB_POOL_SIZE/DB_POOL_OVERFLOW fit them to the server's max_connections.
    settings = get_settings()
    engine = create_engine(
        url, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_overflow
    )
    _ping_idle_connections(engine)
    return engine


# A pooled connection idle longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """SQLAlchemy's `pool_pre_ping`, for connections that sat idle only.

    Why not `pool_pre_ping`: it pings on every checkout, a round trip per transaction (5 % of
    an agent worker's CPU, and the server's, at 130 runs/s), though a connection returned a
    moment ago is as alive as it was then. A connection idle for a second or more (the server
    may have restarted or dropped it meanwhile) is pinged first; if dead, every connection of
    the pool as old as it is dropped and the checkout retried with a new one (what
    `pool_pre_ping` does: InvalidatePoolError). One that broke within the last second fails
    its statement, and SQLAlchemy then drops the pool's connections the same way."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _taken(
        dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return  # new, or back in the pool a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.InvalidatePoolError(str(error)) from error
        if not alive:
            raise exc.InvalidatePoolError("the database closed this connection")


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
        _run_commit_hook(hook)


def _run_commit_hook(hook: Callable[[], None]) -> None:
    """Run one after-commit hook. Its failure cannot undo the commit: one carrying an audit
    payload (a Vault purge that failed) is recorded in its own transaction and the caller's
    work stands; any other failure reaches the caller as before."""
    try:
        hook()
    except Exception as exc:
        audit = getattr(exc, "audit", None)
        if not audit:
            raise
        session = Session(get_engine(), expire_on_commit=False)
        try:
            _write_audit(session, audit)
        finally:
            session.close()


def _finish_failed(session: Session, exc: BaseException) -> None:
    """Roll back, undo the outside work, then write the error's audit entry (if any).

    The one way an entry outlives a failure — a refused sign-in, an integration call outside
    its grant, a sealed Vault: the error carries the entry (`services.errors.AuditPayload`),
    never a half-done change of the caller's, which rolls back first."""
    audit = getattr(exc, "audit", None)
    session.info.pop("after_commit", None)
    session.rollback()
    _run_rollback_hooks(session)
    if audit:
        _write_audit(session, audit)


def _write_audit(session: Session, audit: Mapping[str, Any]) -> None:
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
    target_id = audit.get("target_id")
    session.add(
        AuditEntry(
            org_id=org_id,
            actor_id=actor_id,
            action=audit["action"],
            target_type=audit.get("target_type"),
            target_id=str(target_id) if target_id is not None else None,
            client_ip=audit.get("client_ip"),
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
