"""One streamed model call across an agent's fallback chain.

The walk along the chain is ours, not LiteLLM Router's: a failing model gets at most one quick
retry (5xx, 429, refused connection) and then the next model answers, so an instant 500 costs
milliseconds, not seconds of back-off; `Retry-After` is honoured only for the last model, when
no fallback is left. LiteLLM does not fall back once a stream has started (its issue #40404):
a stream that stalls or breaks after some tokens is discarded (`on_discard`) and the next
model answers instead. Every failed try is an `Attempt` (model, error in words, time lost) that
the run's trace shows.

OpenAI, Azure OpenAI and OpenAI-compatible providers are called through the OpenAI SDK
directly (LiteLLM's wrapping cost more CPU than the call itself); Anthropic, Gemini and Ollama
through LiteLLM. Every call goes through the outbound guard at connect time: the SDK client
(OpenAI, Azure) or LiteLLM's HTTP handler (the others) is built on `GuardedTransport`, with
the org's private hosts added and redirects refused before their body is read, so neither a
DNS answer that changed since the provider was saved nor a 307 to loopback reaches an
internal address, and no error message can carry a redirected or refused answer's body.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import hashlib
import logging
import os
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from agent_platform.observability import metrics, tracing
from agent_platform.settings import get_settings
from services.llm.providers import ResolvedModel
from services.outbound import OutboundError, OutboundRefused, default_guard

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

TokenSink = Callable[[str], Awaitable[None]]
DiscardSink = Callable[[str, str], Awaitable[None]]
OPENAI_BASE_URL = "https://api.openai.com/v1"
# Providers whose pooled client is the OpenAI SDK's (see _new_client): called without LiteLLM.
SDK_PREFIXES = ("openai", "azure")


class StopCall(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a token sink to stop the call (e.g. the run was cancelled): not a model failure."""


class LLMError(Exception):
    """Every model of the chain failed; `message` says why for each, in plain words."""

    def __init__(self, message: str, attempts: list[Attempt] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts or []


@dataclass
class Attempt:
    """One failed try of one model: shown in the trace, its time counted in the step."""

    model: str
    error: str
    discarded_tokens: int = 0
    lost_ms: int = 0


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model sent it (may be malformed)


@dataclass
class ModelResult:
    model: str
    text: str
    tool_calls: list[ToolCall]
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal | None  # None: the model has no known price (see _cost)
    latency_ms: int  # the whole step: failed attempts and waits included
    first_token_ms: int | None
    attempts: list[Attempt] = field(default_factory=list)

    def assistant_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in self.tool_calls
            ]
        return message


@dataclass(frozen=True)
class CallOptions:
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    first_token_timeout: float = 30.0
    stall_timeout: float = 30.0
    request_timeout: float = 120.0
    retries: int = 1  # quick retries per model for 5xx, 429 and refused connections
    quick_retry_seconds: float = 0.1
    max_retry_after: float = 30.0  # a longer Retry-After (last model only) is not waited for


class StreamBroken(Exception):
    """The stream failed after tokens were sent: they are discarded, the next model answers."""


class ModelTimeout(Exception):
    """Our own deadlines: no first token in time, or a stream that went silent."""

    def __init__(self, seconds: float, *, started: bool) -> None:
        super().__init__(f"{'stalled' if started else 'no first token'} after {seconds:g} s")
        self.seconds = seconds
        self.started = started


@dataclass(frozen=True)
class Failure:
    """A failed try in words, and whether one quick retry is worth it."""

    reason: str
    retry: bool = False
    retry_after: float | None = None


def _litellm() -> Any:
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback" banners in worker logs
    # LiteLLM logs every call at INFO ("completion() model= …"): noise in worker logs and a
    # formatted record per call on the hot path. Its warnings and errors still show.
    logging.getLogger("LiteLLM").setLevel(logging.WARNING)
    return litellm


def preload() -> None:
    """Import LiteLLM now (~2.7 s): a forking worker's parent calls this so that its jobs,
    forked from it, find LiteLLM imported instead of each paying for the import."""
    _litellm()


ClientKey = tuple[Any, ...]
# Per event loop (httpx clients are bound to one); a finished loop's clients go with it.
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ClientKey, Any]] = (
    weakref.WeakKeyDictionary()
)
MAX_CLIENTS_PER_LOOP = 64


