"""Model calls reuse their connections within a worker, never across allow-lists."""

from __future__ import annotations

import asyncio

import pytest

from agent_platform.settings import get_settings
from services.llm import gateway
from services.llm.providers import ResolvedModel
from tests.fakes.openai_server import ScriptedLLM, Turn

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def llm(llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    """Nothing private open on the instance: each call names the hosts it may reach."""
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "")
    get_settings.cache_clear()
    llm.set_default(Turn(text="hello"))
    return llm


def _model(llm: ScriptedLLM, allow_hosts: tuple[str, ...]) -> ResolvedModel:
    return ResolvedModel(
        ref="p/gpt-a",
        label="OpenAI-compatible server",
        litellm_model="openai/gpt-a",
        api_base=llm.base_url,
        api_key="sk-test",
        api_version=None,
        allow_hosts=allow_hosts,
    )


def _ports(llm: ScriptedLLM) -> list[int | None]:
    return [r.peer_port for r in llm.requests if r.path.endswith("/chat/completions")]


def test_calls_in_one_worker_reuse_the_connection(llm: ScriptedLLM) -> None:
    model = _model(llm, ("127.0.0.1",))

    async def three_calls() -> None:
        for _ in range(3):
            assert (await gateway.complete([model], HI)).text == "hello"

    asyncio.run(three_calls())
    ports = _ports(llm)
    assert len(ports) == 3 and None not in ports
    assert len(set(ports)) == 1, ports


def test_another_allow_list_gets_its_own_connection(llm: ScriptedLLM) -> None:
    first = _model(llm, ("127.0.0.1",))
    second = _model(llm, ("127.0.0.1", "ollama.internal"))

    async def both() -> None:
        await gateway.complete([first], HI)
        await gateway.complete([second], HI)
        await gateway.complete([first], HI)

    asyncio.run(both())
    ports = _ports(llm)
    assert ports[0] == ports[2] and ports[0] != ports[1], ports


def test_a_failed_stream_is_not_reused(llm: ScriptedLLM) -> None:
    model = _model(llm, ("127.0.0.1",))
    llm.script(Turn(text="partial answer", break_after_chunks=2), Turn(text="again"))

    async def broken_then_fine() -> None:
        with pytest.raises(gateway.LLMError):
            await gateway.complete([model], HI, options=gateway.CallOptions(retries=0))
        assert (await gateway.complete([model], HI)).text == "again"

    asyncio.run(broken_then_fine())
    ports = _ports(llm)
    assert len(ports) == 2 and ports[0] != ports[1], ports
