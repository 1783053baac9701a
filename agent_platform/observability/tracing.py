"""OpenTelemetry spans of agent runs, named and attributed by the GenAI semantic conventions.

A run is `invoke_agent {agent name}`; each model call under it is `chat {model}` and each tool
call is `execute_tool {tool name}` (semantic conventions v1.37+: `gen_ai.provider.name`
replaced `gen_ai.system`). Prompts and answers are not put on spans: they are the tenants'
data and would leave the platform with the traces.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: then nothing is created at all (the helpers
below hand out one shared non-recording span), so an instance without a collector pays a
function call per model or tool call, not the SDK's context bookkeeping.

Why the OTLP exporter does not go through services/outbound.py (the SSRF guard): the guard
exists for URLs that tenants type (HTTP tools, provider base URLs), which must never reach
the internal network. The collector endpoint is set by the operator in the environment, like
DATABASE_URL and REDIS_URL, is usually on that very internal network, and no tenant can
change it; routing it through the guard would refuse the normal setup, and allow-listing
would add nothing. Only http(s) URLs are accepted (settings validate it).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
AGENT_NAME = "gen_ai.agent.name"
AGENT_ID = "gen_ai.agent.id"
CONVERSATION_ID = "gen_ai.conversation.id"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_TYPE = "gen_ai.tool.type"
ERROR_TYPE = "error.type"
SERVER_ADDRESS = "server.address"
RUN_ID = "agent_platform.run.id"  # ours: find the run in the UI from a trace

_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None


def enabled() -> bool:
    return _tracer is not None


def use_provider(provider: TracerProvider | None) -> None:
    """Trace into `provider` (tests pass one with an in-memory exporter); None turns it off."""
    global _provider, _tracer
    _provider = provider
    _tracer = provider.get_tracer("agent_platform") if provider is not None else None


def configure(endpoint: str, service_name: str = "agent-platform") -> bool:
    """Export spans over OTLP/HTTP to `endpoint` (the collector's base URL); off when empty.
    Returns whether tracing is on."""
    if not endpoint:
        use_provider(None)
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    use_provider(provider)
    return True


def flush(timeout_ms: int = 5000) -> None:
    """Send what is buffered: a forked job exits with `os._exit`, which runs no atexit hook."""
    if _provider is not None:
        _provider.force_flush(timeout_ms)


def shutdown() -> None:
    """Send what is buffered and stop the exporter's thread; tracing is off afterwards."""
    provider = _provider
    use_provider(None)
    if provider is not None:
        provider.shutdown()


@contextmanager
def _span(name: str, kind: SpanKind, attributes: dict[str, Any]) -> Iterator[Span]:
    if _tracer is None:
        yield INVALID_SPAN
        return
    with _tracer.start_as_current_span(name, kind=kind, attributes=attributes) as span:
        yield span


def agent_span(run_id: object) -> AbstractContextManager[Span]:
    """The run's span; named once the run is claimed and its agent known (`name_agent`)."""
    return _span(
        "invoke_agent",
        SpanKind.INTERNAL,
        {OPERATION: "invoke_agent", PROVIDER: "agent_platform", RUN_ID: str(run_id)},
    )


def name_agent(span: Span, name: str, agent_id: object, conversation_id: object) -> None:
    if not span.is_recording():
        return
    if name:
        span.update_name(f"invoke_agent {name}")
        span.set_attribute(AGENT_NAME, name)
    if agent_id is not None:
        span.set_attribute(AGENT_ID, str(agent_id))
    if conversation_id is not None:
        span.set_attribute(CONVERSATION_ID, str(conversation_id))


def end_agent(span: Span, status: str, error: str | None) -> None:
    if not span.is_recording():
        return
    span.set_attribute("agent_platform.run.status", status)
    if error is not None:
        span.set_attribute(ERROR_TYPE, status)
        span.set_status(Status(StatusCode.ERROR, error[:200]))


def chat_span(litellm_model: str, server: str | None, options: Any) -> AbstractContextManager[Span]:
    """One model call. `litellm_model` is `provider/model` as LiteLLM names it."""
    provider, _, model = litellm_model.partition("/")
    if _tracer is None:
        return _span("", SpanKind.CLIENT, {})
    attributes: dict[str, Any] = {
        OPERATION: "chat",
        PROVIDER: provider or "openai",
        REQUEST_MODEL: model or litellm_model,
    }
    for key, value in (
        (REQUEST_TEMPERATURE, options.temperature),
        (REQUEST_TOP_P, options.top_p),
        (REQUEST_MAX_TOKENS, options.max_tokens),
        (SERVER_ADDRESS, server),
    ):
        if value is not None:
            attributes[key] = value
    return _span(f"chat {model or litellm_model}", SpanKind.CLIENT, attributes)


def end_chat(
    span: Span, model: str, finish_reason: str | None, input_tokens: int, output_tokens: int
) -> None:
    if not span.is_recording():
        return
    span.set_attribute(RESPONSE_MODEL, model.partition("/")[2] or model)
    if finish_reason:
        span.set_attribute(RESPONSE_FINISH_REASONS, [finish_reason])
    span.set_attribute(INPUT_TOKENS, input_tokens)
    span.set_attribute(OUTPUT_TOKENS, output_tokens)


def tool_span(name: str, call_id: str) -> AbstractContextManager[Span]:
    if _tracer is None:
        return _span("", SpanKind.INTERNAL, {})
    return _span(
        f"execute_tool {name}",
        SpanKind.INTERNAL,
        {OPERATION: "execute_tool", TOOL_NAME: name, TOOL_CALL_ID: call_id, TOOL_TYPE: "function"},
    )


def end_tool(span: Span, error: str | None) -> None:
    if error is not None and span.is_recording():
        span.set_attribute(ERROR_TYPE, "tool_error")
        span.set_status(Status(StatusCode.ERROR, error[:200]))
