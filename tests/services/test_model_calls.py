"""Model calls: through the outbound guard at connect time, and fast, visible fallback.

Real DB, Redis, LiteLLM and its SDK clients against scripted OpenAI-compatible servers; the
only fakes are the servers on the vendor's wire.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from aiohttp import web
from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import ExecutionStatus, ProviderCredential
from agent_platform.settings import get_settings
from services import runs
from services.errors import Invalid
from services.llm import gateway, providers
from services.llm.providers import ResolvedModel
from services.runtime.follow import step_event
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import execute, make_agent, org_with_provider, start

CANARY = "CANARY-BODY-OF-THE-REDIRECT"
SECRET = "INTERNAL-ANSWER-NEVER-SHOWN"


class RedirectingLLM(ScriptedLLM):
    """A model server on an allowed host that answers every chat call with a redirect."""

    status = 307
    target = ""

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self._record(request, None)
        return web.Response(
            status=self.status, headers={"Location": self.target}, text=f"{CANARY} {self.target}"
        )


def allow(monkeypatch: pytest.MonkeyPatch, hosts: str) -> None:
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", hosts)
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def llm(llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    """The 'internal' server on 127.0.0.1 that a redirect tries to reach; nothing private is
    open until a test says so (`allow`)."""
    allow(monkeypatch, "")
    llm.set_default(Turn(text=SECRET))
    return llm


def steps_of(run_id: uuid.UUID, actor) -> list:
    with session_scope() as s:
        steps = runs.get_steps(s, actor, run_id)
        for step in steps:
            s.expunge(step)
        return steps


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestRedirects:
    @pytest.mark.parametrize("status", [307, 303])
    def test_redirect_to_loopback_is_refused_and_its_body_shown_nowhere(
        self, session: Session, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch, status: int
    ) -> None:
        allow(monkeypatch, "127.0.0.2")  # only the redirecting host is open, not 127.0.0.1
        with RedirectingLLM(host="127.0.0.2") as redirector:
            redirector.status = status
            redirector.target = llm.base_url + "/chat/completions"
            actor = org_with_provider(session, redirector.base_url)
            run, events = execute(start(actor, make_agent(session, actor)))
            provider = session.exec(
                select(ProviderCredential).where(ProviderCredential.org_id == actor.org_id)
            ).one()
            with session_scope() as s:
                target = providers.connection_target(s, actor, provider.id)
            check = asyncio.run(gateway.ping(target))
            with session_scope() as s:
                providers.record_check(s, actor, provider.id, error=check)
            session.refresh(provider)
            assert len(redirector.requests) >= 2  # the run and the connection check got there
        assert llm.requests == []  # nothing reached the internal server
        assert run.status == ExecutionStatus.FAILED
        assert f"answered with a redirect ({status})" in run.error
        assert provider.last_error is not None and "redirect" in provider.last_error
        [step] = steps_of(run.id, actor)
        shown = json.dumps(
            [run.error, provider.last_error, check, step.error, step.response, events],
            default=str,
        )
        assert CANARY not in shown and SECRET not in shown
        assert llm.root_url not in shown  # nor where the redirect pointed

    def test_every_provider_kind_connects_only_through_the_guard(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A bypass (LiteLLM's own client) would connect to the listening loopback socket."""
        allow(monkeypatch, "")
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            listener.setblocking(False)
            base = f"http://127.0.0.1:{listener.getsockname()[1]}"
            kinds = {
                "OpenAI-compatible server": ("openai/gpt-a", f"{base}/v1", None),
                "Anthropic": ("anthropic/claude-x", base, None),
                "Google Gemini": ("gemini/gemini-x", base, None),
                "Azure OpenAI": ("azure/deploy", base, "2024-10-21"),
                "Ollama": ("ollama_chat/llama3", base, None),
            }
            for label, (litellm_model, api_base, version) in kinds.items():
                model = ResolvedModel(
                    ref=f"p/{litellm_model}",
                    label=label,
                    litellm_model=litellm_model,
                    api_base=api_base,
                    api_key="sk-test",
                    api_version=version,
                )
                with pytest.raises(gateway.LLMError) as caught:
                    asyncio.run(
                        gateway.complete(
                            [model],
                            [{"role": "user", "content": "hi"}],
                            options=gateway.CallOptions(first_token_timeout=5),
                        )
                    )
                assert "the outbound guard stopped this call" in caught.value.message, label
                assert "loopback" in caught.value.message, label
            with pytest.raises(BlockingIOError):
                listener.accept()  # no connection was ever made

    def test_the_orgs_allow_list_is_what_lets_a_model_through(
        self, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        allow(monkeypatch, "")
        llm.set_default(Turn(text="hello"))
        model = ResolvedModel(
            ref="p/gpt-a",
            label="OpenAI-compatible server",
            litellm_model="openai/gpt-a",
            api_base=llm.base_url,
            api_key="sk-test",
            api_version=None,
            allow_hosts=("127.0.0.1",),
        )
        result = asyncio.run(gateway.complete([model], [{"role": "user", "content": "hi"}]))
        assert result.text == "hello" and result.attempts == []


class TestSave:
    def test_provider_with_an_unresolvable_host_is_refused_with_a_clear_message(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        allow(monkeypatch, "")
        with pytest.raises(Invalid) as caught:
            org_with_provider(session, "https://models.no-such-host.invalid/v1")
        message = caught.value.message
        assert message.startswith("The host 'models.no-such-host.invalid' could not be found")
        assert caught.value.fields["api_base"] == message
        assert "Errno" not in message and "gaierror" not in message

    def test_provider_on_a_private_address_says_how_to_open_it(
        self, session: Session, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        allow(monkeypatch, "")
        with pytest.raises(Invalid) as caught:
            org_with_provider(session, "http://127.0.0.1:11434")
        assert "127.0.0.1 is a loopback address" in caught.value.message
        assert "Private hosts this organization may reach" in caught.value.message


class TestFallback:
    @pytest.fixture
    def open_llm(self, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
        allow(monkeypatch, "127.0.0.1")
        llm.set_default(None)
        return llm

    def test_an_instant_500_moves_on_after_one_quick_retry_and_shows_in_the_trace(
        self, session: Session, open_llm: ScriptedLLM, capsys: pytest.CaptureFixture[str]
    ) -> None:
        actor = org_with_provider(session, open_llm.base_url)
        agent_id = make_agent(session, actor, fallback_models=["fake/gpt-b"])
        open_llm.set_default(Turn(status=500, error="upstream exploded"))
        open_llm.script(Turn(text="from b"), model="gpt-b")
        began = time.perf_counter()
        run, events = execute(start(actor, agent_id))
        took_ms = (time.perf_counter() - began) * 1000
        lost = [a["lost_ms"] for a in steps_of(run.id, actor)[0].response["attempts"]]
        with capsys.disabled():  # the figure for the report; timing is not asserted
            print(f"\n[fallback] 500 then gpt-b: run {took_ms:.0f} ms, lost per attempt {lost} ms")
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        assert [r.model for r in open_llm.requests] == ["gpt-a", "gpt-a", "gpt-b"]
        [step] = steps_of(run.id, actor)
        attempts = step.response["attempts"]
        assert [a["model"] for a in attempts] == ["fake/gpt-a", "fake/gpt-a"]
        assert all(
            a["error"] == "OpenAI-compatible server had a server error (500)" for a in attempts
        )
        assert all(isinstance(a["lost_ms"], int) and a["lost_ms"] >= 0 for a in attempts)
        assert step.latency_ms >= sum(a["lost_ms"] for a in attempts)
        assert step_event(step)["attempts"] == attempts  # what the run page renders
        [live] = [e for e in events if e["type"] == "step"]
        assert live["attempts"] == attempts  # what the playground renders while it runs
        assert "upstream exploded" not in json.dumps(attempts)

    def test_a_refused_connection_says_so(self, session: Session, open_llm: ScriptedLLM) -> None:
        actor = org_with_provider(session, open_llm.base_url)
        with session_scope() as s:
            providers.save_provider(
                s,
                actor,
                {
                    "name": "down",
                    "kind": "openai_compatible",
                    "api_base": f"http://127.0.0.1:{closed_port()}/v1",
                    "models": ["gpt-z"],
                },
            )
        agent_id = make_agent(session, actor, model="down/gpt-z", fallback_models=["fake/gpt-b"])
        run, _ = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        [step] = steps_of(run.id, actor)
        errors = [a["error"] for a in step.response["attempts"]]
        assert (
            errors
            == ["OpenAI-compatible server at 127.0.0.1 refused the connection (is it running?)"] * 2
        )
        assert not any("server error" in e for e in errors)

    def test_retry_after_is_not_waited_for_while_a_fallback_is_left(
        self, session: Session, open_llm: ScriptedLLM
    ) -> None:
        actor = org_with_provider(session, open_llm.base_url)
        agent_id = make_agent(session, actor, fallback_models=["fake/gpt-b"], timeout_seconds=20)
        open_llm.set_default(Turn(status=429, error="slow down", retry_after=60))
        open_llm.script(Turn(text="from b"), model="gpt-b")
        run, _ = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.SUCCEEDED, run.error  # no 60 s wait: no timeout
        [step] = steps_of(run.id, actor)
        assert step.response["attempts"][0]["error"] == (
            "OpenAI-compatible server is rate limiting requests (429; it asks to wait 60 s)"
        )

    def test_the_last_model_waits_out_a_short_retry_after(
        self, session: Session, open_llm: ScriptedLLM
    ) -> None:
        actor = org_with_provider(session, open_llm.base_url)
        agent_id = make_agent(session, actor)
        open_llm.script(Turn(status=429, error="slow down", retry_after=0.4), Turn(text="ok"))
        run, _ = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        [step] = steps_of(run.id, actor)
        [attempt] = step.response["attempts"]
        assert attempt["lost_ms"] >= 400  # the wait is time lost, and counted in the step

    def test_an_error_that_will_not_pass_is_not_retried(
        self, session: Session, open_llm: ScriptedLLM
    ) -> None:
        actor = org_with_provider(session, open_llm.base_url)
        agent_id = make_agent(session, actor, fallback_models=["fake/gpt-b"])
        open_llm.set_default(Turn(status=401, error="Incorrect API key provided"))
        open_llm.script(Turn(text="from b"), model="gpt-b")
        run, _ = execute(start(actor, agent_id))
        assert [r.model for r in open_llm.requests] == ["gpt-a", "gpt-b"]
        [step] = steps_of(run.id, actor)
        assert [a["error"] for a in step.response["attempts"]] == [
            "OpenAI-compatible server rejected the key"
        ]

    def test_a_conversation_too_long_for_the_model_is_named_as_such(
        self, session: Session, open_llm: ScriptedLLM
    ) -> None:
        actor = org_with_provider(session, open_llm.base_url)
        agent_id = make_agent(session, actor)
        open_llm.set_default(
            Turn(
                status=400,
                error="This model's maximum context length is 8192 tokens.",
                error_code="context_length_exceeded",
            )
        )
        run, _ = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.FAILED
        assert "the conversation is too long for this model" in (run.error or "")

    def test_stalls_and_broken_streams_are_worded_for_people(
        self, session: Session, open_llm: ScriptedLLM
    ) -> None:
        actor = org_with_provider(session, open_llm.base_url)
        agent_id = make_agent(
            session, actor, fallback_models=["fake/gpt-b"], first_token_timeout_seconds=1
        )
        open_llm.script(
            Turn(text="partial answer that stalls", chunk_size=4, stall_after_chunks=3),
            Turn(text="partial answer that breaks", chunk_size=4, break_after_chunks=3),
            model="gpt-a",
        )
        open_llm.script(Turn(text="complete"), model="gpt-b")
        run, _ = execute(start(actor, agent_id))
        open_llm.script(Turn(text="complete"), model="gpt-b")
        second, _ = execute(start(actor, agent_id))
        errors = [steps_of(r.id, actor)[0].response["attempts"][0]["error"] for r in (run, second)]
        assert errors == [
            "OpenAI-compatible server stopped in the middle of its answer (nothing for 1 s)",
            "OpenAI-compatible server's answer broke off midway (the connection was lost)",
        ]

    def test_a_connection_dropped_before_any_token_is_worded_for_people(
        self, session: Session, open_llm: ScriptedLLM
    ) -> None:
        actor = org_with_provider(session, open_llm.base_url)
        agent_id = make_agent(session, actor, fallback_models=["fake/gpt-b"])
        open_llm.script(Turn(text="never sent", break_after_chunks=0), model="gpt-a")
        open_llm.script(Turn(text="from b"), model="gpt-b")
        run, _ = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        [step] = steps_of(run.id, actor)
        assert [a["error"] for a in step.response["attempts"]] == [
            "OpenAI-compatible server dropped the connection before it answered"
        ]

    def test_when_every_model_fails_the_failed_step_keeps_each_attempt(
        self, session: Session, open_llm: ScriptedLLM
    ) -> None:
        actor = org_with_provider(session, open_llm.base_url)
        agent_id = make_agent(session, actor, fallback_models=["fake/gpt-b"])
        open_llm.set_default(Turn(status=503, error="overloaded"))
        run, events = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.FAILED
        assert run.error == (
            "All 2 models failed: fake/gpt-a: OpenAI-compatible server had a server error (503); "
            "fake/gpt-b: OpenAI-compatible server had a server error (503)."
        )
        [step] = steps_of(run.id, actor)
        assert [a["model"] for a in step.response["attempts"]] == ["fake/gpt-a"] * 2 + [
            "fake/gpt-b"
        ] * 2
        assert step.latency_ms == sum(a["lost_ms"] for a in step.response["attempts"])
        [live] = [e for e in events if e["type"] == "step"]
        assert live["error"] == run.error and len(live["attempts"]) == 4
