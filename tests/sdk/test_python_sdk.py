"""The Python SDK (sdk/python) against the real API app served over HTTP, with real PostgreSQL
and Redis and a real agent worker executing runs on the scripted model: agents, class-based
and YAML deploys (the CLI as a process), runs streamed to their end, idempotency, and the
problem+json errors as exceptions."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import agent_platform_sdk._core as sdk_core
import httpx
import pytest
from agent_platform_sdk import (
    Agent,
    ApiError,
    AsyncClient,
    Client,
    EndEvent,
    Memory,
    RateLimited,
    StepEvent,
    StreamError,
    TokenEvent,
    Tool,
)
from agent_platform_sdk._core import KeyAuth
from sqlmodel import Session

from agent_platform.settings import get_settings
from tests.api.live import (
    agent_worker,  # noqa: F401 - fixture
    key_headers,
)
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import org_with_provider

ROOT = Path(__file__).resolve().parents[2]
SDK_PYTHON = ROOT / "sdk" / "python"
BASE = {"model": "fake/gpt-a", "first_token_timeout_seconds": 3, "timeout_seconds": 30}


@pytest.fixture
def model_key(session: Session, llm: ScriptedLLM) -> str:
    """A key (read, run, write) of an organization whose provider `fake` is the scripted model."""
    actor = org_with_provider(session, llm.base_url)
    return key_headers(session, actor)["Authorization"].removeprefix("Bearer ")


@pytest.fixture
def client(live_api: str, model_key: str) -> Iterator[Client]:
    with Client(live_api, model_key, timeout=60) as sdk:
        yield sdk


class SupportBot(Agent):
    name = "Support bot"
    description = "Answers order questions"
    model = "fake/gpt-a"
    instructions = "Answer questions about orders."
    timeout_seconds = 30
    tools = [Tool.builtin("calculator")]
    memory = Memory.vector(namespace="help-center", window=6)


def test_agents_are_created_listed_across_pages_read_updated_and_exported(
    client: Client,
) -> None:
    paths: list[str] = []
    client.http.event_hooks["request"].append(lambda r: paths.append(r.url.path))
    made = [client.agents.create(f"Agent {n}", config=BASE) for n in range(3)]
    assert made[0].current_version == 1 and made[0].config["model"] == "fake/gpt-a"

    listed = list(client.agents.list(page_size=2))  # two pages
    assert [a.name for a in listed] == ["Agent 2", "Agent 1", "Agent 0"]
    assert [a.name for a in client.agents.list(search="Agent 1")] == ["Agent 1"]

    got = client.agents.get(made[1].id)
    assert (got.id, got.name, got.status) == (made[1].id, "Agent 1", "draft")
    changed = client.agents.update(got.id, config={**BASE, "temperature": 0.2})
    assert changed.new_version == 2 and changed.config["temperature"] == 0.2
    assert [v.version for v in client.agents.versions(got.id)] == [2, 1]

    text = client.agents.export_yaml(got.id)
    assert "name: Agent 1" in text and "temperature: 0.2" in text
    copy = client.agents.import_yaml(text.replace("name: Agent 1", "name: Agent copy"))
    assert copy.name == "Agent copy" and copy.config["temperature"] == 0.2
    # The key went over the wire once, for its token; every call carried the token.
    assert paths.count("/api/v1/auth/token") == 1 and paths[0] == "/api/v1/auth/token"


def test_the_token_is_fetched_again_before_it_ends_and_after_a_refusal(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths: list[str] = []
    client.http.event_hooks["request"].append(lambda r: paths.append(r.url.path))
    client.agents.create("Kept", config=BASE)
    list(client.agents.list())
    assert paths.count("/api/v1/auth/token") == 1

    # A token the server no longer accepts (signed with a rotated secret, say): one 401, a
    # new exchange, the call repeated - the caller sees only the answer.
    auth = client.http.auth
    assert isinstance(auth, KeyAuth)
    monkeypatch.setattr(auth, "_token", "not-a-token")
    paths.clear()
    assert [a.name for a in client.agents.list()] == ["Kept"]
    assert paths == ["/api/v1/agents", "/api/v1/auth/token", "/api/v1/agents"]

    # Within the margin of its end, the token is replaced before the call goes out.
    monkeypatch.setattr(sdk_core, "REFRESH_MARGIN_SECONDS", 10_000.0)
    paths.clear()
    client.agents.find("Kept")
    assert paths[0] == "/api/v1/auth/token" and paths.count("/api/v1/auth/token") == 2


def test_class_based_agent_deploys_then_updates_the_same_agent(client: Client) -> None:
    first = SupportBot().deploy(client)
    assert (first.name, first.description, first.current_version) == (
        "Support bot",
        "Answers order questions",
        1,
    )
    assert first.config["tools"] == [{"kind": "builtin", "name": "calculator", "settings": {}}]
    assert first.config["memory"] == {
        "collections": ["help-center"],
        "conversation": True,
        "window": 6,
    }
    assert first.config["instructions"] == "Answer questions about orders."

    class SupportBotV2(SupportBot):
        instructions = "Answer questions about orders and refunds."

    second = SupportBotV2().deploy(client)
    assert second.id == first.id and second.new_version == 2
    assert second.config["instructions"].endswith("refunds.")
    again = SupportBotV2().deploy(client)
    assert again.id == first.id and again.new_version is None  # nothing changed
    assert [a.name for a in client.agents.list()] == ["Support bot"]

    class Nameless(Agent):
        model = "fake/gpt-a"

    with pytest.raises(ValueError, match="no name"):
        Nameless().deploy(client)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_platform_sdk", *args],
        env={**os.environ, "PYTHONPATH": str(SDK_PYTHON), **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


AGENT_FILE = """\
name: "Triage bot"
description: Sorts tickets
config:
  model: fake/gpt-a
  instructions: Sort the ticket.
  temperature: {temperature}
