"""The one place that creates database engines and sessions.

Services never commit; whoever opens `session_scope()` owns the transaction and it commits
once on success (rolls back on error), so a failure never leaves a half-written record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from agent_platform.settings import get_settings


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


@functools.cache
def get_engine() -> Engine:
    settings = get_settings()
    if settings.resolved_database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.resolved_database_url)


def reset_engine() -> None:
    """Forget the cached engine (tests and forked processes need a fresh pool)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: commit at the end, roll back on any error, then run after-commit hooks."""
    session = Session(get_engine(), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException as exc:
        if getattr(exc, "keep_changes", False):  # an audited refusal (services.errors)
            session.commit()
        else:
            session.rollback()
        session.info.pop("after_commit", None)
        raise
    finally:
        session.close()
    for hook in session.info.pop("after_commit", []):
        hook()


def after_commit(session: Session, hook: Callable[[], None]) -> None:
    """Run `hook` only once this session's transaction has committed (e.g. enqueue a job)."""
    session.info.setdefault("after_commit", []).append(hook)
