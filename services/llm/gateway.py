"""One streamed model call across an agent's fallback chain.

LiteLLM's Router gives each model its retries, timeouts and cooldowns (a Router per chain,
kept per process so cooldowns persist between runs). The walk along the chain is ours because
LiteLLM does not fall back once a stream has started (its issue #40404): a stream that stalls
or breaks after some tokens is discarded (`on_discard`) and the next model answers instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.llm.providers import ResolvedModel

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

TokenSink = Callable[[str], Awaitable[None]]
DiscardSink = Callable[[str, str], Awaitable[None]]


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
    model: str
    error: str
    discarded_tokens: int = 0


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
    cost: Decimal
    latency_ms: int
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
    retries: int = 1
    cooldown_seconds: float = 30.0


_routers: dict[str, Any] = {}


def _router(chain: list[ResolvedModel], options: CallOptions) -> Any:
    """A Router for this exact chain and credentials, reused so cooldowns carry over."""
    from litellm import Router

    material = json.dumps(
        [[m.litellm_model, m.api_base, m.api_version, m.api_key] for m in chain]
        + [options.retries, options.cooldown_seconds, options.request_timeout]
    )
    key = hashlib.sha256(material.encode()).hexdigest()
    router = _routers.get(key)
    if router is None:
        model_list = []
        for i, model in enumerate(chain):
            params: dict[str, Any] = {
                "model": model.litellm_model,
                "api_key": model.api_key,
                "timeout": options.request_timeout,
                "stream_timeout": options.first_token_timeout,
            }
            if model.api_base:
                params["api_base"] = model.api_base
            if model.api_version:
                params["api_version"] = model.api_version
            model_list.append({"model_name": f"m{i}", "litellm_params": params})
        router = Router(
            model_list=model_list,
            num_retries=options.retries,
            retry_after=0,
            allowed_fails=3,
            cooldown_time=options.cooldown_seconds,
            timeout=options.request_timeout,
        )
        if len(_routers) > 256:
            _routers.clear()
        _routers[key] = router
    return router


def describe_error(model: ResolvedModel, exc: BaseException) -> str:
    """A sentence a person can act on, never a stack trace."""
    import litellm

    name = model.label
    if isinstance(exc, asyncio.TimeoutError | TimeoutError | litellm.Timeout):
        return f"{name} did not answer in time"
    if isinstance(exc, litellm.AuthenticationError):
        return f"{name} rejected the key"
    if isinstance(exc, litellm.RateLimitError):
        return f"{name} is rate limiting requests (429)"
    if isinstance(exc, litellm.NotFoundError):
        return f"{name} does not know model {model.ref.partition('/')[2]!r}"
    if isinstance(exc, litellm.ContextWindowExceededError):
        return f"{name}: the conversation is too long for this model"
    if isinstance(exc, litellm.BadRequestError):
        return f"{name} rejected the request: {_short(exc)}"
    if isinstance(exc, litellm.APIConnectionError):
        return f"could not connect to {name}"
    if isinstance(exc, litellm.InternalServerError | litellm.ServiceUnavailableError):
        return f"{name} had a server error"
    if isinstance(exc, StreamBroken):
        return f"{name}'s stream broke off ({exc})"
    status = getattr(exc, "status_code", None)
    return f"{name} failed ({status or type(exc).__name__}: {_short(exc)})"


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "message", "") or exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first.removeprefix("litellm.")[:200]


class StreamBroken(Exception):
    pass


def _cost(model: ResolvedModel, prompt_tokens: int, completion_tokens: int) -> Decimal:
    import litellm

    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model.litellm_model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
    except Exception:  # noqa: BLE001 - unknown to the cost map: self-hosted or new model
        return Decimal("0")
    return Decimal(str(round(prompt_cost + completion_cost, 6)))


async def _one_model(
    router: Any,
    index: int,
    model: ResolvedModel,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    options: CallOptions,
    on_token: TokenSink,
    emitted: list[int],
) -> ModelResult:
    start = time.perf_counter()
    kwargs: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}}
    if tools:
        kwargs["tools"] = tools
    if options.temperature is not None:
        kwargs["temperature"] = options.temperature
    if options.top_p is not None:
        kwargs["top_p"] = options.top_p
    if options.max_tokens is not None:
        kwargs["max_tokens"] = options.max_tokens
    stream = await asyncio.wait_for(
        router.acompletion(model=f"m{index}", messages=messages, **kwargs),
        timeout=options.first_token_timeout,
    )
    text_parts: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    finish_reason = None
    usage = None
    first_token_ms = None
    iterator = stream.__aiter__()
    while True:
        wait = options.first_token_timeout if first_token_ms is None else options.stall_timeout
        try:
            chunk = await asyncio.wait_for(iterator.__anext__(), timeout=wait)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise
        except Exception as exc:
            if emitted[0]:
                raise StreamBroken(_short(exc)) from exc
            raise
        if getattr(chunk, "usage", None):
            usage = chunk.usage
        for choice in chunk.choices or []:
            delta = choice.delta
            if choice.finish_reason:
                finish_reason = choice.finish_reason
            content = getattr(delta, "content", None)
            if content:
                if first_token_ms is None:
                    first_token_ms = int((time.perf_counter() - start) * 1000)
                text_parts.append(content)
                emitted[0] += 1
                await on_token(content)
            for tc in getattr(delta, "tool_calls", None) or []:
                if first_token_ms is None:
                    first_token_ms = int((time.perf_counter() - start) * 1000)
                slot = calls.setdefault(tc.index or 0, {"id": "", "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function is not None:
                    slot["name"] += tc.function.name or ""
                    slot["arguments"] += tc.function.arguments or ""
    prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
    return ModelResult(
        model=model.ref,
        text="".join(text_parts),
        tool_calls=[
            ToolCall(id=c["id"] or f"call_{i}", name=c["name"], arguments=c["arguments"])
            for i, c in sorted(calls.items())
        ],
        finish_reason=finish_reason,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cost=_cost(model, prompt_tokens, completion_tokens),
        latency_ms=int((time.perf_counter() - start) * 1000),
        first_token_ms=first_token_ms,
    )


async def complete(
    chain: list[ResolvedModel],
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    options: CallOptions | None = None,
    on_token: TokenSink | None = None,
    on_discard: DiscardSink | None = None,
) -> ModelResult:
    """Stream one model turn; fall back along the chain on any failure, even mid-stream."""
    if not chain:
        raise LLMError("No model is configured for this agent.")
    options = options or CallOptions()
    router = _router(chain, options)
    attempts: list[Attempt] = []

    async def _noop(_text: str) -> None:
        return None

    for index, model in enumerate(chain):
        emitted = [0]
        try:
            result = await _one_model(
                router, index, model, messages, tools or [], options, on_token or _noop, emitted
            )
        except (asyncio.CancelledError, StopCall):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure moves on to the next model
            reason = describe_error(model, exc)
            attempts.append(Attempt(model=model.ref, error=reason, discarded_tokens=emitted[0]))
            if emitted[0] and on_discard is not None:
                await on_discard(model.ref, reason)
            continue
        result.attempts = attempts
        return result
    if len(chain) == 1:
        raise LLMError(f"{chain[0].ref}: {attempts[0].error}.", attempts)
    detail = "; ".join(f"{a.model}: {a.error}" for a in attempts)
    raise LLMError(f"All {len(chain)} models failed: {detail}.", attempts)


async def ping(model: ResolvedModel) -> str | None:
    """A one-token request; None when the provider answered, else why not (in words)."""
    options = CallOptions(max_tokens=1, first_token_timeout=15, request_timeout=20, retries=0)
    try:
        await complete([model], [{"role": "user", "content": "ping"}], options=options)
    except LLMError as exc:
        return exc.message
    return None
