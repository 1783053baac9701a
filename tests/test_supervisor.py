"""The supervisor's children: ended as whole process groups, dying with `up` however it dies,
holding the DATA_DIR lock until the last of them is gone; the frontend fingerprint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from agent_platform import supervisor
from agent_platform.settings import Settings
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parent.parent

# A child that starts a grandchild in its process group (as the web server starts its workers)
# and prints both pids; on SIGTERM it takes a while to stop (as a worker finishing a job).
CHILD = """
import signal, subprocess, sys, time
from agent_platform import lifeline
lifeline.watch()
def slow_exit(*_):
    time.sleep(1.5)  # sleep-ok: the behaviour under test, a child slow to stop
    sys.exit(0)
signal.signal(signal.SIGTERM, slow_exit)
# the grandchild only has to stay alive until it is killed
grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # sleep-ok:
print(grandchild.pid, flush=True)
time.sleep(600)  # sleep-ok: stays alive until killed
"""

# A stand-in for `up`: takes the DATA_DIR lock and starts one supervised child.
PARENT = """
import sys, time
from pathlib import Path
from agent_platform import supervisor
from agent_platform.settings import Settings
lock = supervisor.acquire_lock(Path(sys.argv[1]))
sup = supervisor.Supervisor(Settings(data_dir=Path(sys.argv[1])), lock)
child = sup._child("child", [sys.executable, "-c", sys.argv[2]])
child.start()
print(child.proc.pid, flush=True)
time.sleep(600)  # sleep-ok: stays alive until killed
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _lock_free(data_dir: Path) -> bool:
    try:
        supervisor.acquire_lock(data_dir).close()
    except supervisor.AlreadyRunning:
        return False
    return True


def _wait(predicate, timeout: float = 30.0) -> bool:
    try:
        return bool(wait_until(predicate, timeout))
    except AssertionError:
        return False


def test_children_die_with_a_killed_supervisor_and_hold_the_lock_until_gone(
    tmp_path: Path,
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path), CHILD],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    child, grandchild = int(parent.stdout.readline()), int(parent.stdout.readline())
    try:
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        # The child is still finishing (1.5 s): a second `up` must be refused meanwhile.
        assert _alive(child)
        with pytest.raises(supervisor.AlreadyRunning):
            supervisor.acquire_lock(tmp_path).close()
        assert _wait(lambda: not _alive(child) and not _alive(grandchild))
        # Every child gone: the lock is free. Waited for, not read once: a process whose main
        # thread has exited shows as a zombie while its other threads (the lifeline's) still
        # hold its files, so the lock outlives the zombie by a moment on a loaded machine.
        assert _wait(lambda: _lock_free(tmp_path), timeout=10)
    finally:
        for pid in (child, grandchild):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_dead_child_is_ended_as_a_whole_group(tmp_path: Path) -> None:
    """The web server killed alone used to leave its workers holding the port."""
    child = supervisor.Child(
        "web",
        [sys.executable, "-c", CHILD],
        dict(os.environ),
    )
    child.env["PYTHONPATH"] = str(ROOT)
    stdout = tmp_path / "out"
    child.argv = ["sh", "-c", f'exec "$0" "$@" > {stdout}', *child.argv]
    child.start()
    assert child.proc is not None
    assert _wait(lambda: stdout.exists() and stdout.read_text().strip() != "")
    grandchild = int(stdout.read_text())
    child.proc.send_signal(signal.SIGKILL)
    child.proc.wait(10)
    assert _alive(grandchild)  # what the old supervisor left behind
    child.end_group()
    assert _wait(lambda: not _alive(grandchild), 10)


def test_the_frontend_fingerprint_ignores_what_the_build_writes(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "home.py").write_text("x = 1\n")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "favicon.ico").write_bytes(b"icon")
    settings = Settings(data_dir=tmp_path)
    before = supervisor.frontend_fingerprint(settings, tmp_path)

    external = tmp_path / "assets" / "external" / "pages" / "flow"
    external.mkdir(parents=True)
    (external / "canvas.jsx").write_text("export const A = 1;\n")  # a build copies this
    assert supervisor.frontend_fingerprint(settings, tmp_path) == before

    (tmp_path / "pages" / "home.py").write_text("x = 2\n")
    assert supervisor.frontend_fingerprint(settings, tmp_path) != before
    (tmp_path / "assets" / "logo.svg").write_text("<svg/>")
    assert supervisor.frontend_fingerprint(settings, tmp_path) != before
