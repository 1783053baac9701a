"""Stripe for the billing tests: localstripe as a real HTTP server, the small fake in front of
it (tests/fakes/stripe_server.py), the platform's settings pointed at them, and deliveries of
signed webhook events through the real endpoint and the real RQ queue."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rq import SimpleWorker

from agent_platform.redis_client import get_redis
from agent_platform.settings import get_settings
from services.queue import queue
from tests.fakes.stripe_server import FakeStripe, event, sign
from tests.waiting import wait_until

WEBHOOK_SECRET = "whsec_test_h1_secret"
SECRET_KEY = "sk_test_h1_platform"
PLAN_PRICES = {"pro": "price_pro_monthly", "team": "price_team_monthly"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, seconds: float = 20.0) -> None:
    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, seconds, what=f"localstripe listening on {port}")


@pytest.fixture(scope="session")
def localstripe() -> Iterator[str]:
    """localstripe (PyPI) as a subprocess; its state is in memory (--from-scratch)."""
    port = int(os.environ.get("AP_TEST_LOCALSTRIPE_PORT", "0")) or _free_port()
    binary = Path(sys.executable).parent / "localstripe"
    proc = subprocess.Popen(
        [str(binary), "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def stripe_server(localstripe: str) -> Iterator[FakeStripe]:
    with FakeStripe(localstripe=localstripe) as fake:
        yield fake


@pytest.fixture
def stripe(stripe_server: FakeStripe, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStripe]:
    """Stripe configured for this test: keys set, the API base at the fake, 127.0.0.1 allowed
    through the outbound guard (as for any local service an instance admin allows)."""
    stripe_server.reset()
    monkeypatch.setenv("STRIPE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("STRIPE_API_BASE", stripe_server.base_url)
    monkeypatch.setenv("STRIPE_PLAN_PRICES", json.dumps(PLAN_PRICES))
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    yield stripe_server
    get_settings.cache_clear()


def post_event(
    client: TestClient,
    body: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
) -> Any:
    payload = json.dumps(body).encode()
    header = sign(payload, secret, timestamp)
    return client.post(
        "/api/v1/stripe/webhook",
        content=payload,
        headers={"Stripe-Signature": header, "Content-Type": "application/json"},
    )


def deliver(client: TestClient, type_: str, obj: dict[str, Any], **kwargs: Any) -> Any:
    answer = post_event(client, event(type_, obj, **kwargs))
    assert answer.status_code == 200, answer.text
    return answer


def run_jobs() -> None:
    """What a worker does with the queued events (the real RQ queue, in this process)."""
    SimpleWorker([queue("default")], connection=get_redis()).work(burst=True)
