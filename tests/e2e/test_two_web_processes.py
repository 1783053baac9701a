"""Two web processes behind one URL, sharing page state through Redis (REFLEX_REDIS_URL).

A browser signs up and narrows the runs list through process A; then A is stopped and the
proxy in front sends the tab's reconnecting websocket to process B. The next events are
handled by B, and B knows what A knew: the tab is still signed in and the status filter
picked on A (a server-side page var that no browser storage carries) is still applied. A
reconnect rehydrates the state from the server, so with state kept per process (Reflex's
memory or disk store; each process here has its own disk, as two machines would) B answers
with the defaults and the filter shows "all": checked, the test then fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_platform import embedded_redis
from tests.conftest import USE_PG, create_pg_database, drop_pg_database, pg_url
from tests.e2e.conftest import free_port
from tests.e2e.journeys import sign_up
from tests.e2e.tcp_switch import SwitchingProxy

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class WebProcess:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@dataclass
class TwoWebs:
    proxy: SwitchingProxy
    a: WebProcess
    b: WebProcess

    @property
    def url(self) -> str:
        return f"http://localhost:{self.proxy.port}"


def _run(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent_platform", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-4000:]


def _wait_alive(web: WebProcess, timeout: float = 120) -> None:
    """/health, not /ready: no worker or scheduler runs here, and none is needed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if web.proc.poll() is not None:
            pytest.fail(f"web {web.name} exited with {web.proc.returncode}:\n{web.log()[-4000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{web.port}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)  # sleep-ok: poll step of a loop bounded by a deadline
    pytest.fail(f"web {web.name} not ready in {timeout:.0f} s:\n{web.log()[-4000:]}")


@pytest.fixture(scope="module")
def two_webs() -> Iterator[TwoWebs]:
    data_dir = Path(tempfile.mkdtemp(prefix="ap-e2e-two-webs-"))
    proxy = SwitchingProxy(target_port=0)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATA_DIR=str(data_dir), BASE_URL=f"http://localhost:{proxy.port}")
    pg_db = None
    if USE_PG:
        pg_db = create_pg_database()
        env["DATABASE_URL"] = pg_url(pg_db)
    # A Redis of its own (the bundled server): the other browser tests' app uses the shared
    # e2e database on 6379, and flushing that under it broke the tests that ran after this one.
    sock = data_dir / "redis.sock"
    redis_proc = embedded_redis.start(data_dir / "redis", sock)
    env["REDIS_URL"] = f"unix://{sock}"
    # The build below writes the one frontend of this checkout, with the proxy's URL in it; the
    # other browser tests' app serves that directory, so it is put back afterwards.
    built = ROOT / ".web" / "build" / "client"
    saved = data_dir / "client-before"
    if built.is_dir():
        shutil.copytree(built, saved, symlinks=True)
    # What a deployment of several web processes sets (README "Several web processes").
    env["REFLEX_REDIS_URL"] = env["REDIS_URL"]
    webs: list[WebProcess] = []
    try:
        _run(env, "migrate")
        _run(env, "build")  # the frontend, with the proxy's URL as its base
        for name in ("a", "b"):
            port = free_port()
            log_path = data_dir / f"web-{name}.log"
            states = data_dir / f"states-{name}"
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "agent_platform", "web"],
                    cwd=ROOT,
                    # Each its own disk for Reflex's fallback store, as on two machines: in
                    # one working directory they would share `.states/` without Redis.
                    env={**env, "PORT": str(port), "REFLEX_STATES_WORKDIR": str(states)},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            webs.append(WebProcess(name, port, proc, log_path))
        for web in webs:
            _wait_alive(web)
        proxy.switch(webs[0].port)
        yield TwoWebs(proxy, webs[0], webs[1])
    finally:
        proxy.close()
        for web in webs:
            web.stop()
            artifacts = ROOT / "test-artifacts"
            artifacts.mkdir(exist_ok=True)
            shutil.copy(web.log_path, artifacts / f"e2e-two-webs-{web.name}.log")
        if saved.is_dir():
            shutil.rmtree(built, ignore_errors=True)
            shutil.copytree(saved, built, symlinks=True)
        redis_proc.terminate()
        redis_proc.wait(10)
        if pg_db:
            drop_pg_database(pg_db)
        shutil.rmtree(data_dir, ignore_errors=True)


def _pick(page, trigger: str, option: str) -> None:
    page.click(trigger)
    page.get_by_role("option", name=option, exact=True).click()


def test_a_tab_moves_to_the_other_web_process_with_its_state(
    two_webs: TwoWebs, browser, artifacts
) -> None:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    sign_up(page, two_webs.url, name="Wendy Webs", email="wendy@example.com")
    page.click("#nav-runs")
    _pick(page, "#status-filter", "failed")
    expect(page.locator("#status-filter")).to_have_text("failed", timeout=20_000)
    expect(page.get_by_text("No runs match")).to_be_visible(timeout=20_000)
    assert two_webs.proxy.connections[two_webs.b.port] == 0  # so far A served everything

    # A goes away; the tab's websocket reconnects through the proxy and lands on B.
    two_webs.a.stop()
    two_webs.proxy.switch(two_webs.b.port)
    two_webs.proxy.drop()

    # An event B handles: picking a time range reloads the list with the filters in the state.
    _pick(page, "#range-filter", "30d")
    expect(page.locator("#range-filter")).to_have_text("30d", timeout=20_000)
    assert two_webs.proxy.connections[two_webs.b.port] >= 1
    # The reconnect rehydrated the page from B: still signed in, still filtered by "failed".
    expect(page.locator("#current-user-name")).to_have_text("Wendy Webs", timeout=20_000)
    expect(page.locator("#status-filter")).to_have_text("failed")
    page.screenshot(path=str(artifacts / "two-webs-01-on-b.png"), full_page=True)

    # A full page load on B alone: the session and the page state are both still there.
    page.reload()
    expect(page.locator("#current-user-name")).to_have_text("Wendy Webs", timeout=20_000)
    expect(page.locator("#status-filter")).to_have_text("failed", timeout=20_000)
    expect(page.locator("#range-filter")).to_have_text("30d")
    assert errors == [], errors
    assert "Traceback" not in two_webs.b.log(), two_webs.b.log()[-4000:]
    ctx.close()
