"""Runs over REST without a worker: start (idempotent), list by cursor, cancel while queued,
the stream of a run that already ended, conversations, tenant isolation and bad input.
Executed runs and their live stream: test_runs_stream_api.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from agent_platform.api import create_api
from agent_platform.api.runs import with_heartbeats
from agent_platform.db import session_scope
from agent_platform.models import Execution, ExecutionStatus
from tests.api.live import key_headers, keyed_agent, keyed_org
from tests.services.runtime_helpers import make_agent


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


def test_idempotency_key_returns_the_same_run(client: TestClient, session: Session, llm) -> None:
    headers, agent_id, owner = keyed_org(session, llm)
    url = f"/api/v1/agents/{agent_id}/runs"
    first = client.post(url, json={"message": "hi"}, headers={**headers, "Idempotency-Key": "k1"})
    again = client.post(url, json={"message": "hi"}, headers={**headers, "Idempotency-Key": "k1"})
    other = client.post(url, json={"message": "hi"}, headers={**headers, "Idempotency-Key": "k2"})
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    with session_scope() as s:
        assert s.exec(select(func.count()).select_from(Execution)).one() == 2

    # The same key in another organization is another run.
    other_headers, other_agent = keyed_agent(session, llm)
    theirs = client.post(
        f"/api/v1/agents/{other_agent}/runs",
        json={"message": "hi"},
        headers={**other_headers, "Idempotency-Key": "k1"},
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]

    # Reusing a key for another agent of the same organization is refused.
    second_agent = make_agent(session, owner, name="Other")
    clash = client.post(
        f"/api/v1/agents/{second_agent}/runs",
        json={"message": "hi"},
        headers={**headers, "Idempotency-Key": "k1"},
    )
    assert clash.status_code == 409 and "another agent" in clash.text
    changed = client.post(
        url, json={"message": "bye"}, headers={**headers, "Idempotency-Key": "k1"}
    )
    assert changed.status_code == 409 and "another message" in changed.text

    too_long = client.post(
        url, json={"message": "hi"}, headers={**headers, "Idempotency-Key": "x" * 151}
    )
    assert too_long.status_code == 400 and "too long" in too_long.text


def test_cancelling_a_queued_run_and_its_stream_of_the_end(
    client: TestClient, session: Session, llm
) -> None:
    headers, agent_id = keyed_agent(session, llm)
    run_id = client.post(
        f"/api/v1/agents/{agent_id}/runs", json={"message": "later"}, headers=headers
    ).json()["id"]
    cancelled = client.post(f"/api/v1/runs/{run_id}/cancel", headers=headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    twice = client.post(f"/api/v1/runs/{run_id}/cancel", headers=headers)
    assert twice.status_code == 422 and "already ended" in twice.text
    stream = client.get(f"/api/v1/runs/{run_id}/events", headers=headers)
    assert stream.text.startswith("event: end\ndata: ")
    assert json.loads(stream.text.split("data: ", 1)[1])["status"] == "cancelled"


def test_list_filters_and_pages_by_cursor(client: TestClient, session: Session, llm) -> None:
    headers, agent_id, owner = keyed_org(session, llm)
    other_agent = make_agent(session, owner, name="Second")
    started = [
        client.post(
            f"/api/v1/agents/{agent}/runs", json={"message": f"m{i}"}, headers=headers
        ).json()["id"]
        for i, agent in enumerate([agent_id, agent_id, agent_id, other_agent, agent_id])
    ]
    client.post(f"/api/v1/runs/{started[1]}/cancel", headers=headers)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/runs", params=params, headers=headers).json()
        seen += [r["id"] for r in page["data"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(started)) and pages == 3

    def ids(**params: Any) -> list[str]:
        response = client.get("/api/v1/runs", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [r["id"] for r in response.json()["data"]]

    assert ids(agent_id=str(other_agent)) == [started[3]]
    assert ids(status="cancelled") == [started[1]]
    assert ids(status="queued", agent_id=agent_id) == [started[4], started[2], started[0]]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ids(since=future) == []
    assert len(ids(until=future)) == 5

    assert (
        client.get("/api/v1/runs", params={"cursor": "nonsense"}, headers=headers).status_code
        == 422
    )
    assert (
        client.get("/api/v1/runs", params={"status": "sleeping"}, headers=headers).status_code
        == 422
    )
    assert client.get("/api/v1/runs", params={"limit": 0}, headers=headers).status_code == 422


def test_another_orgs_run_and_thread_are_not_found(
    client: TestClient, session: Session, llm
) -> None:
    headers, agent_id = keyed_agent(session, llm)
    run_id = client.post(
        f"/api/v1/agents/{agent_id}/runs", json={"message": "mine"}, headers=headers
    ).json()["id"]
    thread_id = client.post(f"/api/v1/agents/{agent_id}/threads", json={}, headers=headers).json()[
        "id"
    ]
    mallory, _ = keyed_agent(session, llm)
    for method, path in [
        ("GET", f"/api/v1/runs/{run_id}"),
        ("GET", f"/api/v1/runs/{run_id}/events"),
        ("POST", f"/api/v1/runs/{run_id}/cancel"),
        ("GET", f"/api/v1/threads/{thread_id}"),
        ("GET", f"/api/v1/agents/{agent_id}/threads"),
        ("POST", f"/api/v1/agents/{agent_id}/runs"),
    ]:
        response = client.request(method, path, json={"message": "x"}, headers=mallory)
        assert response.status_code == 404, (method, path, response.text)
    assert client.get("/api/v1/runs", headers=mallory).json()["data"] == []
    with session_scope() as s:
        assert s.get(Execution, uuid.UUID(run_id)).status == ExecutionStatus.QUEUED


def test_bad_input_is_a_clear_4xx(client: TestClient, session: Session, llm) -> None:
    headers, agent_id = keyed_agent(session, llm)
    url = f"/api/v1/agents/{agent_id}/runs"
    empty = client.post(url, json={"message": ""}, headers=headers)
    assert empty.status_code == 422 and "message" in empty.text
    missing = client.post(url, json={"variables": {}}, headers=headers)
    assert missing.status_code == 422 and "message" in missing.text
    too_long = client.post(url, json={"message": "x" * 100_001}, headers=headers)
    assert too_long.status_code == 422 and "too long" in too_long.text
    assert client.post(url, json={"message": "hi"}).status_code == 401
    assert (
        client.post(
            "/api/v1/agents/not-an-id/runs", json={"message": "hi"}, headers=headers
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/runs/{uuid.uuid4()}", headers=headers).status_code == 404
    assert client.get("/api/v1/runs/123", headers=headers).status_code == 404
    stranger = client.post(
        url, json={"message": "hi", "thread_id": str(uuid.uuid4())}, headers=headers
    )
    assert stranger.status_code == 404 and "Conversation not found" in stranger.text
    with session_scope() as s:
        assert s.exec(select(func.count()).select_from(Execution)).one() == 0

    viewer, viewer_agent = keyed_agent(session, llm, role="viewer")
    refused = client.post(
        f"/api/v1/agents/{viewer_agent}/runs", json={"message": "hi"}, headers=viewer
    )
    assert refused.status_code == 403


def test_a_key_without_the_run_scope_reads_but_does_not_start_or_cancel(
    client: TestClient, session: Session, llm
) -> None:
    headers, agent_id, owner = keyed_org(session, llm)
    run_id = client.post(
        f"/api/v1/agents/{agent_id}/runs", json={"message": "hi"}, headers=headers
    ).json()["id"]
    reader = key_headers(session, owner, scopes=["read"])
    refused = [
        client.post(f"/api/v1/agents/{agent_id}/runs", json={"message": "hi"}, headers=reader),
        client.post(f"/api/v1/runs/{run_id}/cancel", headers=reader),
        client.post(f"/api/v1/agents/{agent_id}/threads", json={}, headers=reader),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert "run" in refused[0].json()["detail"]
    assert client.get(f"/api/v1/runs/{run_id}", headers=reader).json()["status"] == "queued"
    assert len(client.get("/api/v1/runs", headers=reader).json()["data"]) == 1


def test_heartbeats_fill_the_silences_of_a_stream() -> None:
    """A comment goes out while the source is silent; the source's chunks pass unchanged."""

    async def collect() -> list[str]:
        heard = asyncio.Event()

        async def source() -> AsyncGenerator[str]:
            yield "event: token\n\n"
            await heard.wait()  # silent until a heartbeat has gone out
            yield "event: end\n\n"

        out: list[str] = []
        async for chunk in with_heartbeats(source(), every=0.01):
            out.append(chunk)
            if chunk.startswith(":"):
                heard.set()
        return out

    out = asyncio.run(collect())
    assert out[0] == "event: token\n\n" and out[-1] == "event: end\n\n"
    assert set(out[1:-1]) == {": keep-alive\n\n"}
