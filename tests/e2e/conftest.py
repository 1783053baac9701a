"""Start the platform exactly as a user does (`python -m agent_platform up`) for browser tests."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import USE_PG, USE_REDIS, create_pg_database, drop_pg_database, pg_url
from tests.fakes.openai_server import ScriptedLLM

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningApp:
    url: str
    log_path: Path
    data_dir: Path
    proc: subprocess.Popen[bytes]
    env: dict[str, str] = field(default_factory=dict)  # the platform's environment (its DB)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


GITHUB_CLIENT = ("e2e-github-client", "e2e-github-secret")


@pytest.fixture(scope="session")
def fake_github() -> Iterator[object]:
    """A fake GitHub (OAuth + REST) the app is configured with, for the OAuth browser flow."""
    from tests.fakes.github import FakeGitHub

    with FakeGitHub(*GITHUB_CLIENT) as server:
        yield server


@pytest.fixture(scope="session")
def app_server(fake_github) -> Iterator[RunningApp]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: install Debian's package `chromium` (see README).")
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="ap-e2e-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    # The scripted model server of the browser tests listens on 127.0.0.1: allow-list it.
    env.update(
        DATA_DIR=str(data_dir),
        PORT=str(port),
        WORKER_PROCESSES="1",
        OUTBOUND_ALLOW_HOSTS="127.0.0.1",
        OAUTH_GITHUB_CLIENT_ID=GITHUB_CLIENT[0],
        OAUTH_GITHUB_CLIENT_SECRET=GITHUB_CLIENT[1],
        OAUTH_GITHUB_BASE_URL=fake_github.base_url,
    )
    pg_db = None
    if USE_PG:
        pg_db = create_pg_database()
        env["DATABASE_URL"] = pg_url(pg_db)
    if USE_REDIS:
        env["REDIS_URL"] = f"redis://127.0.0.1:6379/{os.environ.get('AP_E2E_REDIS_DB', '11')}"
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    log_path = data_dir / "up.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent_platform", "up", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    app = RunningApp(f"http://localhost:{port}", log_path, data_dir, proc, env)
    try:
        _wait_ready(app, timeout=600)
        yield app
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        artifacts = ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        shutil.copy(log_path, artifacts / "e2e-up.log")
        if pg_db:
            drop_pg_database(pg_db)
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_ready(app: RunningApp, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.proc.poll() is not None:
            pytest.fail(f"`up` exited with {app.proc.returncode}:\n{app.log()[-4000:]}")
        try:
            with urllib.request.urlopen(app.url + "/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)  # sleep-ok: poll step of a loop bounded by a deadline
    pytest.fail(f"platform not ready in {timeout:.0f} s:\n{app.log()[-4000:]}")


@pytest.fixture(scope="module")
def llm(llm_server: ScriptedLLM) -> ScriptedLLM:
    """The run's one scripted model server (tests/conftest.py), emptied for each module. The
    platform runs in its own process, so its allow-list (OUTBOUND_ALLOW_HOSTS=127.0.0.1 above)
    is what lets it reach the server, not the test's settings."""
    llm_server.reset()
    return llm_server


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Per module: Playwright's sync API keeps an event loop running in this thread while it is
    open, and later tests that call asyncio.run() must not find it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The supervision tests stop the shared platform on purpose (they kill its children and
    then `up` itself): they run after every other browser test, whatever the file names."""
    last = [item for item in items if "tests/e2e/test_supervision.py" in item.nodeid]
    rest = [item for item in items if item not in last]
    browser = [i for i, item in enumerate(rest) if "tests/e2e/" in item.nodeid]
    cut = browser[-1] + 1 if browser else len(rest)  # right after the other browser tests
    items[:] = rest[:cut] + last + rest[cut:]