def _client_key(model: ResolvedModel, options: CallOptions) -> ClientKey:
    """What a pooled client may be shared by: the same endpoint and key, and the same allow-list
    (so a connection one org's private hosts opened is never handed to another org's call)."""
    return (
        model.litellm_model.partition("/")[0],
        model.api_base,
        model.api_version,
        hashlib.sha256((model.api_key or "").encode()).hexdigest(),
        frozenset(model.allow_hosts),
        options.request_timeout,
    )


def _guarded_client(model: ResolvedModel, options: CallOptions) -> Any:
    """The client LiteLLM must use for this model, on the guarded transport, kept per event
    loop so calls reuse connections (a TLS handshake per call costs a real provider 100 ms+).

    OpenAI-style providers take an SDK client (`AsyncOpenAI`/`AsyncAzureOpenAI` with our
    httpx client); the others take LiteLLM's `AsyncHTTPHandler` around our transport. The guard
    checks every new connection, so a pooled client never reaches an address it refuses."""
    loop_clients = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    key = _client_key(model, options)
    client = loop_clients.get(key)
    if client is None:
        if len(loop_clients) >= MAX_CLIENTS_PER_LOOP:
            loop_clients.clear()  # unreferenced clients close their pools when collected
        client = loop_clients[key] = _new_client(model, options)
    return client


def client_for(model: ResolvedModel, *, request_timeout: float = 120.0) -> Any:
    """The pooled, guarded client for any other LiteLLM call on `model` (embeddings): the same
    guard as chat calls, so no model traffic leaves the outbound checks."""
    return _guarded_client(model, CallOptions(request_timeout=request_timeout))


def _forget_client(model: ResolvedModel, options: CallOptions) -> None:
    """Drop a client whose stream failed or was abandoned: its connection may still be busy
    with an unread answer, and a fresh client is cheaper than a pool that slowly fills."""
    with contextlib.suppress(RuntimeError):
        _CLIENTS.get(asyncio.get_running_loop(), {}).pop(_client_key(model, options), None)


def _model_connections() -> int:
    """Connections one pooled model client may hold. A worker's runs share one client per
    endpoint and a streamed answer holds its connection to the end, so the pool admits as
    many calls as a worker runs at once (RUN_CONCURRENCY): at 20, 100 concurrent 1 s answers
    on 2 workers waited for connections in 3 rounds. A provider's own rate limit answers 429,
    which the fallback handles."""
    return max(20, get_settings().run_concurrency)


def _new_client(model: ResolvedModel, options: CallOptions) -> Any:
    import openai
    from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

    guard = default_guard(model.allow_hosts)
    prefix = model.litellm_model.partition("/")[0]
    if prefix in SDK_PREFIXES:
        http = guard.client(
            refuse_redirects=True,
            timeout=options.request_timeout,
            max_connections=_model_connections(),
        )
        # openai 3 types http_client as httpx2's client only, but accepts a legacy
        # httpx.AsyncClient at runtime (is_legacy_httpx_async_client); our SSRF guard is httpx's.
        if prefix == "azure":
            assert model.api_base is not None  # saved Azure providers have one (NEEDS_BASE)
            return openai.AsyncAzureOpenAI(  # type: ignore[call-overload]  # httpx, see above
                api_key=model.api_key,
                azure_endpoint=model.api_base,
                api_version=model.api_version,
                http_client=http,
                max_retries=0,
                timeout=options.request_timeout,
            )
        return openai.AsyncOpenAI(
            api_key=model.api_key,
            base_url=model.api_base or OPENAI_BASE_URL,
            http_client=http,  # type: ignore[arg-type]  # legacy httpx client, see above
            max_retries=0,
            timeout=options.request_timeout,
        )
    return AsyncHTTPHandler(
        timeout=options.request_timeout,
        transport=guard.transport(refuse_redirects=True, max_connections=_model_connections()),
        follow_redirects=False,
    )


def describe_error(model: ResolvedModel, exc: BaseException) -> str:
    """A sentence a person can act on, never a stack trace or a response body."""
    return _failure(model, exc).reason


