"""The OpenAI-compatible endpoint, spoken to by the official `openai` client over real HTTP:
agents listed as models, a completion with usage, a stream of chunks ending in [DONE], a
failed run as an error the SDK raises, and bad requests refused in words."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import openai
import pytest
from sqlmodel import Session, func, select

from agent_platform.db import session_scope
from agent_platform.models import Execution
from services import agents
from tests.api.live import (
    agent_worker,  # noqa: F401 - fixture
    key_headers,
    serve,
)
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import make_agent, org_with_provider


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    yield from serve()


def client_for(
    session: Session, llm: ScriptedLLM, api_url: str, **instructions: str
) -> tuple[openai.OpenAI, uuid.UUID]:
    """An OpenAI client with a key of a new organization, and its agent "Support Bot"."""
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor, name="Support Bot", **instructions)
    secret = key_headers(session, actor)["Authorization"].removeprefix("Bearer ")
    return openai.OpenAI(
        base_url=f"{api_url}/api/v1/openai", api_key=secret, max_retries=0
    ), agent_id


def test_models_are_the_orgs_runnable_agents(
    session: Session, llm: ScriptedLLM, api_url: str
) -> None:
    actor = org_with_provider(session, llm.base_url)
    make_agent(session, actor, name="Support Bot")
    twin_a = make_agent(session, actor, name="Writer")
    twin_b = make_agent(session, actor, name="writer")
    archived = make_agent(session, actor, name="Old one")
    agents.archive_agent(session, actor, archived)
    session.commit()
    secret = key_headers(session, actor)["Authorization"].removeprefix("Bearer ")
    client = openai.OpenAI(base_url=f"{api_url}/api/v1/openai", api_key=secret, max_retries=0)
    client_for(session, llm, api_url)  # another organization's agent is not listed

    ids = sorted(m.id for m in client.models.list())
    assert ids == sorted(["support-bot", str(twin_a), str(twin_b)])
    one = client.models.retrieve("support-bot")
    assert (one.id, one.object, one.model_extra["name"]) == ("support-bot", "model", "Support Bot")
    with pytest.raises(openai.NotFoundError, match="No agent called"):
        client.models.retrieve("old-one")


def test_completion_answers_with_usage_and_the_conversation(
    session: Session,
    llm: ScriptedLLM,
    api_url: str,
    agent_worker: subprocess.Popen[bytes],  # noqa: F811 - fixture
) -> None:
    client, agent_id = client_for(session, llm, api_url, instructions="Be brief.")
    llm.script(Turn(text="It is sunny."))
    raw = client.chat.completions.with_raw_response.create(
        model="support-bot",
        messages=[
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Ahoy."},
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
        ],
    )
    completion = raw.parse()
    assert completion.object == "chat.completion" and completion.model == "support-bot"
    assert completion.choices[0].message.content == "It is sunny."
    assert completion.choices[0].finish_reason == "stop"

    run_id = uuid.UUID(raw.headers["x-run-id"])
    assert completion.id == f"chatcmpl-{run_id.hex}"
    with session_scope() as s:
        run = s.get(Execution, run_id)
        assert run.agent_id == agent_id and run.input["message"] == "Weather?"
        tokens = run.tokens_used
    usage = completion.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens == tokens

    # The agent's own instructions, then the earlier turns, then the message; not the
    # client's system prompt.
    sent = llm.requests[-1].body["messages"]
    assert [(m["role"], m["content"]) for m in sent[1:]] == [
        ("user", "Hello"),
        ("assistant", "Ahoy."),
        ("user", "Weather?"),
    ]
    assert sent[0]["role"] == "system" and "Be brief." in sent[0]["content"]
    assert "pirate" not in sent[0]["content"]


def test_stream_sends_chunks_usage_and_done(
    session: Session,
    llm: ScriptedLLM,
    api_url: str,
    agent_worker: subprocess.Popen[bytes],  # noqa: F811 - fixture
) -> None:
    client, agent_id = client_for(session, llm, api_url)
    text = "Streaming works, piece by piece."
    llm.script(Turn(text=text, chunk_size=4, chunk_delay=0.05))
    stream = client.chat.completions.create(
        model=str(agent_id),
        messages=[{"role": "user", "content": "Stream please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)  # the SDK stops at `data: [DONE]`
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == text
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


def test_a_failed_run_is_an_error_the_sdk_raises(
    session: Session,
    llm: ScriptedLLM,
    api_url: str,
    agent_worker: subprocess.Popen[bytes],  # noqa: F811 - fixture
) -> None:
    client, _ = client_for(session, llm, api_url)
    llm.script(
        Turn(status=400, error="context too long"), Turn(status=400, error="context too long")
    )
    with pytest.raises(openai.UnprocessableEntityError, match="ended failed"):
        client.chat.completions.create(
            model="Support Bot", messages=[{"role": "user", "content": "hi"}]
        )
    stream = client.chat.completions.create(
        model="Support Bot", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    with pytest.raises(openai.APIError, match="ended failed"):
        list(stream)


def test_bad_requests_are_refused_in_words(
    session: Session, llm: ScriptedLLM, api_url: str
) -> None:
    client, _ = client_for(session, llm, api_url)
    other, other_agent = client_for(session, llm, api_url)
    hello = [{"role": "user", "content": "hi"}]
    with pytest.raises(openai.NotFoundError, match="No agent called 'nobody'"):
        client.chat.completions.create(model="nobody", messages=hello)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model=str(other_agent), messages=hello)
    with pytest.raises(openai.UnprocessableEntityError, match="last message must be the user"):
        client.chat.completions.create(
            model="support-bot", messages=[*hello, {"role": "assistant", "content": "yo"}]
        )
    with pytest.raises(openai.UnprocessableEntityError, match="own tools"):
        client.chat.completions.create(
            model="support-bot",
            messages=hello,
            tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        )
    with pytest.raises(openai.UnprocessableEntityError, match="Only text content"):
        client.chat.completions.create(
            model="support-bot",
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
            ],
        )
    with pytest.raises(openai.UnprocessableEntityError, match="Messages must be at least 1"):
        client.chat.completions.create(model="support-bot", messages=[])
    anonymous = openai.OpenAI(base_url=client.base_url, api_key="ap_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anonymous.chat.completions.create(model="support-bot", messages=hello)
    with session_scope() as s:
        assert s.exec(select(func.count()).select_from(Execution)).one() == 0
    assert other.models.list().data[0].id == "support-bot"


def test_a_key_without_the_run_scope_lists_models_but_cannot_chat(
    session: Session, llm: ScriptedLLM, api_url: str
) -> None:
    actor = org_with_provider(session, llm.base_url)
    make_agent(session, actor, name="Support Bot")
    secret = key_headers(session, actor, scopes=["read"])["Authorization"].removeprefix("Bearer ")
    reader = openai.OpenAI(base_url=f"{api_url}/api/v1/openai", api_key=secret, max_retries=0)
    assert [m.id for m in reader.models.list()] == ["support-bot"]
    with pytest.raises(openai.PermissionDeniedError, match="run"):
        reader.chat.completions.create(
            model="support-bot", messages=[{"role": "user", "content": "hi"}]
        )
