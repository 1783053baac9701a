"""The scripted OpenAI fake, proven against the real client stack (LiteLLM -> openai SDK -> httpx).

If LiteLLM can parse what the fake sends, code under test that goes through LiteLLM sees the same
objects it would see from OpenAI; raw-wire tests pin the SSE framing itself.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

from tests.fakes.openai_server import EMBEDDING_DIMS, ScriptedLLM, Turn, embed  # noqa: E402

litellm.suppress_debug_info = True
REPO_ROOT = Path(__file__).resolve().parents[2]
USER = [{"role": "user", "content": "What is two plus two?"}]
CALLS = [
    {"name": "calculator", "arguments": {"expression": "2+2"}},
    {"name": "search", "arguments": {"query": "weather in Paris", "limit": 3}},
]


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def kw(llm: ScriptedLLM, model: str = "gpt-a", **extra: Any) -> dict[str, Any]:
    """LiteLLM arguments; no retries so scripted errors surface once, as scripted."""
    return {
        "model": f"openai/{model}",
        "api_base": llm.base_url,
        "api_key": "sk-test",
        "num_retries": 0,
        "max_retries": 0,
        **extra,
    }


async def collect(stream: Any) -> tuple[str, dict[int, dict[str, str]], Any, list[Any]]:
    """Reassemble a LiteLLM stream the way an agent loop would: text, tool calls by index, usage."""
    text, calls, usage, chunks = [], {}, None, []
    async for chunk in stream:
        chunks.append(chunk)
        if getattr(chunk, "usage", None):
            usage = chunk.usage
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        if delta.content:
            text.append(delta.content)
        for tc in delta.tool_calls or []:
            slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
            slot["id"] = tc.id or slot["id"]
            slot["name"] = (tc.function.name if tc.function else None) or slot["name"]
            slot["arguments"] += (tc.function.arguments if tc.function else None) or ""
    return "".join(text), calls, usage, chunks


def sse_events(raw: str) -> list[str]:
    assert raw.endswith("\n\n"), "every SSE event ends with a blank line"
    events = raw[:-2].split("\n\n")
    assert all(e.startswith("data: ") for e in events)
    return [e[len("data: ") :] for e in events]


# ------------------------------------------------------------------------------ text


def test_non_stream_text_with_usage(llm: ScriptedLLM) -> None:
    llm.script(Turn(text="Hello there"))
    resp = litellm.completion(messages=USER, **kw(llm))

    assert resp.choices[0].message.content == "Hello there"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage.prompt_tokens == math.ceil(len(USER[0]["content"]) / 4)
    assert resp.usage.completion_tokens == math.ceil(len("Hello there") / 4)
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens

    (rec,) = llm.requests
    assert rec.path == "/v1/chat/completions" and rec.model == "gpt-a"
    assert rec.body["messages"] == USER and rec["body"] is rec.body
    assert rec.headers["Authorization"] == "Bearer sk-test"


def test_default_echoes_last_user_message_and_is_configurable(llm: ScriptedLLM) -> None:
    messages = [*USER, {"role": "assistant", "content": "4"}, {"role": "user", "content": "Sure?"}]
    assert litellm.completion(messages=messages, **kw(llm)).choices[0].message.content == (
        "echo: Sure?"
    )
    llm.set_default(Turn(text="ok", delay=0.2))
    started = time.monotonic()
    assert litellm.completion(messages=USER, **kw(llm)).choices[0].message.content == "ok"
    assert time.monotonic() - started >= 0.2
    llm.reset()
    assert (
        litellm.completion(messages=USER, **kw(llm)).choices[0].message.content.startswith("echo: ")
    )
    assert len(llm.requests) == 1  # reset dropped the earlier records
    llm.clear()
    assert llm.requests == []


def test_stream_text_reassembles_exactly_with_usage(llm: ScriptedLLM) -> None:
    text = "The quick brown fox jumps over the lazy dog. ünïcødé ✓"
    llm.script(Turn(text=text, chunk_size=4, chunk_delay=0.01))

    async def run() -> tuple[str, Any, list[Any], float]:
        started = time.monotonic()
        stream = await litellm.acompletion(
            messages=USER, stream=True, stream_options={"include_usage": True}, **kw(llm)
        )
        got, calls, usage, chunks = await collect(stream)
        assert calls == {}
        return got, usage, chunks, time.monotonic() - started

    got, usage, chunks, elapsed = asyncio.run(run())
    assert got == text
    assert usage is not None and usage.completion_tokens == math.ceil(len(text) / 4)
    assert usage.prompt_tokens == math.ceil(len(USER[0]["content"]) / 4)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) == math.ceil(len(text) / 4)
    assert elapsed >= 0.01 * len(content_chunks)  # chunk_delay paces the stream


def test_sync_stream_text(llm: ScriptedLLM) -> None:
    llm.script(Turn(text="sync streaming works", chunk_size=3))
    stream = litellm.completion(messages=USER, stream=True, **kw(llm))
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert "".join(pieces) == "sync streaming works"


def test_raw_sse_wire_format(llm: ScriptedLLM) -> None:
    """Exact framing, independent of any client's leniency."""
    llm.script(Turn(text="abcdef", chunk_size=4), Turn(text="abcdef", chunk_size=4))
    body = {"model": "gpt-a", "messages": USER, "stream": True}
    plain = httpx.post(f"{llm.base_url}/chat/completions", json=body).text
    with_usage = httpx.post(
        f"{llm.base_url}/chat/completions",
        json={**body, "stream_options": {"include_usage": True}},
    )
    assert with_usage.headers["content-type"].startswith("text/event-stream")

    events = sse_events(plain)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" and "usage" not in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert [c["choices"][0]["delta"].get("content") for c in chunks[1:3]] == ["abcd", "ef"]
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert len({c["id"] for c in chunks}) == 1

    usage_chunks = [json.loads(e) for e in sse_events(with_usage.text)[:-1]]
    assert all(c["usage"] is None for c in usage_chunks[:-1])
    assert usage_chunks[-1]["choices"] == [] and usage_chunks[-1]["usage"]["completion_tokens"] == 2