def _failure(model: ResolvedModel, exc: BaseException) -> Failure:
    litellm = _litellm()
    name = model.label
    host = httpx.URL(model.api_base).host if model.api_base else ""
    where = f" at {host}" if host else ""
    causes = _causes(exc)

    def found(kind: type[BaseException] | tuple[type[BaseException], ...]) -> Any:
        return next((e for e in causes if isinstance(e, kind)), None)

    if isinstance(exc, ModelTimeout):
        if exc.started:
            return Failure(
                f"{name} stopped in the middle of its answer (nothing for {exc.seconds:g} s)"
            )
        return Failure(f"{name} did not start answering within {exc.seconds:g} s")
    if isinstance(exc, StreamBroken):
        return Failure(f"{name}'s answer broke off midway (the connection was lost)")
    refused = found(OutboundRefused)
    if refused is not None:
        detail = refused.message.removeprefix("Refused: ")
        return Failure(f"{name}: the outbound guard stopped this call ({detail})")
    unresolved = found(OutboundError)
    if unresolved is not None:
        return Failure(f"{name}: the host{' ' + host if host else ''} could not be found")
    if found(ConnectionRefusedError) is not None:
        return Failure(f"{name}{where} refused the connection (is it running?)", retry=True)
    status, headers = _http_status(causes)
    if status is None:
        if found((TimeoutError, httpx.TimeoutException, litellm.Timeout)) is not None:
            return Failure(f"{name} did not answer in time")
        if found((httpx.RemoteProtocolError, httpx.ReadError)) is not None:
            return Failure(f"{name} dropped the connection before it answered")
        if found((httpx.TransportError, litellm.APIConnectionError)) is not None:
            return Failure(f"could not reach {name}{where}: the connection failed")
        return Failure(f"{name} failed ({type(exc).__name__})")
    if 300 <= status < 400:
        return Failure(f"{name} answered with a redirect ({status}), which is not followed")
    if status == 401 or isinstance(exc, litellm.AuthenticationError):
        return Failure(f"{name} rejected the key")
    if status == 403:
        return Failure(f"{name} refused access with this key (403)")
    if status == 404:
        return Failure(f"{name} does not know model {model.ref.partition('/')[2]!r}")
    if status == 429:
        wait = _retry_after(headers)
        asks = f"; it asks to wait {wait:g} s" if wait is not None else ""
        return Failure(f"{name} is rate limiting requests (429{asks})", True, wait)
    if isinstance(exc, litellm.ContextWindowExceededError) or _context_too_long(causes):
        return Failure(f"{name}: the conversation is too long for this model")
    if status >= 500:
        return Failure(f"{name} had a server error ({status})", True, _retry_after(headers))
    if status == 400 or isinstance(exc, litellm.BadRequestError):
        return Failure(f"{name} rejected the request: {_short(exc)}")
    return Failure(f"{name} failed ({status}: {_short(exc)})")


def _context_too_long(causes: list[BaseException]) -> bool:
    """OpenAI's own words for an over-long conversation (LiteLLM maps them to its
    ContextWindowExceededError; a direct SDK call sees the 400 itself)."""
    for cause in causes:
        if getattr(cause, "code", None) == "context_length_exceeded":
            return True
        if "maximum context length" in str(getattr(cause, "message", "")):
            return True
    return False


