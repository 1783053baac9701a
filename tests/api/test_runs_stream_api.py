"""Runs over REST executed by a real agent worker: the Server-Sent Events of a run as it goes
(tokens before the step, one `end`, the stream closes), the run read back with its steps, a
conversation's history, and cancelling a run mid-answer."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from tests.api.live import (
    agent_worker,  # noqa: F401 - fixture
    keyed_agent,
    serve,
)
from tests.fakes.openai_server import ScriptedLLM, Turn


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    yield from serve()


def read_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """The (event, data) pairs of a text/event-stream body, in order."""
    events: list[tuple[str, dict[str, Any]]] = []
    name, data = "message", ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and data:
            events.append((name, json.loads(data)))
            name, data = "message", ""
    return events


def test_run_streams_its_tokens_steps_and_end_then_reads_back_with_steps(
    session: Session,
    llm: ScriptedLLM,
    api_url: str,
    agent_worker: subprocess.Popen[bytes],  # noqa: F811 - fixture
) -> None:
    headers, agent_id = keyed_agent(session, llm)
    llm.script(Turn(text="The answer is forty-two.", chunk_size=3, chunk_delay=0.05))
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as http:
        made = http.post(
            f"/api/v1/agents/{agent_id}/runs",
            json={"message": "What is the answer?", "variables": {"tone": "dry"}},
        )
        assert made.status_code == 201, made.text
        run = made.json()
        assert (run["status"], run["message"], run["variables"]) == (
            "queued",
            "What is the answer?",
            {"tone": "dry"},
        )

        with http.stream("GET", f"/api/v1/runs/{run['id']}/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = read_events(stream)
        kinds = [name for name, _ in events]
        assert kinds[-1] == "end" and kinds.count("end") == 1
        assert "token" in kinds and kinds.index("token") < kinds.index("step")
        streamed = "".join(d["text"] for name, d in events if name == "token")
        assert streamed == "The answer is forty-two."
        step = next(d for name, d in events if name == "step")
        assert (step["kind"], step["text"]) == ("model", "The answer is forty-two.")
        end = events[-1][1]
        assert end["status"] == "succeeded"
        assert end["output"] == {"text": "The answer is forty-two."}

        detail = http.get(f"/api/v1/runs/{run['id']}").json()
        assert detail["status"] == "succeeded" and detail["output"]["text"].endswith("two.")
        assert [(s["position"], s["kind"]) for s in detail["steps"]] == [(0, "model")]
        assert detail["steps"][0]["text"] == "The answer is forty-two.", detail

        # An ended run's stream replays its steps and end, then closes.
        with http.stream("GET", f"/api/v1/runs/{run['id']}/events") as again:
            replay = read_events(again)
        assert [name for name, _ in replay] == ["step", "end"]
        assert replay[-1][1]["status"] == "succeeded"


def test_conversation_keeps_its_messages_and_history(
    session: Session,
    llm: ScriptedLLM,
    api_url: str,
    agent_worker: subprocess.Popen[bytes],  # noqa: F811 - fixture
) -> None:
    headers, agent_id = keyed_agent(session, llm)
    llm.script(Turn(text="Hi Ada."), Turn(text="You are Ada."))
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as http:
        thread = http.post(f"/api/v1/agents/{agent_id}/threads", json={"title": "Intro"})
        assert thread.status_code == 201, thread.text
        thread_id = thread.json()["id"]
        for message in ("I am Ada.", "Who am I?"):
            run = http.post(
                f"/api/v1/agents/{agent_id}/runs",
                json={"message": message, "thread_id": thread_id},
            ).json()
            with http.stream("GET", f"/api/v1/runs/{run['id']}/events") as stream:
                assert read_events(stream)[-1][1]["status"] == "succeeded"
        detail = http.get(f"/api/v1/threads/{thread_id}").json()
        listed = http.get(f"/api/v1/agents/{agent_id}/threads").json()
    assert [(m["role"], m["content"]) for m in detail["messages"]] == [
        ("user", "I am Ada."),
        ("assistant", "Hi Ada."),
        ("user", "Who am I?"),
        ("assistant", "You are Ada."),
    ]
    assert [t["id"] for t in listed] == [thread_id] and listed[0]["title"] == "Intro"
    # The second run was sent the first exchange as history.
    sent = [m["content"] for m in llm.requests[-1].body["messages"] if m["role"] != "system"]
    assert sent == ["I am Ada.", "Hi Ada.", "Who am I?"]


def test_cancelling_a_running_run_ends_its_stream_cancelled(
    session: Session,
    llm: ScriptedLLM,
    api_url: str,
    agent_worker: subprocess.Popen[bytes],  # noqa: F811 - fixture
) -> None:
    headers, agent_id = keyed_agent(session, llm)
    # About a minute of tokens: the run is still going when it is cancelled.
    llm.script(Turn(text="word " * 300, chunk_size=5, chunk_delay=0.2))
    with httpx.Client(base_url=api_url, headers=headers, timeout=60) as http:
        run_id = http.post(f"/api/v1/agents/{agent_id}/runs", json={"message": "go"}).json()["id"]
        with http.stream("GET", f"/api/v1/runs/{run_id}/events") as stream:
            events: list[str] = []
            lines = stream.iter_lines()
            for line in lines:
                if line == "event: token" and not events:
                    cancelled = http.post(f"/api/v1/runs/{run_id}/cancel")
                    assert cancelled.status_code == 200, cancelled.text
                if line.startswith("event: "):
                    events.append(line.removeprefix("event: "))
                if line.startswith("data: ") and events[-1] == "end":
                    end = json.loads(line.removeprefix("data: "))
                    break
        assert events[0] == "token" and events[-1] == "end"
        assert end["status"] == "cancelled"
        assert http.get(f"/api/v1/runs/{run_id}").json()["status"] == "cancelled"