"""


def test_deploy_cli_applies_agent_files_and_explains_refusals(
    client: Client, live_api: str, model_key: str, tmp_path: Path
) -> None:
    env = {"AGENT_PLATFORM_URL": live_api, "AGENT_PLATFORM_API_KEY": model_key}
    triage = tmp_path / "triage.yaml"
    triage.write_text(AGENT_FILE.format(temperature=0.3))
    made = _cli("deploy", str(triage), env=env)
    assert made.returncode == 0, made.stderr
    assert "'Triage bot'" in made.stdout and "created (version 1)" in made.stdout
    agent = client.agents.find("Triage bot")
    assert agent is not None and agent.config["temperature"] == 0.3

    triage.write_text(AGENT_FILE.format(temperature=0.9))
    broken = tmp_path / "broken.yaml"
    broken.write_text(AGENT_FILE.format(temperature=9).replace("Triage", "Broken"))
    again = _cli("deploy", str(triage), str(broken), env=env)
    assert again.returncode == 1
    assert "updated to version 2" in again.stdout
    assert f"{broken}:" in again.stderr and "temperature" in again.stderr
    assert "Traceback" not in again.stderr
    updated = client.agents.get(agent.id)
    assert updated.current_version == 2 and updated.config["temperature"] == 0.9
    assert client.agents.find("Broken bot") is None  # nothing half-made

    unchanged = _cli("deploy", str(triage), env=env)
    assert unchanged.returncode == 0 and "unchanged" in unchanged.stdout

    no_key = _cli("deploy", str(triage), env={"AGENT_PLATFORM_API_KEY": ""})
    assert no_key.returncode == 2 and "AGENT_PLATFORM_API_KEY" in no_key.stderr
    wrong_key = _cli("deploy", str(triage), env={**env, "AGENT_PLATFORM_API_KEY": "ap_nope"})
    assert wrong_key.returncode == 1 and "Traceback" not in wrong_key.stderr, wrong_key.stderr


def test_refusals_raise_api_error_with_the_problem_details(
    client: Client, live_api: str, session: Session
) -> None:
    with pytest.raises(ApiError) as invalid:
        client.agents.create("Bad", config={"model": "no-provider", "temperature": 5})
    assert invalid.value.status == 422 and invalid.value.type.endswith(":invalid")
    assert invalid.value.detail and any("temperature" in f for f in invalid.value.errors)

    with pytest.raises(ApiError) as missing:
        client.runs.get(str(uuid.uuid4()))
    assert (missing.value.status, missing.value.title) == (404, "Not Found")
    assert missing.value.detail == "Run not found."

    with Client(live_api, "ap_not-a-key") as stranger, pytest.raises(ApiError) as refused:
        list(stranger.agents.list())
    assert refused.value.status == 401 and refused.value.detail

    # Another organization's agent does not exist for this key.
    mine = client.agents.create("Mine", config=BASE)
    other = org_with_provider(session, "http://127.0.0.1:9")
    other_key = key_headers(session, other)["Authorization"].removeprefix("Bearer ")
    with Client(live_api, other_key) as theirs:
        with pytest.raises(ApiError) as hidden:
            theirs.agents.get(mine.id)
        assert hidden.value.status == 404
        with pytest.raises(ApiError) as hidden_run:
            theirs.runs.create(mine.id, "hello")
        assert hidden_run.value.status == 404
        assert list(theirs.agents.list()) == []


def test_rate_limit_is_raised_with_retry_after(
    live_api: str, model_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_REQUESTS_PER_MINUTE_PER_KEY", "3")
    get_settings.cache_clear()
    try:
        with Client(live_api, model_key) as sdk, pytest.raises(RateLimited) as limited:
            for _ in range(10):
                list(sdk.agents.list())
    finally:
        monkeypatch.delenv("API_REQUESTS_PER_MINUTE_PER_KEY")
        get_settings.cache_clear()
    assert limited.value.status == 429 and 0 < limited.value.retry_after <= 60
    assert limited.value.detail


def test_run_streams_to_its_end_and_an_idempotency_key_returns_the_same_run(
    client: Client,
    llm: ScriptedLLM,
    agent_worker: subprocess.Popen[bytes],  # noqa: F811 - fixture
) -> None:
    agent = SupportBot().deploy(client)
    llm.script(Turn(text="Your order ships today.", chunk_size=4, chunk_delay=0.03))
    run = client.runs.create(
        agent.id, "Where is my order?", variables={"tone": "dry"}, idempotency_key="order-1"
    )
    assert (run.status, run.message, run.variables) == (
        "queued",
        "Where is my order?",
        {"tone": "dry"},
    )
    same = client.runs.create(
        agent.id, "Where is my order?", variables={"tone": "dry"}, idempotency_key="order-1"
    )
    assert same.id == run.id

    events = list(client.runs.stream(run.id))
    tokens = [e.text for e in events if isinstance(e, TokenEvent)]
    assert "".join(tokens) == "Your order ships today."
    steps = [e.step for e in events if isinstance(e, StepEvent)]
    assert [(s.kind, s.text) for s in steps] == [("model", "Your order ships today.")]
    end = events[-1]
    assert isinstance(end, EndEvent) and end.status == "succeeded"
    assert end.text == "Your order ships today."

    done = client.runs.wait(run.id, timeout=60)
    assert done.finished and done.text == "Your order ships today."
    assert [s.position for s in done.steps] == [0]
    assert [r.id for r in client.runs.list(agent_id=agent.id)] == [run.id]
    assert [r.id for r in client.runs.list(status="failed")] == []

    with pytest.raises(ApiError) as reused:
        client.runs.create(agent.id, "Something else", idempotency_key="order-1")
    assert reused.value.status == 409


def test_cancelling_a_run_mid_answer_ends_its_stream_cancelled(
    client: Client,
    llm: ScriptedLLM,
    agent_worker: subprocess.Popen[bytes],  # noqa: F811 - fixture
) -> None:
    agent = client.agents.create("Talker", config=BASE)
    # About a minute of tokens: the run is still going when it is cancelled.
    llm.script(Turn(text="word " * 300, chunk_size=5, chunk_delay=0.2))
    run = client.runs.create(agent.id, "go")
    seen: list[str] = []
    for event in client.runs.stream(run.id):
        if not seen:
            assert isinstance(event, TokenEvent)
            client.runs.cancel(run.id)
        seen.append(event.type)
    assert isinstance(event, EndEvent) and event.status == "cancelled"
    assert seen.count("end") == 1
    assert client.runs.get(run.id).status == "cancelled"


def test_async_client_deploys_runs_and_streams(
    live_api: str,
    model_key: str,
    llm: ScriptedLLM,
    agent_worker: subprocess.Popen[bytes],  # noqa: F811 - fixture
) -> None:
    llm.script(Turn(text="Async hello.", chunk_size=3, chunk_delay=0.02))

    async def scenario() -> tuple[list[str], str | None, list[str], int]:
        async with AsyncClient(live_api, model_key) as sdk:
            agent = await SupportBot().adeploy(sdk)
            run = await sdk.runs.create(agent.id, "Hi")
            kinds: list[str] = [event.type async for event in sdk.runs.stream(run.id)]
            done = await sdk.runs.wait(run.id, timeout=60)
            names = [a.name async for a in sdk.agents.list()]
            with pytest.raises(ApiError) as missing:
                await sdk.agents.get(str(uuid.uuid4()))
            return kinds, done.text, names, missing.value.status

    kinds, text, names, status = asyncio.run(scenario())
    assert kinds[-1] == "end" and "token" in kinds and "step" in kinds
    assert text == "Async hello." and names == ["Support bot"] and status == 404


def test_a_stream_that_drops_before_the_end_is_an_error() -> None:
    """A connection closed mid-run (a proxy, a restart) must not look like a finished run.
    The transport is a stand-in here: the real server never closes a stream before `end`."""

    def cut(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 900})
        return httpx.Response(200, text='event: token\ndata: {"text": "Hal"}\n\n')

    with Client("http://sdk.test", "ap_x", transport=httpx.MockTransport(cut)) as sdk:
        events = sdk.runs.stream("r1")
        first = next(events)
        assert isinstance(first, TokenEvent) and first.text == "Hal"
        with pytest.raises(StreamError):
            next(events)
