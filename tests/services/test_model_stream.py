"""One streamed model call, read straight off the wire: text, tool calls, usage, the two
deadlines (first token, stall) and Azure's deployment URL, all through the OpenAI SDK's raw
`post` route that the gateway uses for OpenAI-style providers.

Real SDK, httpx and outbound guard against the scripted OpenAI-compatible server.
"""

from __future__ import annotations

import asyncio
import socket
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from litellm.types.utils import ModelResponseStream

from services.llm import gateway
from services.llm.providers import ResolvedModel
from tests.fakes.openai_server import ScriptedLLM, Turn

MESSAGES = [{"role": "user", "content": "hi"}]


def compatible(llm: ScriptedLLM, name: str = "gpt-a") -> ResolvedModel:
    return ResolvedModel(
        ref=f"fake/{name}",
        label="OpenAI-compatible server",
        litellm_model=f"openai/{name}",
        api_base=llm.base_url,
        api_key="sk-test",
        api_version=None,
        price=(Decimal(1), Decimal(2)),
    )


def call(
    model: ResolvedModel, options: gateway.CallOptions | None = None, **kwargs: object
) -> tuple[gateway.ModelResult, list[str]]:
    tokens: list[str] = []

    async def sink(text: str) -> None:
        tokens.append(text)

    kwargs.setdefault("on_token", sink)
    result = asyncio.run(gateway.complete([model], MESSAGES, options=options, **kwargs))
    return result, tokens


def failure(model: ResolvedModel, options: gateway.CallOptions) -> str:
    with pytest.raises(gateway.LLMError) as caught:
        call(model, options)
    return caught.value.message


class TestAnswer:
    def test_text_arrives_piece_by_piece_with_usage_and_cost(self, llm: ScriptedLLM) -> None:
        llm.set_default(Turn(text="hello world", chunk_size=4))
        result, tokens = call(compatible(llm), gateway.CallOptions(temperature=0.5, max_tokens=9))
        assert tokens == ["hell", "o wo", "rld"]
        assert result.text == "hello world" and result.finish_reason == "stop"
        assert result.prompt_tokens > 0 and result.completion_tokens == 3
        expected = (result.prompt_tokens * 1 + 3 * 2) / Decimal(1_000_000)
        assert result.cost == expected.quantize(Decimal("0.000001"))
        assert result.first_token_ms is not None and result.tool_calls == []
        [sent] = llm.requests
        assert sent.path == "/v1/chat/completions"
        assert sent.headers["Authorization"] == "Bearer sk-test"
        assert sent.body == {
            "model": "gpt-a",
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": 0.5,
            "max_tokens": 9,
        }

    def test_tool_calls_are_assembled_from_their_fragments(self, llm: ScriptedLLM) -> None:
        llm.set_default(
            Turn(
                tool_calls=[
                    {"id": "call_x", "name": "calculator", "arguments": {"expression": "6*7"}},
                    {"name": "web_search", "arguments": {"query": "q"}},
                ],
                chunk_size=3,
            )
        )
        tools = [{"type": "function", "function": {"name": "calculator", "parameters": {}}}]
        result, tokens = call(compatible(llm), tools=tools)
        assert tokens == [] and result.text == "" and result.finish_reason == "tool_calls"
        assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
            ("call_x", "calculator", '{"expression": "6*7"}'),
            (result.tool_calls[1].id, "web_search", '{"query": "q"}'),
        ]
        assert result.tool_calls[1].id.startswith("call_")
        assert result.first_token_ms is not None
        assert llm.requests[0].body["tools"] == tools

    def test_an_error_status_is_worded_as_before(self, llm: ScriptedLLM) -> None:
        llm.set_default(Turn(status=404, error="The model does not exist"))
        message = failure(compatible(llm), gateway.CallOptions(retries=0))
        assert message == "fake/gpt-a: OpenAI-compatible server does not know model 'gpt-a'."