# ------------------------------------------------------------------------------ tool calls


def test_tool_calls_non_stream(llm: ScriptedLLM) -> None:
    llm.script(Turn(tool_calls=CALLS))
    resp = litellm.completion(messages=USER, **kw(llm))
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["calculator", "search"]
    assert [json.loads(c.function.arguments) for c in calls] == [c["arguments"] for c in CALLS]
    assert all(c.id.startswith("call_") for c in calls) and calls[0].id != calls[1].id


def test_tool_calls_stream_several_in_one_turn(llm: ScriptedLLM) -> None:
    llm.script(Turn(text="Let me check.", tool_calls=CALLS, chunk_size=5))

    async def run() -> tuple[str, dict[int, dict[str, str]], list[Any]]:
        stream = await litellm.acompletion(messages=USER, stream=True, **kw(llm))
        text, calls, _, chunks = await collect(stream)
        return text, calls, chunks

    text, calls, chunks = asyncio.run(run())
    assert text == "Let me check."
    assert sorted(calls) == [0, 1]
    assert [calls[i]["name"] for i in (0, 1)] == ["calculator", "search"]
    assert [json.loads(calls[i]["arguments"]) for i in (0, 1)] == [c["arguments"] for c in CALLS]
    assert calls[0]["id"].startswith("call_") and calls[0]["id"] != calls[1]["id"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    fragments = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(fragments) > 4  # arguments really arrive in pieces


def test_malformed_arguments_arrive_as_raw_string(llm: ScriptedLLM) -> None:
    llm.script(
        Turn(tool_calls=[{"name": "calculator"}], raw_arguments="{not json"),
        Turn(tool_calls=[{"name": "calculator", "raw_arguments": '{"expression": "2+'}]),
    )
    resp = litellm.completion(messages=USER, **kw(llm))
    assert resp.choices[0].message.tool_calls[0].function.arguments == "{not json"

    async def run() -> dict[int, dict[str, str]]:
        stream = await litellm.acompletion(messages=USER, stream=True, **kw(llm))
        return (await collect(stream))[1]

    calls = asyncio.run(run())
    assert calls[0]["arguments"] == '{"expression": "2+'
    with pytest.raises(json.JSONDecodeError):
        json.loads(calls[0]["arguments"])


def test_finish_reason_override_and_custom_usage(llm: ScriptedLLM) -> None:
    llm.script(Turn(text="truncated", finish_reason="length", usage={"completion_tokens": 4096}))
    resp = litellm.completion(messages=USER, **kw(llm))
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage.completion_tokens == 4096


# ------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("turn", "exc_type"),
    [
        (Turn(status=500, error="upstream exploded"), litellm.InternalServerError),
        (Turn(status=429, error="rate limited", retry_after=7), litellm.RateLimitError),
        (Turn(status=401, error="Incorrect API key provided"), litellm.AuthenticationError),
        (Turn(status=400, error="bad request"), litellm.BadRequestError),
        (Turn(status=503, error="overloaded"), litellm.ServiceUnavailableError),
    ],
)
def test_errors_map_to_litellm_exceptions(
    llm: ScriptedLLM, turn: Turn, exc_type: type[Exception]
) -> None:
    llm.script(turn)
    with pytest.raises(exc_type) as info:
        litellm.completion(messages=USER, **kw(llm))
    assert turn.error is not None and turn.error in str(info.value)
    assert getattr(info.value, "status_code", None) == turn.status
    assert len(llm.requests) == 1  # no hidden retries