def _causes(exc: BaseException) -> list[BaseException]:
    """`exc` and what it wraps: LiteLLM re-raises SDK errors that wrap httpx/socket errors."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 16:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _http_status(causes: list[BaseException]) -> tuple[int | None, Any]:
    """The status and headers of a real HTTP answer, if one came. LiteLLM's own exceptions
    subclass the SDK's status errors with a made-up 500 even when no answer came (a refused
    or dropped connection), so only httpx's error and the SDK's own classes count."""
    import openai

    for cause in causes:
        if isinstance(cause, httpx.HTTPStatusError):
            return cause.response.status_code, cause.response.headers
    for cause in causes:
        if isinstance(cause, openai.APIStatusError) and type(cause).__module__.startswith("openai"):
            return cause.response.status_code, cause.response.headers
    return None, None


def _retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _retry_wait(failure: Failure, tries: int, last: bool, options: CallOptions) -> float | None:
    """Seconds to wait before retrying this model, or None to move on to the next one."""
    if not failure.retry or tries >= options.retries:
        return None
    if last and failure.retry_after is not None:
        return failure.retry_after if failure.retry_after <= options.max_retry_after else None
    return options.quick_retry_seconds


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first.removeprefix("litellm.")[:200]


def _cost(model: ResolvedModel, prompt_tokens: int, completion_tokens: int) -> Decimal | None:
    """What the call cost in US dollars, or None when nobody knows: the org's own price for
    the model wins (it knows what it pays), else LiteLLM's price map. An unpriced model is
    None, not 0, so people see "unknown" instead of a free-looking $0."""
    if model.price is not None:
        per_input, per_output = model.price
        total = (per_input * prompt_tokens + per_output * completion_tokens) / 1_000_000
        return total.quantize(Decimal("0.000001"))
    unit = _unit_prices(model.litellm_model)
    if unit is not None:
        total = Decimal(str(unit[0])) * prompt_tokens + Decimal(str(unit[1])) * completion_tokens
        return Decimal(str(round(float(total), 6)))
    if not _known_to_price_map(model.litellm_model):
        return None
    litellm = _litellm()
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model.litellm_model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
    except Exception:  # noqa: BLE001 - unknown to the cost map: self-hosted or new model
        return None
    return Decimal(str(round(prompt_cost + completion_cost, 6)))


@functools.cache
def _unit_prices(litellm_model: str) -> tuple[float, float] | None:
    """The flat per-token prices of LiteLLM's price map for this model, looked up once: the
    map's generic lookup costs ~1 ms per call. None (use `cost_per_token`) when the entry has
    tiers (a higher price above some prompt length) or is not a plain pair of prices."""
    entry = _litellm().model_cost.get(litellm_model) or _litellm().model_cost.get(
        litellm_model.partition("/")[2]
    )
    if not isinstance(entry, dict) or any("above" in key for key in entry):
        return None
    prices = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
    if not all(isinstance(p, int | float) for p in prices):
        return None
    return float(prices[0]), float(prices[1])  # type: ignore[arg-type]  # checked just above


@functools.cache
def _known_to_price_map(litellm_model: str) -> bool:
    """Whether LiteLLM can price this model at all, asked once: a self-hosted model's failed
    lookup walks the whole map and raises, on every call otherwise."""
    try:
        _litellm().cost_per_token(model=litellm_model, prompt_tokens=1, completion_tokens=1)
    except Exception:  # noqa: BLE001 - unknown to the cost map: self-hosted or new model
        return False
    return True


@dataclass
class _Answer:
    """What the chunks of one streamed answer add up to."""

    start: float
    text_parts: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    first_token_ms: int | None = None

    def started(self) -> None:
        if self.first_token_ms is None:
            self.first_token_ms = int((time.perf_counter() - self.start) * 1000)

    def add_call(self, index: int | None, call_id: Any, name: Any, arguments: Any) -> None:
        self.started()
        slot = self.calls.setdefault(index or 0, {"id": "", "name": "", "arguments": ""})
        if call_id:
            slot["id"] = call_id
        slot["name"] += name or ""
        slot["arguments"] += arguments or ""


def _fold_dict(answer: _Answer, chunk: dict[str, Any]) -> list[str]:
    """One chunk as the SDK parsed it from the wire (a dict: see `_one_model`) into `answer`;
    returns its text pieces, to be sent to the token sink in order."""
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        answer.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        answer.completion_tokens = int(usage.get("completion_tokens") or 0)
    pieces: list[str] = []
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if choice.get("finish_reason"):
            answer.finish_reason = choice["finish_reason"]
        content = delta.get("content")
        if content:
            answer.started()
            answer.text_parts.append(content)
            pieces.append(content)
        for tc in delta.get("tool_calls") or ():
            function = tc.get("function")
            if function is None:
                answer.add_call(tc.get("index"), tc.get("id"), None, None)
            else:
                answer.add_call(
                    tc.get("index"), tc.get("id"), function.get("name"), function.get("arguments")
                )
    return pieces


def _fold_object(answer: _Answer, chunk: Any) -> list[str]:
    """`_fold_dict` for LiteLLM's chunk objects (the providers it calls)."""
    usage = getattr(chunk, "usage", None)
    if usage:
        answer.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        answer.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    pieces: list[str] = []
    for choice in chunk.choices or []:
        delta = choice.delta
        if choice.finish_reason:
            answer.finish_reason = choice.finish_reason
        content = getattr(delta, "content", None)
        if content:
            answer.started()
            answer.text_parts.append(content)
            pieces.append(content)
        for tc in getattr(delta, "tool_calls", None) or []:
            function = tc.function
            if function is None:
                answer.add_call(tc.index, tc.id, None, None)
            else:
                answer.add_call(tc.index, tc.id, function.name, function.arguments)
    return pieces


