"""A live API for tests that stream: the app served over real HTTP (uvicorn in a thread) and a
real agent worker process executing the runs it starts.

Why not TestClient alone: it hands back a response only once the app has finished it, so it
cannot show that events arrive while a run is still going, and nothing would execute the runs.
Both fixtures are per module (the worker's imports take seconds); every test still gets an
empty database and Redis from conftest's `clean_state`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from rq import Queue, Worker
from sqlmodel import Session

from agent_platform.api import create_api
from agent_platform.redis_client import get_redis
from services import api_keys
from services.access import Actor
from tests.fakes.openai_server import ScriptedLLM
from tests.services.runtime_helpers import make_agent, org_with_provider
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def key_headers(
    session: Session, actor: Actor, role: str = "builder", scopes: list[str] | None = None
) -> dict[str, str]:
    created = api_keys.create_key(session, actor, name="ci", role=role, scopes=scopes)
    session.commit()
    return {"Authorization": f"Bearer {created.secret}"}


def keyed_agent(
    session: Session, llm: ScriptedLLM, role: str = "builder"
) -> tuple[dict[str, str], str]:
    """A key's headers and an agent on the scripted model, in a new organization."""
    headers, agent_id, _ = keyed_org(session, llm, role)
    return headers, agent_id


def keyed_org(
    session: Session, llm: ScriptedLLM, role: str = "builder"
) -> tuple[dict[str, str], str, Actor]:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor, name="Support bot")
    return key_headers(session, actor, role), str(agent_id), actor


def serve() -> Iterator[str]:
    """The app on a port the system picks (tests run side by side; a fixed port would clash)."""
    server = uvicorn.Server(
        uvicorn.Config(create_api(), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), 60, what="the API to listen")
    assert server.started, "the API did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def run_agent_worker(log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The async agent worker as a process, allowed to reach the scripted model on 127.0.0.1."""
    env = {**os.environ, "OUTBOUND_ALLOW_HOSTS": "127.0.0.1"}
    with log.open("wb") as err:
        worker = subprocess.Popen(
            [sys.executable, "-m", "agent_platform", "agent-worker", "--concurrency", "10"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        agents = Queue("agents", connection=get_redis())
        wait_until(
            lambda: Worker.count(queue=agents) > 0 or worker.poll() is not None,
            180,
            what="the agent worker to register",
        )
        assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)


@pytest.fixture(scope="module")
def agent_worker() -> Iterator[subprocess.Popen[bytes]]:
    yield from run_agent_worker(Path("/tmp") / f"api-agent-worker-{os.getpid()}.log")
