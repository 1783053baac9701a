"""`up`: run every part of the platform as supervised child processes.

Order matters: migrations, then Redis, then workers and scheduler, then the web server, so
the web app never serves a request against a missing table or queue. A child that dies is
reported and restarted with back-off; SIGINT/SIGTERM stop every child, Redis last.

Each child runs in its own process group, and a child is always ended as a group: a web
server killed alone used to leave its worker processes serving the port, so the restarted
one could not bind it. Children die with the supervisor and hold the DATA_DIR lock with it
(`agent_platform.lifeline`), so a second `up` never runs beside the remains of a first.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from agent_platform import embedded_redis, lifeline
from agent_platform.db import private_dir
from agent_platform.observability import metrics
from agent_platform.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("agent_platform.up")


class AlreadyRunning(RuntimeError):
    pass


def acquire_lock(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock on DATA_DIR for the life of this process."""
    private_dir(data_dir)  # 0700: the database, the secret key and the Redis socket live here
    handle = open(data_dir / "up.lock", "a+")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        raise AlreadyRunning(
            f"The platform is already running on DATA_DIR={data_dir.resolve()} (started by pid "
            f"{pid}; its processes may still be stopping); stop it first or use another DATA_DIR."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.update(
        DATA_DIR=str(settings.data_dir.resolve()),
        PORT=str(settings.port),
        REDIS_URL=settings.resolved_redis_url,
        DATABASE_URL=settings.resolved_database_url,
        REFLEX_USE_NPM="1",
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_CHECK_LATEST_VERSION="false",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        PYTHONUNBUFFERED="1",
    )
    # Before any child imports prometheus-client: it picks multiprocess mode at import.
    env.setdefault(metrics.MULTIPROC_ENV, str(metrics_dir(settings)))
    env["METRICS_PORT"] = "0"  # the web process serves them all; children would clash
    return env


def metrics_dir(settings: Settings) -> Path:
    return (settings.data_dir / "metrics").resolve()


FRONTEND_SOURCES = ("pages", "state", "assets", "rxconfig.py", "agent_platform/agent_platform.py")
# What a build writes inside the sources: Reflex copies every `rx.asset(..., shared=True)` file
# into assets/external/ (their originals under pages/ are fingerprinted already). Counting it
# made the first restart after install rebuild the frontend for nothing.
BUILD_OUTPUTS = (Path("assets") / "external",)


def frontend_fingerprint(settings: Settings, root: Path = ROOT) -> str:
    digest = hashlib.sha256(settings.resolved_base_url.encode())
    outputs = [root / out for out in BUILD_OUTPUTS]
    for name in FRONTEND_SOURCES:
        path = root / name
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if not file.is_file() or "__pycache__" in file.parts:
                continue
            if any(file.is_relative_to(out) for out in outputs):
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def build_frontend(settings: Settings, *, force: bool = False) -> None:
    """Build the static frontend once; rebuild only when its sources or base URL changed."""
    marker = ROOT / ".web" / "build" / "client" / ".ap-fingerprint"
    fingerprint = frontend_fingerprint(settings)
    if not force and marker.exists() and marker.read_text() == fingerprint:
        log.info("frontend is up to date")
        return
    log.info("building the frontend (first start or code changed; about a minute)")
    start = time.monotonic()
    env = child_env(settings)
    # The build imports the app but serves nothing: no metrics files (their directory may
    # not exist yet; the supervisor prepares it when it starts the processes that count).
    env.pop(metrics.MULTIPROC_ENV, None)
    result = subprocess.run(
        [sys.executable, "-m", "reflex", "export", "--frontend-only", "--no-zip", "--env", "prod"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:])
        raise RuntimeError("frontend build failed (output above)")
    marker.write_text(fingerprint)
    log.info("frontend built in %.0f s", time.monotonic() - start)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)
    # Inherited by the child: the DATA_DIR lock and the lifeline's read end.
    keep_fds: tuple[int, ...] = ()

    def start(self) -> None:
        parent = os.getpid()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            start_new_session=True,  # its own process group, ended as a whole
            pass_fds=self.keep_fds,
            preexec_fn=lambda: lifeline.die_with_parent(parent),
        )
        self.started_at = time.monotonic()
        log.info("started %s (pid %d)", self.name, self.proc.pid)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s; killing it", self.name, timeout)
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.end_group()

    def end_group(self, grace: float = 5.0) -> None:
        """End whatever is left of the child's process group after its leader exited (a web
        server's workers outlive it and keep the port): SIGTERM, then SIGKILL after `grace`."""
        if self.proc is None:
            return
        group = self.proc.pid
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            return  # nothing left
        log.warning("%s left processes behind; ending them", self.name)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Supervisor:
    def __init__(self, settings: Settings, lock: IO[str] | None = None) -> None:
        self.settings = settings
        self.children: list[Child] = []
        self.redis: Child | None = None
        self.stopping = False
        # The supervisor keeps the only write end: its death, however it comes, is EOF.
        read_end, self._lifeline = os.pipe()
        self.keep_fds = (read_end,) + ((lock.fileno(),) if lock is not None else ())
        self.env = {**child_env(settings), lifeline.ENV: str(read_end)}

    def _child(self, name: str, argv: list[str]) -> Child:
        return Child(name, argv, self.env, keep_fds=self.keep_fds)

    def plan(self) -> None:
        py = sys.executable
        s = self.settings
        if not s.redis_url:
            sock = s.bundled_redis_socket
            self.redis = self._child("redis", embedded_redis.command(s.data_dir, sock))
        for i in range(s.worker_processes):
            self.children.append(
                self._child(f"worker-{i + 1}", [py, "-m", "agent_platform", "worker"])
            )
        for i in range(s.agent_worker_processes):
            argv = [py, "-m", "agent_platform", "agent-worker"]
            self.children.append(self._child(f"agent-worker-{i + 1}", argv))
        self.children.append(self._child("scheduler", [py, "-m", "agent_platform", "scheduler"]))
        self.children.append(self._child("web", [py, "-m", "agent_platform", "web"]))

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        metrics.prepare_multiprocess_dir(Path(self.env[metrics.MULTIPROC_ENV]))
        if self.redis is not None:
            self.settings.bundled_redis_socket.unlink(missing_ok=True)
            self.redis.start()
            embedded_redis.wait_ready(self.settings.resolved_redis_url, 15, self.redis.proc)
        for child in self.children:
            child.start()
        announced = False
        try:
            while not self.stopping:
                time.sleep(0.5)
                if not announced and self._healthy():
                    announced = True
                    url = self.settings.resolved_base_url
                    print(f"\n  Agent Platform is up: {url}  (Ctrl-C to stop)\n", flush=True)
                    _open_browser(url)
                for child in ([self.redis] if self.redis else []) + self.children:
                    self._watch(child)
        finally:
            self.shutdown()
        return 0

    def _watch(self, child: Child) -> None:
        if child.proc is None:
            if time.monotonic() >= child.next_start and not self.stopping:
                child.start()
            return
        code = child.proc.poll()
        if code is None or self.stopping:
            return
        child.restarts += 1
        delay = (
            min(30.0, 2 ** min(child.restarts, 5))
            if time.monotonic() - child.started_at < 30
            else 1.0
        )
        log.error("%s exited with code %s; restarting in %.0f s", child.name, code, delay)
        child.end_group()  # its own children would otherwise outlive it (and hold the port)
        metrics.fold_dead_process(
            child.proc.pid, into="folded-supervisor", directory=self.env[metrics.MULTIPROC_ENV]
        )
        child.proc = None
        child.next_start = time.monotonic() + delay

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.settings.port}/health", timeout=1
            ) as r:
                status: int = r.status
                return status == 200
        except OSError:
            return False

    def shutdown(self) -> None:
        log.info("stopping")
        for child in reversed(self.children):
            child.stop()
        if self.redis is not None:
            self.redis.stop()
        log.info("stopped")


def _open_browser(url: str) -> None:
    if os.environ.get("DISPLAY") or sys.platform == "darwin":
        import webbrowser

        webbrowser.open(url)