@functools.cache
def _raw_chunk_stream() -> type:
    """`openai.AsyncStream[object]`, made once; the SDK is imported with its first client."""
    import openai

    return openai.AsyncStream[object]


def _sdk_request(
    client: Any, name: str, messages: list[dict[str, Any]], params: dict[str, Any], timeout: float
) -> Awaitable[Any]:
    """A streamed chat call on the OpenAI SDK client LiteLLM would have wrapped, called directly:
    LiteLLM adds 10+ ms of CPU per streamed call (chunk re-wrapping, success logging that
    recomputes the cost) for no gain on a provider that already speaks this format.

    `client.post` is the SDK's documented route for raw requests; it is what
    `chat.completions.create` ends in (same errors, same Azure deployment URL, which
    `AsyncAzureOpenAI` derives from the path and the body's model), minus the TypedDict walk
    over the whole conversation that `create` does first to transform parameters that need
    none here. `AsyncStream[object]` yields each SSE event's JSON as parsed, instead of building
    pydantic models of every chunk: `_fold_dict` reads the few fields we use."""
    return client.post(  # type: ignore[no-any-return]  # the SDK types post by cast_to: object
        "/chat/completions",
        cast_to=object,
        body={"model": name, "messages": messages, **params},
        options={"timeout": timeout, "security": {"bearer_auth": True}},
        stream=True,
        stream_cls=_raw_chunk_stream(),
    )


async def _one_model(
    model: ResolvedModel,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    options: CallOptions,
    on_token: TokenSink,
    emitted: list[int],
) -> ModelResult:
    answer = _Answer(start=time.perf_counter())
    params: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}
    if tools:
        params["tools"] = tools
    if options.temperature is not None:
        params["temperature"] = options.temperature
    if options.top_p is not None:
        params["top_p"] = options.top_p
    if options.max_tokens is not None:
        params["max_tokens"] = options.max_tokens
    client = _guarded_client(model, options)
    prefix, _, name = model.litellm_model.partition("/")
    fold: Callable[[_Answer, Any], list[str]]
    if prefix in SDK_PREFIXES:
        request = _sdk_request(client, name, messages, params, options.request_timeout)
        fold = _fold_dict
    else:
        params.update(api_base=model.api_base, api_version=model.api_version)
        request = _litellm().acompletion(
            model=model.litellm_model,
            messages=messages,
            api_key=model.api_key,
            client=client,
            timeout=options.request_timeout,
            max_retries=0,
            **{k: v for k, v in params.items() if v is not None},
        )
        fold = _fold_object
    # Our two deadlines, each fresh per wait: the first token (the request, then each chunk
    # until text or a tool call came) and a stall (each chunk after). One `asyncio.timeout`
    # moved before every wait and lifted while the sink runs: `asyncio.wait_for` made a Task
    # per chunk. `waiting` is the deadline in force, None while the sink runs, so a
    # TimeoutError of the sink's own is not taken for ours.
    loop = asyncio.get_running_loop()
    waiting: float | None = options.first_token_timeout
    try:
        async with asyncio.timeout(options.first_token_timeout) as deadline:
            stream = await request
            iterator = stream.__aiter__()
            while True:
                waiting = (
                    options.first_token_timeout
                    if answer.first_token_ms is None
                    else options.stall_timeout
                )
                _rearm(deadline, loop.time() + waiting)
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise
                except Exception as exc:
                    if emitted[0]:
                        raise StreamBroken(_short(exc)) from exc
                    raise
                _rearm(deadline, None)
                waiting = None
                for piece in fold(answer, chunk):
                    emitted[0] += 1
                    await on_token(piece)
    except TimeoutError:
        if waiting is None:
            raise
        raise ModelTimeout(waiting, started=answer.first_token_ms is not None) from None
    return ModelResult(
        model=model.ref,
        text="".join(answer.text_parts),
        tool_calls=[
            ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments=c["arguments"])
            for i, c in sorted(answer.calls.items())
        ],
        finish_reason=answer.finish_reason,
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        cost=_cost(model, answer.prompt_tokens, answer.completion_tokens),
        latency_ms=int((time.perf_counter() - answer.start) * 1000),
        first_token_ms=answer.first_token_ms,
    )


