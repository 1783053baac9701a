"""The agent runtime end to end: real DB, Redis, LiteLLM, against the scripted model server."""

from __future__ import annotations

import json
import uuid

import pytest

from agent_platform.db import session_scope
from agent_platform.models import ExecutionStatus
from services import runs
from services.errors import Invalid, NotFound
from tests.factories import make_user, personal_actor
from tests.fakes.openai_server import Turn
from tests.services.runtime_helpers import execute, make_agent, org_with_provider, start
from tests.waiting import wait_until


def steps_of(run_id: uuid.UUID, actor) -> list:
    with session_scope() as s:
        steps = runs.get_steps(s, actor, run_id)
        for step in steps:
            s.expunge(step)
        return steps


class TestPlainAnswers:
    def test_streamed_answer_is_stored_with_tokens_and_published(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, instructions="Be brief, {{name}}.")
        llm.script(Turn(text="Hello there, friend!", chunk_size=3, chunk_delay=0.01))
        run, events = execute(start(actor, agent_id, "hi", variables={"name": "Ada"}))
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        assert run.output == {"text": "Hello there, friend!"}
        assert run.tokens_used > 0 and run.latency_ms is not None
        streamed = "".join(e["text"] for e in events if e["type"] == "token")
        assert streamed == "Hello there, friend!", events
        assert events[-1]["type"] == "done" and events[-1]["status"] == "succeeded"
        sent = llm.requests[-1]["body"]["messages"]
        assert sent[0] == {"role": "system", "content": "Be brief, Ada."}
        assert sent[-1] == {"role": "user", "content": "hi"}
        [step] = steps_of(run.id, actor)
        assert (
            step.kind == "model" and step.model == "fake/gpt-a" and step.tokens == run.tokens_used
        )

    def test_executing_a_run_twice_does_nothing_the_second_time(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        run_id = start(actor, make_agent(session, actor))
        execute(run_id)
        before = len(llm.requests)
        run, events = execute(run_id)
        assert run.status == ExecutionStatus.SUCCEEDED
        assert events == [] and len(llm.requests) == before

    def test_thread_history_is_sent_within_the_window(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor)
        with session_scope() as s:
            thread_id = runs.new_thread(s, actor, agent_id, title="t").id
        execute(start(actor, agent_id, "first question", thread_id=thread_id))
        execute(start(actor, agent_id, "second question", thread_id=thread_id))
        roles = [(m["role"], m["content"]) for m in llm.requests[-1]["body"]["messages"][1:]]
        assert roles == [
            ("user", "first question"),
            ("assistant", "echo: first question"),
            ("user", "second question"),
        ]


class TestTools:
    def test_tool_call_loop(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, tools=[{"name": "calculator"}])
        llm.script(
            Turn(tool_calls=[{"name": "calculator", "arguments": {"expression": "6*7"}}]),
            Turn(text="It is 42."),
        )
        run, events = execute(start(actor, agent_id, "what is 6*7?"))
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        kinds = [(s.kind, s.tool_name) for s in steps_of(run.id, actor)]
        assert kinds == [("model", None), ("tool", "calculator"), ("model", None)]
        tool_message = llm.requests[-1]["body"]["messages"][-1]
        assert (
            tool_message["role"] == "tool" and json.loads(tool_message["content"])["result"] == 42
        )
        assert llm.requests[0]["body"]["tools"][0]["function"]["name"] == "calculator"
        assert any(e["type"] == "step" and e["kind"] == "tool" for e in events)

    def test_several_tool_calls_in_one_turn_all_run(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(
            session, actor, tools=[{"name": "calculator"}, {"name": "current_datetime"}]
        )
        llm.script(
            Turn(
                tool_calls=[
                    {"name": "calculator", "arguments": {"expression": "1+1"}},
                    {"name": "current_datetime", "arguments": {"timezone": "UTC"}},
                ]
            ),
            Turn(text="done"),
        )
        run, _ = execute(start(actor, agent_id))
        tools = [s for s in steps_of(run.id, actor) if s.kind == "tool"]
        assert sorted(t.tool_name for t in tools) == ["calculator", "current_datetime"]
        assert all(t.error is None for t in tools)

    def test_malformed_arguments_become_a_tool_error_the_model_sees(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, tools=[{"name": "calculator"}])
        llm.script(
            Turn(tool_calls=[{"name": "calculator", "arguments": {}}], raw_arguments="{not json"),
            Turn(text="sorry"),
        )
        run, _ = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.SUCCEEDED
        tool = next(s for s in steps_of(run.id, actor) if s.kind == "tool")
        assert "not valid JSON" in tool.error
        assert "not valid JSON" in llm.requests[-1]["body"]["messages"][-1]["content"]

    def test_a_tool_the_agent_was_not_given_is_refused(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor)
        llm.script(
            Turn(tool_calls=[{"name": "http_request", "arguments": {"url": "http://x"}}]),
            Turn(text="ok"),
        )
        run, _ = execute(start(actor, agent_id))
        tool = next(s for s in steps_of(run.id, actor) if s.kind == "tool")
        assert tool.error.startswith("Unknown tool 'http_request'")


class TestFallback:
    @pytest.mark.parametrize(
        "failure",
        [
            Turn(status=500, error="upstream exploded"),
            Turn(status=429, error="slow down"),
            Turn(delay=5),  # no first token within the 3 s budget
        ],
        ids=["500", "429", "timeout"],
    )
    def test_first_model_fails_and_the_fallback_answers(self, session, llm, failure) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, fallback_models=["fake/gpt-b"])
        llm.script(failure, failure, model="gpt-a")  # the call and its one retry
        llm.script(Turn(text="from b"), model="gpt-b")
        run, _ = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        assert run.output == {"text": "from b"}
        [step] = steps_of(run.id, actor)
        assert step.model == "fake/gpt-b"
        assert step.response["attempts"][0]["model"] == "fake/gpt-a"

    def test_stalled_stream_is_discarded_and_the_fallback_streams_anew(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, fallback_models=["fake/gpt-b"])
        llm.script(
            Turn(text="partial answer that stalls", chunk_size=4, stall_after_chunks=3),
            model="gpt-a",
        )
        llm.script(Turn(text="complete answer"), model="gpt-b")
        run, events = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        assert run.output == {"text": "complete answer"}
        kinds = [e["type"] for e in events]
        assert "discard" in kinds
        after = kinds.index("discard")
        assert (
            "".join(e["text"] for e in events[after:] if e["type"] == "token") == "complete answer"
        )

    def test_all_models_failing_gives_one_clear_message(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, fallback_models=["fake/gpt-b"])
        llm.script(*[Turn(status=401, error="Incorrect API key provided")] * 2, model="gpt-a")
        llm.script(*[Turn(status=500, error="boom")] * 2, model="gpt-b")
        run, events = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.FAILED
        assert run.error.startswith(
            "All 2 models failed: fake/gpt-a: OpenAI-compatible server rejected the key"
        )
        assert "fake/gpt-b: OpenAI-compatible server had a server error" in run.error
        assert "Traceback" not in run.error
        assert events[-1] == {**events[-1], "type": "done", "status": "failed"}

    def test_a_model_without_a_configured_provider_says_so(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, model="openai/gpt-4o")
        run, _ = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.FAILED
        assert run.error.startswith("No model provider named 'openai' is configured")


class TestOutputSchema:
    SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

    def test_one_repair_attempt_then_valid_json(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, output={"format": "json", "json_schema": self.SCHEMA})
        llm.script(Turn(text='{"town": "Paris"}'), Turn(text='```json\n{"city": "Paris"}\n```'))
        run, _ = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        assert run.output["json"] == {"city": "Paris"}
        assert (
            "did not match the required JSON schema"
            in llm.requests[-1]["body"]["messages"][-1]["content"]
        )

    def test_still_invalid_after_repair_fails_clearly(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, output={"format": "json", "json_schema": self.SCHEMA})
        llm.script(Turn(text="not json"), Turn(text="[1, 2]"))
        run, _ = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.FAILED
        assert run.error.startswith("The answer did not match the output schema: (root):")


class TestLifecycle:
    def test_cancel_a_queued_run(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        run_id = start(actor, make_agent(session, actor))
        with session_scope() as s:
            runs.cancel_run(s, actor, run_id)
        run, _ = execute(run_id)
        assert run.status == ExecutionStatus.CANCELLED and llm.requests == []

    def test_cancel_a_running_run(self, session, llm) -> None:
        import threading

        actor = org_with_provider(session, llm.base_url)
        run_id = start(actor, make_agent(session, actor))
        # A 4 s stream: the cancel lands while the model is still answering.
        llm.script(Turn(text="x" * 400, chunk_size=2, chunk_delay=0.02))

        def cancel_once_the_model_is_asked() -> None:
            wait_until(lambda: llm.requests, 30, what="the model call started")
            with session_scope() as s:
                outcome.append(runs.cancel_run(s, actor, run_id).status)

        outcome: list[ExecutionStatus] = []
        canceller = threading.Thread(target=cancel_once_the_model_is_asked)
        canceller.start()
        run, _ = execute(run_id)
        canceller.join(30)
        assert outcome == [ExecutionStatus.RUNNING]
        assert run.status == ExecutionStatus.CANCELLED, (run.error, run.latency_ms, run.output)
        assert len(run.output or "") < 400  # stopped mid-stream, not after the whole answer

    def test_the_run_timeout_ends_the_run(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, timeout_seconds=1, first_token_timeout_seconds=5)
        llm.script(Turn(delay=3))
        run, _ = execute(start(actor, agent_id))
        assert run.status == ExecutionStatus.TIMED_OUT

    def test_another_orgs_run_is_not_found(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        run_id = start(actor, make_agent(session, actor))
        stranger = personal_actor(session, make_user(session))
        with session_scope() as s, pytest.raises(NotFound):
            runs.get_run(s, stranger, run_id)
        with session_scope() as s, pytest.raises(NotFound):
            runs.cancel_run(s, stranger, run_id)

    def test_starting_needs_a_message(self, session, llm) -> None:
        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor)
        with session_scope() as s, pytest.raises(Invalid) as err:
            runs.start_run(s, actor, agent_id, message="")
        assert "message" in err.value.fields


class TestReconciler:
    def test_running_without_a_lease_fails_and_stale_queued_is_enqueued_again(
        self, session, llm
    ) -> None:
        from datetime import timedelta

        from agent_platform.models import Execution
        from agent_platform.models.base import utcnow
        from agent_platform.worker import queue

        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor)
        crashed, lost = start(actor, agent_id), start(actor, agent_id)
        queue("agents").empty()
        with session_scope() as s:
            row = s.get(Execution, crashed)
            row.status, row.started_at = ExecutionStatus.RUNNING, utcnow() - timedelta(minutes=5)
            s.get(Execution, lost).created_at = utcnow() - timedelta(minutes=5)
        with session_scope() as s:
            outcome = runs.reconcile(s, alive=lambda ids: set())
        assert outcome == {"requeued": 1, "failed": 1}
        with session_scope() as s:
            assert s.get(Execution, crashed).status == ExecutionStatus.FAILED
            assert "worker running this run stopped" in s.get(Execution, crashed).error
        assert queue("agents").job_ids == [str(lost)]


class TestAgentsAsTools:
    def test_an_agent_hands_a_task_to_another_agent(self, session, llm) -> None:
        from services.tools.sub_agent import tool_name

        actor = org_with_provider(session, llm.base_url)
        helper = make_agent(session, actor, model="fake/gpt-b", instructions="You translate.")
        router = make_agent(session, actor, tools=[{"kind": "agent", "name": str(helper)}])
        name = tool_name("Helper", str(helper))
        llm.script(
            Turn(tool_calls=[{"name": name, "arguments": {"message": "translate hi"}}]),
            model="gpt-a",
        )
        llm.script(Turn(text="bonjour"), model="gpt-b")
        llm.script(Turn(text="It is bonjour."), model="gpt-a")
        run, _ = execute(start(actor, router, "how do you say hi in French?"))
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        tool = next(s for s in steps_of(run.id, actor) if s.kind == "tool")
        assert tool.result["answer"] == "bonjour"
        child_id = uuid.UUID(tool.result["run_id"])
        with session_scope() as s:
            child = runs.get_run(s, actor, child_id)
            assert child.agent_id == helper and child.input["parent_run_id"] == str(run.id)

    def test_an_agent_calling_itself_stops_at_the_depth_limit(self, session, llm) -> None:
        from services import agents
        from services.tools.sub_agent import tool_name

        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor)
        agents.update_agent(
            session,
            actor,
            agent_id,
            config={"model": "fake/gpt-a", "tools": [{"kind": "agent", "name": str(agent_id)}]},
        )
        session.commit()
        call = Turn(
            tool_calls=[
                {"name": tool_name("Helper", str(agent_id)), "arguments": {"message": "again"}}
            ]
        )
        llm.set_default(call)
        llm.script(
            call, call, call, Turn(text="gave up"), Turn(text="gave up"), Turn(text="gave up")
        )
        run, _ = execute(start(actor, agent_id))
        errors = [s.error for s in steps_of(run.id, actor) if s.kind == "tool"]
        llm.set_default(None)
        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        assert errors == [None], errors  # the first hand-off ran...
        with session_scope() as s:
            children = [r for r, _ in runs.list_runs(s, actor)[0] if r.id != run.id]
            deepest = [r for r in children if r.input.get("parent_run_id") != str(run.id)]
            child_steps = runs.get_steps(s, actor, deepest[0].id)
            refused = [st.error for st in child_steps if st.kind == "tool"]
        assert refused == [
            "Agents may hand off at most 2 levels deep (a loop?)."
        ]  # ...the loop stopped

    def test_an_unknown_agent_tool_is_refused_on_save(self, session, llm) -> None:
        from services import agents

        actor = org_with_provider(session, llm.base_url)
        with pytest.raises(Invalid) as err:
            agents.create_agent(
                session,
                actor,
                name="x",
                config={"tools": [{"kind": "agent", "name": str(uuid.uuid4())}]},
            )
        assert err.value.fields == {"tools": "Unknown agent"}


class TestReplay:
    def test_replay_runs_the_same_input_on_the_same_version(self, session, llm) -> None:
        from services import agents

        actor = org_with_provider(session, llm.base_url)
        agent_id = make_agent(session, actor, instructions="v1")
        first, _ = execute(start(actor, agent_id, "same question"))
        agents.update_agent(
            session, actor, agent_id, config={"model": "fake/gpt-a", "instructions": "v2"}
        )
        session.commit()
        with session_scope() as s:
            again_id = runs.replay(s, actor, first.id).id
        again, _ = execute(again_id)
        assert again.status == ExecutionStatus.SUCCEEDED
        assert again.agent_version_id == first.agent_version_id
        assert llm.requests[-1]["body"]["messages"][0]["content"] == "v1"
        assert llm.requests[-1]["body"]["messages"][-1]["content"] == "same question"
