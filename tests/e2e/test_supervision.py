"""`up` as a supervisor: health, readiness, restarts, refusing a second copy, clean stop.

Runs after the browser journey (files run in name order) and ends by stopping the platform.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil

from tests.e2e.conftest import ROOT, RunningApp


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _children(app: RunningApp, word: str) -> list[psutil.Process]:
    return [p for p in psutil.Process(app.proc.pid).children() if word in " ".join(p.cmdline())]


def _wait(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


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


def test_sigterm_stops_every_child(app_server: RunningApp) -> None:
    tree = psutil.Process(app_server.proc.pid).children(recursive=True)
    assert len(tree) >= 3  # worker, scheduler, web (and Redis when bundled)
    app_server.proc.send_signal(signal.SIGTERM)
    assert app_server.proc.wait(40) == 0
    gone, alive = psutil.wait_procs(tree, timeout=20)
    assert alive == [], [p.cmdline() for p in alive]
    assert "stopped" in app_server.log()
