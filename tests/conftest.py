"""Test infrastructure: real PostgreSQL and Redis when they answer, embedded ones otherwise.

Every test starts from a clean database (all tables emptied, tier limits kept) and an empty
Redis database, so tests never depend on each other's order.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import ScriptedLLM
from tests.vault_server import bao, vault  # noqa: F401 - OpenBao fixtures (Vault secret store)

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")

# AP_TEST_PG_URL / AP_TEST_REDIS_PORT exist so a test can point a child pytest at a dead address
# and see the CI refusal below happen (tests/test_suite_rules.py).
PG_ADMIN_URL = os.environ.get("AP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_PORT = int(os.environ.get("AP_TEST_REDIS_PORT", "6379"))
ON_CI = os.environ.get("CI") == "true"
TEST_ROOT = Path(tempfile.mkdtemp(prefix="ap-tests-"))
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def postgres_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


def create_pg_database() -> str:
    import psycopg

    name = f"ap_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # name is ours, not user input
    return name


def drop_pg_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_url(name: str) -> str:
    """SQLAlchemy URL of database `name` on the test PostgreSQL server."""
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def require_postgres(why: str) -> None:
    """Skip a PostgreSQL-only test on a machine without PostgreSQL, but fail it on CI.

    A skip reports green; on CI PostgreSQL runs, so a skip there would hide the one path the
    test exists for (AP_TEST_EMBEDDED=1 is the deliberate exception).
    """
    if USE_PG:
        return
    if ON_CI and not FORCE_EMBEDDED:
        pytest.fail(f"CI=true and this test needs PostgreSQL: {why}")
    pytest.skip(f"PostgreSQL is not reachable ({why})")


# AP_TEST_EMBEDDED=1 runs the suite as on a machine without services (SQLite, bundled Redis).
FORCE_EMBEDDED = os.environ.get("AP_TEST_EMBEDDED") == "1"
USE_PG = not FORCE_EMBEDDED and postgres_available()
USE_REDIS = not FORCE_EMBEDDED and port_open("127.0.0.1", REDIS_PORT)
_pg_db: str | None = None
_redis_proc: subprocess.Popen[bytes] | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Point settings at the test services before any app module reads them."""
    global _pg_db, _redis_proc
    if ON_CI and not FORCE_EMBEDDED and not (USE_PG and USE_REDIS):
        # On CI machines PostgreSQL and Redis run: a silent fall-back to SQLite and the bundled
        # Redis would skip every PostgreSQL-only path and still report green.
        missing = [n for n, up in (("PostgreSQL", USE_PG), ("Redis", USE_REDIS)) if not up]
        raise pytest.UsageError(
            f"CI=true but {' and '.join(missing)} did not answer; "
            "set AP_TEST_EMBEDDED=1 to test the embedded defaults on purpose."
        )
    data_dir = TEST_ROOT / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DATA_DIR"] = str(data_dir)
    if USE_PG:
        _pg_db = create_pg_database()
        os.environ["DATABASE_URL"] = pg_url(_pg_db)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{data_dir / 'test.db'}"
    if USE_REDIS:
        # AP_TEST_REDIS_DB lets two suites share one Redis without flushing each other
        redis_db = os.environ.get("AP_TEST_REDIS_DB", "12")
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/{redis_db}"
    else:
        from agent_platform import embedded_redis

        sock = TEST_ROOT / "redis.sock"
        _redis_proc = embedded_redis.start(TEST_ROOT / "redis", sock)
        os.environ["REDIS_URL"] = f"unix://{sock}"
    from agent_platform.settings import get_settings

    get_settings.cache_clear()
    from agent_platform import migrations
    from agent_platform.db import get_engine

    migrations.upgrade()
    get_engine().dispose()


def pytest_unconfigure(config: pytest.Config) -> None:
    from agent_platform.db import reset_engine

    reset_engine()
    if _pg_db:
        drop_pg_database(_pg_db)
    if _redis_proc is not None:
        _redis_proc.terminate()
        _redis_proc.wait(10)


def pytest_report_header(config: pytest.Config) -> str:
    db = "PostgreSQL" if USE_PG else "SQLite (PostgreSQL not reachable)"
    rd = os.environ["REDIS_URL"] if USE_REDIS else "bundled Redis (Redis not reachable)"
    return f"agent-platform tests on {db}, {rd}"


KEEP_TABLES = {"tier_limits", "alembic_version"}


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    """Empty every table and the Redis test database before each test."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    import agent_platform.models  # noqa: F401
    from agent_platform.db import get_engine
    from agent_platform.redis_client import get_redis

    engine = get_engine()
    tables = [t.name for t in SQLModel.metadata.sorted_tables if t.name not in KEEP_TABLES]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for name in reversed(tables):
                conn.execute(text(f"DELETE FROM {name}"))
    get_redis().flushdb()
    yield


@pytest.fixture
def session() -> Iterator[object]:
    from sqlmodel import Session

    from agent_platform.db import get_engine

    with Session(get_engine(), expire_on_commit=False) as s:
        yield s


@pytest.fixture(scope="session")
def llm_server() -> Iterator[ScriptedLLM]:
    """One scripted OpenAI-compatible server for the whole run (starting one costs ~50 ms and
    a thread; tests only need it empty, which `llm` sees to)."""
    with ScriptedLLM() as server:
        yield server


@pytest.fixture
def llm(llm_server: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedLLM]:
    """The scripted model server, emptied, with its host 127.0.0.1 allow-listed for this test.

    A test module that needs other settings overrides `llm` by asking for `llm` itself and
    changing only what differs (see tests/services/test_private_hosts.py)."""
    from agent_platform.settings import get_settings

    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    llm_server.reset()
    yield llm_server
    get_settings.cache_clear()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
