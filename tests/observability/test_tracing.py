"""OpenTelemetry GenAI spans of a real run (scripted model server, real engine and gateway):
`invoke_agent` over `chat` and `execute_tool`, with the semantic conventions' names."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as semconv
from opentelemetry.trace import SpanKind, StatusCode

from agent_platform.observability import tracing
from agent_platform.settings import Settings
from tests.fakes.openai_server import Turn
from tests.services.runtime_helpers import execute, make_agent, org_with_provider, start

OTLP_PORT = 8517


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    yield exporter
    tracing.use_provider(None)
    provider.shutdown()


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def test_a_run_with_a_tool_call_is_one_span_tree(spans, session, llm) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor, name="Math helper", tools=[{"name": "calculator"}])
    llm.script(
        Turn(tool_calls=[{"name": "calculator", "arguments": {"expression": "6*7"}}]),
        Turn(text="It is 42."),
    )
    run, _events = execute(start(actor, agent_id, "what is 6*7?"))
    assert run.status.value == "succeeded", run.error
    found = by_name(spans)
    assert sorted((n, len(s)) for n, s in found.items()) == [
        ("chat gpt-a", 2),
        ("execute_tool calculator", 1),
        ("invoke_agent Math helper", 1),
    ]
    [agent] = found["invoke_agent Math helper"]
    assert agent.parent is None and agent.kind == SpanKind.INTERNAL
    assert agent.attributes is not None
    assert agent.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert agent.attributes["gen_ai.agent.name"] == "Math helper"
    assert agent.attributes["gen_ai.agent.id"] == str(agent_id)
    assert agent.attributes["agent_platform.run.id"] == str(run.id)
    assert agent.status.status_code != StatusCode.ERROR
    children = [*found["chat gpt-a"], *found["execute_tool calculator"]]
    for child in children:
        assert child.parent is not None and child.parent.span_id == agent.context.span_id
        assert child.context.trace_id == agent.context.trace_id
    first, second = sorted(found["chat gpt-a"], key=lambda s: s.start_time or 0)
    for chat in (first, second):
        assert chat.kind == SpanKind.CLIENT and chat.attributes is not None
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.provider.name"] == "openai"
        assert chat.attributes["gen_ai.request.model"] == "gpt-a"
        assert chat.attributes["gen_ai.response.model"] == "gpt-a"
        assert chat.attributes["server.address"] == "127.0.0.1"
    assert first.attributes is not None and second.attributes is not None
    assert first.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert second.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    usage = sum(
        int(c.attributes[k])
        for c in (first, second)
        for k in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens")
    )
    assert usage == run.tokens_used > 0
    [tool] = found["execute_tool calculator"]
    assert tool.attributes is not None
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["gen_ai.tool.name"] == "calculator"
    assert tool.attributes["gen_ai.tool.type"] == "function"
    assert tool.attributes["gen_ai.tool.call.id"]
    assert tool.start_time > first.end_time and tool.end_time < second.start_time
    text = str([dict(s.attributes or {}) for s in spans.get_finished_spans()])
    assert "what is 6*7" not in text and "It is 42" not in text  # no tenant data on spans


def test_failures_mark_their_spans(spans, session, llm) -> None:
    actor = org_with_provider(session, llm.base_url)
    agent_id = make_agent(session, actor, tools=[{"name": "calculator"}])
    llm.script(
        Turn(tool_calls=[{"name": "calculator", "arguments": {"expression": "1/0"}}]),
        Turn(status=401, error="bad key"),
    )
    run, _events = execute(start(actor, agent_id))
    assert run.status.value == "failed"
    found = by_name(spans)
    [tool] = found["execute_tool calculator"]
    assert tool.status.status_code == StatusCode.ERROR
    failed_chat = max(found["chat gpt-a"], key=lambda s: s.start_time or 0)
    assert failed_chat.status.status_code == StatusCode.ERROR
    [agent] = found["invoke_agent Helper"]
    assert agent.status.status_code == StatusCode.ERROR
    assert agent.attributes is not None and agent.attributes["error.type"] == "failed"


def test_without_an_endpoint_nothing_is_traced() -> None:
    assert tracing.configure("") is False and not tracing.enabled()
    with tracing.agent_span("r") as span, tracing.tool_span("calculator", "c1") as tool:
        assert not span.is_recording() and not tool.is_recording()
        tracing.name_agent(span, "Helper", "a1", None)  # no-ops, no error
        tracing.end_agent(span, "failed", "boom")


def test_attribute_names_are_the_semantic_conventions() -> None:
    assert tracing.OPERATION == semconv.GEN_AI_OPERATION_NAME
    assert tracing.PROVIDER == semconv.GEN_AI_PROVIDER_NAME
    assert tracing.AGENT_NAME == semconv.GEN_AI_AGENT_NAME
    assert tracing.AGENT_ID == semconv.GEN_AI_AGENT_ID
    assert tracing.CONVERSATION_ID == semconv.GEN_AI_CONVERSATION_ID
    assert tracing.REQUEST_MODEL == semconv.GEN_AI_REQUEST_MODEL
    assert tracing.REQUEST_TEMPERATURE == semconv.GEN_AI_REQUEST_TEMPERATURE
    assert tracing.REQUEST_TOP_P == semconv.GEN_AI_REQUEST_TOP_P
    assert tracing.REQUEST_MAX_TOKENS == semconv.GEN_AI_REQUEST_MAX_TOKENS
    assert tracing.RESPONSE_MODEL == semconv.GEN_AI_RESPONSE_MODEL
    assert tracing.RESPONSE_FINISH_REASONS == semconv.GEN_AI_RESPONSE_FINISH_REASONS
    assert tracing.INPUT_TOKENS == semconv.GEN_AI_USAGE_INPUT_TOKENS
    assert tracing.OUTPUT_TOKENS == semconv.GEN_AI_USAGE_OUTPUT_TOKENS
    assert tracing.TOOL_NAME == semconv.GEN_AI_TOOL_NAME
    assert tracing.TOOL_CALL_ID == semconv.GEN_AI_TOOL_CALL_ID
    assert tracing.TOOL_TYPE == semconv.GEN_AI_TOOL_TYPE
    ops = semconv.GenAiOperationNameValues
    assert {ops.CHAT.value, ops.INVOKE_AGENT.value, ops.EXECUTE_TOOL.value} == {
        "chat",
        "invoke_agent",
        "execute_tool",
    }


class Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


def test_spans_are_exported_over_otlp_http_when_an_endpoint_is_set() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", OTLP_PORT), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert tracing.configure(f"http://127.0.0.1:{OTLP_PORT}/", "ap-test") is True
        with tracing.agent_span("run-1"):
            pass
        tracing.shutdown()  # flushes the batch
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    [(path, content_type, body)] = Collector.received
    assert path == "/v1/traces" and content_type == "application/x-protobuf"
    assert b"invoke_agent" in body and b"ap-test" in body and b"run-1" in body
    assert not tracing.enabled()


def test_the_endpoint_setting_takes_http_urls_only() -> None:
    assert Settings(otel_exporter_otlp_endpoint="https://otel.internal:4318")
    with pytest.raises(ValueError, match="http"):
        Settings(otel_exporter_otlp_endpoint="file:///etc/passwd")
