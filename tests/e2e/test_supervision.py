"""`up` as a supervisor: health, readiness, restarts, refusing a second copy, clean stop,
and what is left after a SIGKILL (of the web server, of `up` itself).

Runs after the browser journey (files run in name order) and ends by stopping the platform;
the last test then starts `up` twice more on the same port (the frontend is not rebuilt).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from tests.e2e.conftest import ROOT, RunningApp
from tests.waiting import wait_until


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _children(app: RunningApp, word: str) -> list[psutil.Process]:
    return [p for p in psutil.Process(app.proc.pid).children() if word in " ".join(p.cmdline())]


def _wait(predicate, timeout: float = 60.0) -> bool:
    try:
        return bool(wait_until(predicate, timeout))
    except AssertionError:
        return False


def _started_or_gone(proc: subprocess.Popen[bytes], lock: Path) -> None:
    """Wait until `proc` holds the DATA_DIR lock or has exited."""
    wait_until(
        lambda: proc.poll() is not None or lock.read_text() == str(proc.pid),
        120,
        what="the second `up` took the lock or exited",
    )


def test_health_and_ready_answer_json(app_server: RunningApp) -> None:
    assert _get(app_server.url + "/health")[0] == 200
    status, body = _get(app_server.url + "/ready")
    assert status == 200 and body["status"] == "ready", body
    assert body["checks"]["workers"]["detail"].endswith("workers")


def test_a_killed_worker_is_reported_and_restarted(app_server: RunningApp) -> None:
    (worker,) = _children(app_server, "agent_platform worker")
    worker.kill()
    assert _wait(lambda: "worker-1 exited with code" in app_server.log()), app_server.log()[-2000:]
    assert _wait(
        lambda: (
            [p.pid for p in _children(app_server, "agent_platform worker")]
            not in ([], [worker.pid])
        )
    )
    assert _wait(lambda: _get(app_server.url + "/ready")[0] == 200)


def test_second_up_on_the_same_data_dir_refuses(app_server: RunningApp) -> None:
    env = dict(os.environ, DATA_DIR=str(app_server.data_dir))
    result = subprocess.run(
        [sys.executable, "-m", "agent_platform", "up", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "already running on DATA_DIR" in result.stderr


def _listeners(port: int) -> set[int]:
    """Every process with a listening socket on `port` (shared sockets count per process)."""
    pids = set()
    for proc in psutil.process_iter():
        try:
            sockets = proc.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in sockets):
            pids.add(proc.pid)
    return pids


def _group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_a_killed_web_server_leaves_one_listener_after_restart(app_server: RunningApp) -> None:
    port = urlsplit(app_server.url).port
    assert port is not None
    (web,) = _children(app_server, "agent_platform web")
    old = _listeners(port)
    assert old and all(_group(pid) == web.pid for pid in old)  # the web server's own group
    web.kill()
    assert _wait(lambda: "web exited with code" in app_server.log()), app_server.log()[-2000:]
    restarted = lambda: [p.pid for p in _children(app_server, "agent_platform web")]  # noqa: E731
    assert _wait(lambda: restarted() not in ([], [web.pid]))
    assert _wait(lambda: _ready(app_server.url), 120), app_server.log()[-3000:]
    (new_web,) = _children(app_server, "agent_platform web")
    now = _listeners(port)
    assert now and not (now & old), (old, now)
    assert {_group(pid) for pid in now} == {new_web.pid}  # one server: the restarted one


def test_sigterm_stops_every_child(app_server: RunningApp) -> None:
    tree = psutil.Process(app_server.proc.pid).children(recursive=True)
    assert len(tree) >= 3  # worker, scheduler, web (and Redis when bundled)
    app_server.proc.send_signal(signal.SIGTERM)
    assert app_server.proc.wait(40) == 0
    gone, alive = psutil.wait_procs(tree, timeout=20)
    assert alive == [], [p.cmdline() for p in alive]
    assert "stopped" in app_server.log()


def _up(port: int, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    """`up` on SQLite and the bundled Redis (both children of its own)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATA_DIR=str(data_dir), PORT=str(port), WORKER_PROCESSES="1")
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "agent_platform", "up", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _ready(url: str) -> bool:
    try:
        return _get(url + "/ready")[0] == 200
    except OSError:
        return False


def test_a_killed_supervisor_takes_its_children_and_a_second_up_starts_clean(
    app_server: RunningApp,
) -> None:
    """Runs after the platform above stopped: same port, so the same built frontend."""
    assert app_server.proc.poll() is not None
    port = urlsplit(app_server.url).port
    assert port is not None
    data_dir = Path(tempfile.mkdtemp(prefix="ap-e2e-kill-"))
    log = data_dir / "up.log"
    first = _up(port, data_dir, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        assert _wait(lambda: _ready(app_server.url), 300), log.read_text()[-4000:]
        tree = psutil.Process(first.pid).children(recursive=True)
        assert len(tree) >= 5  # redis, worker, agent worker, scheduler, web (+ its workers)
        first.send_signal(signal.SIGKILL)
        first.wait(10)

        # A second `up` at once is refused while any child of the first lives...
        second = _up(port, data_dir, log)
        _started_or_gone(second, data_dir / "up.lock")
        if second.poll() is not None:
            assert second.returncode == 1 and "already running on DATA_DIR" in log.read_text()
            _gone, alive = psutil.wait_procs(tree, timeout=30)
            assert alive == [], [p.cmdline() for p in alive]  # ...and they all die by themselves
            second = _up(port, data_dir, log)
            _started_or_gone(second, data_dir / "up.lock")
        # ...and from the moment one holds the lock, nothing of the first is running.
        assert second.poll() is None, log.read_text()[-4000:]
        assert not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert _wait(lambda: _ready(app_server.url), 300), log.read_text()[-4000:]
        # both starts found the frontend built (the build no longer changes its fingerprint)
        assert "building the frontend" not in log.read_text()
        assert log.read_text().count("frontend is up to date") == 2
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(40)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        shutil.copy(log, ROOT / "test-artifacts" / "e2e-up-killed.log")
        shutil.rmtree(data_dir, ignore_errors=True)