def _rearm(deadline: asyncio.Timeout, when: float | None) -> None:
    """Move the deadline; if it fired while a stream swallowed the cancellation it sent (the
    wait then ended normally), that wait still timed out."""
    if deadline.expired():
        raise TimeoutError
    deadline.reschedule(when)


async def _noop_sink(_text: str) -> None:
    return None


async def _observed(
    model: ResolvedModel,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    options: CallOptions,
    on_token: TokenSink | None,
    emitted: list[int],
) -> ModelResult:
    """One try of one model inside its `chat` span, counted in the metrics (tokens, cost)."""
    began = time.perf_counter()
    server = httpx.URL(model.api_base).host if model.api_base and tracing.enabled() else None
    try:
        with tracing.chat_span(model.litellm_model, server, options) as span:
            result = await _one_model(
                model, messages, tools, options, on_token or _noop_sink, emitted
            )
            tracing.end_chat(
                span,
                model.litellm_model,
                result.finish_reason,
                result.prompt_tokens,
                result.completion_tokens,
            )
    except StopCall:
        raise
    except BaseException:
        metrics.record_model_call(
            model.litellm_model, ok=False, seconds=time.perf_counter() - began
        )
        raise
    metrics.record_model_call(
        model.litellm_model,
        ok=True,
        seconds=time.perf_counter() - began,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost=float(result.cost) if result.cost is not None else None,
    )
    return result


async def complete(
    chain: list[ResolvedModel],
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    options: CallOptions | None = None,
    on_token: TokenSink | None = None,
    on_discard: DiscardSink | None = None,
) -> ModelResult:
    """Stream one model turn; fall back along the chain on any failure, even mid-stream.

    Each model gets at most `options.retries` quick retries, and only for failures that may
    pass (5xx, 429, a refused connection); the last model alone waits out a Retry-After."""
    if not chain:
        raise LLMError("No model is configured for this agent.")
    options = options or CallOptions()
    attempts: list[Attempt] = []
    step_start = time.perf_counter()

    for index, model in enumerate(chain):
        tries = 0
        while True:
            emitted = [0]
            began = time.perf_counter()
            try:
                result = await _observed(model, messages, tools or [], options, on_token, emitted)
            except (asyncio.CancelledError, StopCall):
                _forget_client(model, options)
                raise
            except Exception as exc:  # noqa: BLE001 - every failure moves on to the next model
                _forget_client(model, options)
                failure = _failure(model, exc)
                attempt = Attempt(
                    model=model.ref,
                    error=failure.reason,
                    discarded_tokens=emitted[0],
                    lost_ms=int((time.perf_counter() - began) * 1000),
                )
                attempts.append(attempt)
                if emitted[0] and on_discard is not None:
                    await on_discard(model.ref, failure.reason)
                wait = _retry_wait(failure, tries, index == len(chain) - 1, options)
                if wait is None:
                    break
                tries += 1
                await asyncio.sleep(wait)
                attempt.lost_ms += int(wait * 1000)
                continue
            result.attempts = attempts
            result.latency_ms = int((time.perf_counter() - step_start) * 1000)
            return result
    if len(chain) == 1:
        raise LLMError(f"{chain[0].ref}: {attempts[-1].error}.", attempts)
    failed = list(dict.fromkeys(f"{a.model}: {a.error}" for a in attempts))
    raise LLMError(f"All {len(chain)} models failed: {'; '.join(failed)}.", attempts)


async def ping(model: ResolvedModel) -> str | None:
    """A one-token request; None when the provider answered, else why not (in words)."""
    options = CallOptions(max_tokens=1, first_token_timeout=15, request_timeout=20, retries=0)
    try:
        await complete([model], [{"role": "user", "content": "ping"}], options=options)
    except LLMError as exc:
        return exc.message
    return None
