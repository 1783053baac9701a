"""A worker alone in its container serves its own `/metrics` on METRICS_PORT, closed to
strangers like the web's; under `up` the children never open it (the web shows them all)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import httpx
import pytest

from agent_platform.observability import worker_endpoint
from agent_platform.settings import Settings
from agent_platform.supervisor import child_env
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PORTS = iter(range(8520, 8540))


@pytest.fixture
def endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    port = next(PORTS)
    server = worker_endpoint.serve(port, getattr(request, "param", ""), host="127.0.0.1")
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_this_machine_reads_the_metrics(endpoint: str) -> None:
    response = httpx.get(f"{endpoint}/metrics")
    assert response.status_code == 200 and "agent_executions_total" in response.text
    assert httpx.get(f"{endpoint}/other").status_code == 404


@pytest.mark.parametrize("endpoint", ["worker-scrape-token"], indirect=True)
def test_with_a_token_it_is_needed(endpoint: str) -> None:
    assert httpx.get(f"{endpoint}/metrics").status_code == 401
    wrong = httpx.get(f"{endpoint}/metrics", headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 401
    right = httpx.get(
        f"{endpoint}/metrics", headers={"Authorization": "Bearer worker-scrape-token"}
    )
    assert right.status_code == 200 and "llm_tokens_total" in right.text


def test_a_stranger_without_a_token_is_refused() -> None:
    statuses: list[str] = []
    body = worker_endpoint.application("")(
        {"PATH_INFO": "/metrics", "REMOTE_ADDR": "203.0.113.9", "wsgi.input": BytesIO()},
        lambda status, _headers: statuses.append(status),
    )
    assert statuses == ["403 Forbidden"] and b"METRICS_TOKEN" in b"".join(body)


def test_the_agent_worker_command_serves_it() -> None:
    port = next(PORTS)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_platform", "agent-worker"],
        cwd=ROOT,
        env={**os.environ, "METRICS_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def scraped() -> str | None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1)
            except httpx.TransportError:
                return None
            return response.text if response.status_code == 200 else None

        assert "agent_runs_in_progress" in str(wait_until(scraped, 60, what="worker /metrics"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_children_of_up_leave_it_to_the_web_process(tmp_path: Path) -> None:
    assert child_env(Settings(data_dir=tmp_path))["METRICS_PORT"] == "0"