def test_error_wire_body_and_retry_after(llm: ScriptedLLM) -> None:
    llm.script(Turn(status=429, error="rate limited", retry_after=1.5))
    resp = httpx.post(f"{llm.base_url}/chat/completions", json={"model": "m", "messages": USER})
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "1.5" and resp.headers["retry-after-ms"] == "1500"
    assert resp.json() == {
        "error": {
            "message": "rate limited",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
    bad = httpx.post(f"{llm.base_url}/chat/completions", content=b"{nope")
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


def test_error_in_streaming_request_raises_before_iteration(llm: ScriptedLLM) -> None:
    llm.script(Turn(status=429, error="slow down"))

    async def run() -> None:
        await litellm.acompletion(messages=USER, stream=True, **kw(llm))

    with pytest.raises(litellm.RateLimitError):
        asyncio.run(run())


# ------------------------------------------------------------------------------ stall / break


def test_stall_fires_client_timeout(llm: ScriptedLLM) -> None:
    llm.script(Turn(text="a" * 40, chunk_size=2, stall_after_chunks=3, stall_seconds=30))

    async def run() -> list[str]:
        received: list[str] = []
        stream = await litellm.acompletion(messages=USER, stream=True, timeout=1, **kw(llm))
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
        return received

    started = time.monotonic()
    with pytest.raises(litellm.Timeout):
        asyncio.run(run())
    assert time.monotonic() - started < 10


def test_stall_resumes_after_stall_seconds(llm: ScriptedLLM) -> None:
    """A stall shorter than the client's patience is just a slow stream."""
    llm.script(Turn(text="slow but complete", stall_after_chunks=2, stall_seconds=0.3))
    started = time.monotonic()
    stream = litellm.completion(messages=USER, stream=True, timeout=5, **kw(llm))
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "slow but complete"
    assert time.monotonic() - started >= 0.3


def test_break_raises_during_stream_iteration(llm: ScriptedLLM) -> None:
    llm.script(Turn(text="a" * 40, chunk_size=2, break_after_chunks=3))

    async def run() -> list[str]:
        received: list[str] = []
        stream = await litellm.acompletion(messages=USER, stream=True, **kw(llm))
        try:
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "")
        except Exception as exc:  # LiteLLM wraps the transport error; the kind is its business
            return [*received, f"raised {type(exc).__name__}"]
        return received

    received = asyncio.run(run())
    assert received[-1].startswith("raised ")
    assert "".join(received[:-1]) == "aaaa"  # role chunk + two content chunks got through
    # The server is still healthy after dropping a connection.
    assert (
        litellm.completion(messages=USER, **kw(llm)).choices[0].message.content.startswith("echo:")
    )


def test_break_non_stream_drops_connection(llm: ScriptedLLM) -> None:
    llm.script(Turn(text="never sent", break_after_chunks=0))
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{llm.base_url}/chat/completions", json={"model": "m", "messages": USER})


# ------------------------------------------------------------------------------ routing


def test_per_model_queues_fall_back_to_shared_then_default(llm: ScriptedLLM) -> None:
    llm.script(Turn(text="a1"), Turn(text="a2"), model="gpt-a")
    llm.script(Turn(text="b1"), model="gpt-b")
    llm.script(Turn(text="shared"))
    assert llm.pending() == 4 and llm.pending("gpt-a") == 2

    def ask(model: str) -> str:
        return litellm.completion(messages=USER, **kw(llm, model)).choices[0].message.content

    assert [ask("gpt-b"), ask("gpt-a"), ask("gpt-b"), ask("gpt-a"), ask("gpt-a")] == [
        "b1",
        "a1",
        "shared",
        "a2",
        "echo: What is two plus two?",
    ]
    assert llm.pending() == 0
    assert [r.model for r in llm.requests] == ["gpt-b", "gpt-a", "gpt-b", "gpt-a", "gpt-a"]


def test_models_endpoint(llm: ScriptedLLM) -> None:
    llm.script(Turn(text="x"), model="custom-model")
    data = httpx.get(f"{llm.base_url}/models").json()
    assert data["object"] == "list"
    assert {"gpt-a", "custom-model"} <= {m["id"] for m in data["data"]}


# ------------------------------------------------------------------------------ embeddings


def test_embeddings_through_litellm(llm: ScriptedLLM) -> None:
    texts = ["hello world", "goodbye world", "hello world"]
    resp = litellm.embedding(
        model="openai/text-embedding-3-small",
        input=texts,
        api_base=llm.base_url,
        api_key="sk-test",
    )
    vectors = [d["embedding"] for d in resp.data]
    assert [len(v) for v in vectors] == [EMBEDDING_DIMS] * 3
    assert vectors[0] == pytest.approx(vectors[2]) and vectors[0] != pytest.approx(vectors[1])
    assert vectors[0] == pytest.approx(embed("hello world"))
    assert math.isclose(sum(x * x for x in vectors[0]), 1.0, rel_tol=1e-6)
    assert resp.usage.prompt_tokens > 0
    assert llm.requests[-1].path == "/v1/embeddings"


def test_embeddings_base64_encoding_matches_floats(llm: ScriptedLLM) -> None:
    url = f"{llm.base_url}/embeddings"
    floats = httpx.post(url, json={"model": "e", "input": "x"}).json()["data"][0]["embedding"]
    b64 = httpx.post(url, json={"model": "e", "input": "x", "encoding_format": "base64"})
    packed = base64.b64decode(b64.json()["data"][0]["embedding"])
    decoded = struct.unpack(f"<{EMBEDDING_DIMS}f", packed)
    assert list(decoded) == pytest.approx(floats, abs=1e-6)


# ------------------------------------------------------------------------------ concurrency


def test_concurrent_requests_overlap(llm: ScriptedLLM) -> None:
    llm.set_default(Turn(text="ok", delay=0.5))

    async def run() -> list[str]:
        results = await asyncio.gather(
            *(litellm.acompletion(messages=USER, **kw(llm)) for _ in range(50))
        )
        return [r.choices[0].message.content for r in results]

    started = time.monotonic()
    assert asyncio.run(run()) == ["ok"] * 50
    assert time.monotonic() - started < 5  # serial would be 25 s
    assert len(llm.requests) == 50


# ------------------------------------------------------------------------------ subprocess


def test_subprocess_mode_scripted_over_http() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        root = base_url.removesuffix("/v1")
        with httpx.Client(timeout=10) as http:
            queued = http.post(
                f"{root}/_script",
                json={
                    "model": "gpt-a",
                    "turns": [{"text": "from the script"}, {"tool_calls": CALLS}],
                },
            )
            assert queued.json()["queued"] == 2
            assert http.post(f"{root}/_script", json=[{"status": 7000}]).status_code == 400
            assert http.post(f"{root}/_script", json=[{"bogus": 1}]).status_code == 400
            http.post(f"{root}/_reset")
            http.post(f"{root}/_script", json={"model": "gpt-a", "turns": [{"text": "scripted"}]})
            http.post(f"{root}/_default", json={"text": "fallback"})

            base = {"model": "openai/gpt-a", "api_base": base_url, "api_key": "sk-test"}
            first = litellm.completion(messages=USER, num_retries=0, **base)
            second = litellm.completion(messages=USER, num_retries=0, **base)
            assert first.choices[0].message.content == "scripted"
            assert second.choices[0].message.content == "fallback"

            recorded = http.get(f"{root}/_requests").json()
            assert [r["model"] for r in recorded] == ["gpt-a", "gpt-a"]
            assert recorded[0]["body"]["messages"] == USER
            assert http.get(f"{root}/_pending").json() == {"pending": 0}
    finally:
        proc.terminate()
        assert proc.wait(15) == 0
