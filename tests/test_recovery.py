"""Redis dies and comes back empty: queued and running runs recover without a person.

A real bundled Redis is SIGKILLed mid-run and replaced by an empty one on the same socket (a
crash that lost its data, as a flush or a Redis without persistence does). The agent worker,
the general worker and the scheduler are real processes; nothing is restarted by the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from rq import Worker

from agent_platform import embedded_redis
from agent_platform.models import ExecutionStatus
from agent_platform.redis_client import get_redis
from agent_platform.settings import get_settings
from agent_platform.worker import RECONCILER_BEAT, SCHEDULER_BEAT, last_beat
from services.runs import FINAL
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import make_agent, org_with_provider, start
from tests.test_agent_worker import status_of, wait_for

ROOT = Path(__file__).resolve().parent.parent


class Platform:
    """The bundled Redis on its own socket plus the three kinds of background process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "redis.sock"
        self.redis = embedded_redis.start(root / "redis-1", self.socket)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log = root / "processes.log"

    def spawn(self, *argv: str) -> None:
        with open(self.log, "ab") as log:
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "agent_platform", *argv],
                    cwd=ROOT,
                    env=dict(os.environ),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def crash_redis_losing_its_data(self) -> None:
        self.redis.send_signal(signal.SIGKILL)
        self.redis.wait(10)
        self.redis = embedded_redis.start(self.root / "redis-2", self.socket)

    def output(self) -> str:
        text = self.log.read_text(errors="replace")
        return "\n".join(line for line in text.splitlines() if "LiteLLM" not in line)[-4000:]

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.redis.kill()
        self.redis.wait(10)


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    short = Path(f"/tmp/ap-recovery-{os.getpid()}")  # a unix socket path must stay short
    short.mkdir(exist_ok=True)
    running = Platform(short)
    monkeypatch.setenv("REDIS_URL", f"unix://{running.socket}")
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    monkeypatch.setenv("RUN_LEASE_SECONDS", "2")
    get_settings.cache_clear()
    get_redis.cache_clear()
    try:
        yield running
    finally:
        running.stop()
        monkeypatch.undo()
        get_settings.cache_clear()
        get_redis.cache_clear()
        subprocess.run(["rm", "-rf", str(short)], check=False)


def test_queued_and_running_runs_recover_after_redis_crashes_empty(session, platform) -> None:
    with ScriptedLLM() as llm:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, timeout_seconds=60, first_token_timeout_seconds=30)
        llm.set_default(Turn(text="done", delay=3))
        platform.spawn("agent-worker", "--concurrency", "1")
        platform.spawn("worker")
        platform.spawn("scheduler", "--interval", "0.5")
        runs = [start(actor, agent_id, f"q{i}") for i in range(3)]
        assert wait_for(lambda: status_of(runs[0]) == ExecutionStatus.RUNNING, 60), (
            platform.output()
        )
        assert [status_of(r) for r in runs[1:]] == [ExecutionStatus.QUEUED] * 2

        crashed_at = time.time()
        platform.crash_redis_losing_its_data()  # the two queued jobs are gone with it

        finished = wait_for(lambda: all(status_of(r) in FINAL for r in runs), 90)
        statuses = [status_of(r) for r in runs]
        assert finished, (statuses, platform.output())
        assert statuses[1:] == [ExecutionStatus.SUCCEEDED] * 2, platform.output()
        assert statuses[0] in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED)
        # what /ready reads came back by itself too
        assert (last_beat(RECONCILER_BEAT) or 0) > crashed_at
        assert (last_beat(SCHEDULER_BEAT) or 0) > crashed_at
        assert wait_for(lambda: len(Worker.all(connection=get_redis())) == 2, 30)