class TestDeadlines:
    def test_no_headers_in_time_is_a_first_token_timeout(self, llm: ScriptedLLM) -> None:
        llm.set_default(Turn(text="late", delay=30))
        message = failure(compatible(llm), gateway.CallOptions(first_token_timeout=0.3))
        assert message == (
            "fake/gpt-a: OpenAI-compatible server did not start answering within 0.3 s."
        )

    def test_the_request_timeout_still_applies(self, llm: ScriptedLLM) -> None:
        llm.set_default(Turn(text="late", delay=30))
        options = gateway.CallOptions(first_token_timeout=30, request_timeout=0.3, retries=0)
        assert failure(compatible(llm), options) == (
            "fake/gpt-a: OpenAI-compatible server did not answer in time."
        )

    def test_headers_without_a_token_in_time_is_a_first_token_timeout(
        self, llm: ScriptedLLM
    ) -> None:
        """The role chunk comes, then nothing: no token yet, so not a stall."""
        llm.set_default(Turn(text="never", stall_after_chunks=1))
        options = gateway.CallOptions(first_token_timeout=0.3, stall_timeout=30)
        assert failure(compatible(llm), options) == (
            "fake/gpt-a: OpenAI-compatible server did not start answering within 0.3 s."
        )

    def test_silence_after_a_token_is_a_stall(self, llm: ScriptedLLM) -> None:
        llm.set_default(Turn(text="partial answer", chunk_size=4, stall_after_chunks=2))
        options = gateway.CallOptions(first_token_timeout=30, stall_timeout=0.3)
        assert failure(compatible(llm), options) == (
            "fake/gpt-a: OpenAI-compatible server stopped in the middle of its answer "
            "(nothing for 0.3 s)."
        )

    def test_a_slow_token_sink_is_not_counted_against_the_model(self, llm: ScriptedLLM) -> None:
        """The deadlines time the model's waits only, not what the caller does with a token."""
        llm.set_default(Turn(text="one two three", chunk_size=4))

        async def slow(_text: str) -> None:
            await asyncio.sleep(0.4)  # sleep-ok: a sink slower than both deadlines

        options = gateway.CallOptions(first_token_timeout=0.3, stall_timeout=0.3)
        result, _ = call(compatible(llm), options, on_token=slow)
        assert result.text == "one two three" and result.attempts == []

    def test_a_timeout_error_of_the_sink_is_not_taken_for_a_model_timeout(
        self, llm: ScriptedLLM
    ) -> None:
        llm.set_default(Turn(text="hello"))

        async def failing(_text: str) -> None:
            raise TimeoutError

        with pytest.raises(gateway.LLMError) as caught:
            call(compatible(llm), gateway.CallOptions(retries=0), on_token=failing)
        assert caught.value.message == (
            "fake/gpt-a: OpenAI-compatible server did not answer in time."
        )

    def test_the_deadline_is_gone_after_the_call(self, llm: ScriptedLLM) -> None:
        """Nothing of the per-chunk deadline outlives the call: the caller's next await is
        not cancelled when the first-token time has passed."""
        llm.set_default(Turn(text="quick"))

        async def then_wait() -> str:
            result = await gateway.complete(
                [compatible(llm)], MESSAGES, options=gateway.CallOptions(first_token_timeout=0.2)
            )
            await asyncio.sleep(0.4)  # sleep-ok: longer than the first-token deadline
            return result.text

        assert asyncio.run(then_wait()) == "quick"


class AzureLLM(ScriptedLLM):
    """The scripted server on Azure's deployment route instead of OpenAI's."""

    async def _serve(self, sock: socket.socket) -> None:
        app = web.Application()
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", self._chat_counted)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner


class TestAzure:
    def test_the_deployment_url_key_and_version_are_azures(
        self, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        del llm  # only for its allow-listing of 127.0.0.1
        with AzureLLM() as azure:
            azure.set_default(Turn(text="from azure"))
            model = ResolvedModel(
                ref="az/deploy",
                label="Azure OpenAI",
                litellm_model="azure/deploy",
                api_base=azure.root_url,
                api_key="az-key",
                api_version="2024-10-21",
            )
            result, tokens = call(model)
            [sent] = azure.requests
        assert result.text == "from azure" and tokens == ["from", " azu", "re"]
        assert sent.path == "/openai/deployments/deploy/chat/completions"
        assert sent.headers["api-key"] == "az-key"
        assert sent.body["model"] == "deploy"


class TestFolding:
    """LiteLLM's chunk objects (Anthropic, Gemini, Ollama) and the SDK's parsed JSON (OpenAI,
    Azure, compatible servers) add up to the same answer."""

    WIRE: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {"choices": [{"index": 0, "delta": {"content": "Let me "}}]},
        {"choices": [{"index": 0, "delta": {"content": "check."}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "calc", "arguments": ""},
                            }
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": 1}'}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 5}},
    ]

    def test_both_readers_agree(self) -> None:
        base: dict[str, Any] = {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
        }
        from_dicts = gateway._Answer(start=0.0)
        from_objects = gateway._Answer(start=0.0)
        pieces_dicts = [p for chunk in self.WIRE for p in gateway._fold_dict(from_dicts, chunk)]
        pieces_objects = [
            p
            for chunk in self.WIRE
            for p in gateway._fold_object(from_objects, ModelResponseStream(**base, **chunk))
        ]
        assert pieces_dicts == pieces_objects == ["Let me ", "check."]
        for answer in (from_dicts, from_objects):
            assert answer.calls == {0: {"id": "call_1", "name": "calc", "arguments": '{"a": 1}'}}
            assert answer.finish_reason == "tool_calls"
            assert (answer.prompt_tokens, answer.completion_tokens) == (7, 5)
            assert answer.first_token_ms is not None
