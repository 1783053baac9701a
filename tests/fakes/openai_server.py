"""A scripted, OpenAI-compatible HTTP server that stands in for LLM vendors in tests and benchmarks.

It speaks OpenAI's real Chat Completions wire format (JSON bodies, SSE streams ending in
``data: [DONE]``, tool-call deltas, ``usage``, error bodies with real HTTP statuses) so that the
production client stack -- LiteLLM on top of the ``openai`` SDK and httpx -- runs unmodified
against it. Pointing LiteLLM at it::

    with ScriptedLLM() as llm:
        llm.script(Turn(text="Hello"), Turn(tool_calls=[{"name": "calc", "arguments": {}}]))
        litellm.completion(model="openai/gpt-a", api_base=llm.base_url, api_key="x", ...)

Each chat request pops the next scripted :class:`Turn` for its model (the ``model`` field of the
request body, e.g. ``"gpt-a"`` for LiteLLM's ``"openai/gpt-a"``), falling back to the shared
queue and then to the default turn (an echo of the last user message unless changed).

The server runs on its own event loop in a background thread, so synchronous tests and
``asyncio.run`` tests can both use it, and waiting (``delay``, ``chunk_delay``, stalls) is
``asyncio.sleep`` so hundreds of slow requests cost nothing but sockets.

Run as a separate process (scripted over HTTP via ``/_script``, ``/_default``, ``/_reset``,
``/_requests``, ``/_pending``)::

    python -m tests.fakes.openai_server --port 0
    # prints e.g. http://127.0.0.1:40123/v1 once it accepts connections
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import itertools
import json
import math
import signal
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

EMBEDDING_DIMS = 64
DEFAULT_MODELS = ("gpt-a", "gpt-b")

# OpenAI's (type, code) per status, so the SDK and LiteLLM map errors exactly as in production.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    408: ("server_error", "timeout"),
    409: ("invalid_request_error", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", None),
}


class ToolCall(BaseModel):
    """One function call the scripted assistant makes.

    ``arguments`` is serialized with ``json.dumps`` (a ``str`` is sent verbatim);
    ``raw_arguments`` wins over ``arguments`` and is sent as-is, for malformed-JSON scenarios.
    ``id`` defaults to ``call_<n>`` with a per-server counter.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    arguments: dict[str, Any] | list[Any] | str | None = None
    raw_arguments: str | None = None
    id: str | None = None

    def arguments_string(self, turn_raw: str | None) -> str:
        if self.raw_arguments is not None:
            return self.raw_arguments
        if turn_raw is not None:
            return turn_raw
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps({} if self.arguments is None else self.arguments)


class Turn(BaseModel):
    """One scripted response. Fields combine freely (e.g. a delayed, stalled tool-call stream).

    A turn with neither ``text`` nor ``tool_calls`` (and no error ``status``) echoes the last
    user message as ``"echo: <content>"`` -- so ``Turn(delay=1.0)`` is "echo, but slowly".

    Stream chunk counting (for ``stall_after_chunks`` / ``break_after_chunks``) counts every SSE
    ``data:`` event, including the leading role-only event, the final ``finish_reason`` event
    and the usage event; ``[DONE]`` is never counted.

    A stall keeps the socket open and silent for ``stall_seconds``, then *resumes* the stream, so
    one knob covers both "client timeout fires" (client patience < stall) and "slow but
    complete" (patience > stall). A break closes the TCP connection mid chunked body, which
    clients see as a transport error. Without ``stream``, a stall delays the whole response and
    a break closes the connection before any response bytes.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = None
    chunk_size: int = Field(default=4, ge=1)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    raw_arguments: str | None = None  # replaces every tool call's arguments (malformed JSON)
    status: int = Field(default=200, ge=100, le=599)
    error: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    retry_after: float | None = None
    delay: float = Field(default=0.0, ge=0)
    chunk_delay: float = Field(default=0.0, ge=0)
    stall_after_chunks: int | None = Field(default=None, ge=0)
    stall_seconds: float = Field(default=60.0, ge=0)
    break_after_chunks: int | None = Field(default=None, ge=0)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None  # merged over the computed usage
    headers: dict[str, str] = Field(default_factory=dict)  # extra response headers

    @property
    def is_error(self) -> bool:
        return self.status >= 400 or self.error is not None


TurnLike = Turn | Mapping[str, Any]


def as_turn(value: TurnLike) -> Turn:
    return value if isinstance(value, Turn) else Turn.model_validate(dict(value))


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received. Indexable like the ``/_requests`` JSON
    (``rec["body"]``) so code can move between in-process and subprocess mode unchanged."""

    method: str
    path: str
    model: str | None
    body: Any
    headers: dict[str, str]
    received_at: float = field(default_factory=time.time)
    peer_port: int | None = None  # the client's port: equal ports, one reused connection

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the text parts of a multimodal list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def _prompt_tokens(messages: Any) -> int:
    if not isinstance(messages, list):
        return 1
    chars = 0
    for m in messages:
        if not isinstance(m, dict):
            continue
        chars += len(_content_text(m.get("content")))
        for tc in m.get("tool_calls") or ():
            fn = tc.get("function", {}) if isinstance(tc, dict) else {}
            chars += len(str(fn.get("name", ""))) + len(str(fn.get("arguments", "")))
    return max(1, math.ceil(chars / 4))


def _last_user_text(messages: Any) -> str:
    if isinstance(messages, list):
        for m in reversed(messages):
            if isinstance(m, dict) and m.get("role") == "user":
                return _content_text(m.get("content"))
    return ""


def _peer_port(request: web.Request) -> int | None:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return int(peer[1]) if peer else None


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def embed(text: str, dims: int = EMBEDDING_DIMS) -> list[float]:
    """Deterministic unit vector for ``text``: same text, same vector, across processes."""
    raw = b""
    counter = 0
    while len(raw) < dims * 4:
        raw += hashlib.sha256(f"{counter}:{text}".encode()).digest()
        counter += 1
    ints = struct.unpack(f"<{dims}I", raw[: dims * 4])
    vec = [(i / 0xFFFFFFFF) * 2 - 1 for i in ints]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


class ScriptedLLM:
    """OpenAI-compatible fake on ``127.0.0.1``; see the module docstring.

    Thread-safety: ``script``/``set_default``/``reset``/``requests`` may be called from any
    thread while requests are in flight; queue pops happen on the server thread under a lock.
    """

    def __init__(
        self,
        port: int = 0,
        host: str = "127.0.0.1",
        *,
        models: Iterable[str] = DEFAULT_MODELS,
        max_recorded: int | None = None,
        shutdown_timeout: float = 0.5,
    ) -> None:
        """``max_recorded`` caps the request log (oldest dropped) for long benchmarks;
        ``shutdown_timeout`` bounds how long ``stop()`` waits for in-flight (e.g. stalled)
        requests before cancelling them."""
        self.host = host
        self._requested_port = port
        self._models = list(models)
        self._shutdown_timeout = shutdown_timeout
        self._lock = threading.Lock()
        self._shared: deque[Turn] = deque()
        self._by_model: dict[str, deque[Turn]] = {}
        self._default = Turn()
        self._requests: deque[RecordedRequest] = deque(maxlen=max_recorded)
        self._ids = itertools.count(1)
        self._in_flight = 0
        self._peak_in_flight = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL (what LiteLLM wants as ``api_base``)."""
        return f"{self.root_url}/v1"

    @property
    def root_url(self) -> str:
        """Server root; the admin endpoints (``/_script`` ...) live here."""
        if self.port is None:
            raise RuntimeError("ScriptedLLM is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> ScriptedLLM:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Bind ourselves so port 0 yields a known free port without racing another process.
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(
            target=loop.run_forever, name=f"ScriptedLLM:{self.port}", daemon=True
        )
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(sock), loop).result(10)
        return self

    async def _serve(self, sock: socket.socket) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat_counted)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/_script", self._admin_script)
        app.router.add_post("/_default", self._admin_default)
        app.router.add_post("/_reset", self._admin_reset)
        app.router.add_get("/_requests", self._admin_requests)
        app.router.add_get("/_pending", self._admin_pending)
        # handler_cancellation: a client that gives up on a stalled or delayed request frees
        # its handler at once instead of leaving a sleeping task behind.
        runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=self._shutdown_timeout,
        )
        await runner.setup()
        await web.SockSite(runner, sock, backlog=2048).start()
        self._runner = runner

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(
                    self._shutdown_timeout + 10
                )
            finally:
                self._runner = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> ScriptedLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- scripting API

    def script(self, *turns: TurnLike, model: str | None = None) -> None:
        """Enqueue turns (FIFO) for ``model`` (as sent in the request body) or the shared queue."""
        parsed = [as_turn(t) for t in turns]
        with self._lock:
            if model is None:
                self._shared.extend(parsed)
            else:
                self._by_model.setdefault(model, deque()).extend(parsed)

    def set_default(self, turn: TurnLike | None = None) -> None:
        """Behaviour when no turn is queued; ``None`` restores the echo."""
        with self._lock:
            self._default = Turn() if turn is None else as_turn(turn)

    def reset(self) -> None:
        """Drop queued turns and recorded requests and restore the echo default."""
        with self._lock:
            self._shared.clear()
            self._by_model.clear()
            self._default = Turn()
            self._requests.clear()
            self._peak_in_flight = self._in_flight

    def clear(self) -> None:
        """Forget recorded requests (queues untouched)."""
        with self._lock:
            self._requests.clear()

    def pending(self, model: str | None = None) -> int:
        """Turns still queued: for one model's queue, or (``None``) everything."""
        with self._lock:
            if model is not None:
                return len(self._by_model.get(model, ()))
            return len(self._shared) + sum(len(q) for q in self._by_model.values())

    @property
    def requests(self) -> list[RecordedRequest]:
        """Snapshot of recorded ``/v1/*`` requests, oldest first (admin calls not recorded)."""
        with self._lock:
            return list(self._requests)

    @property
    def peak_in_flight(self) -> int:
        """Most chat requests open at the same moment since start or ``reset()``: lets a test
        check a concurrency cap from the vendor's side instead of sampling at guessed times."""
        with self._lock:
            return self._peak_in_flight

    def _next_turn(self, model: str | None) -> Turn:
        with self._lock:
            queue = self._by_model.get(model) if model is not None else None
            if queue:
                return queue.popleft()
            if self._shared:
                return self._shared.popleft()
            return self._default

    def _record(self, request: web.Request, body: Any) -> None:
        model = body.get("model") if isinstance(body, dict) else None
        rec = RecordedRequest(
            method=request.method,
            path=request.path,
            model=model if isinstance(model, str) else None,
            body=body,
            headers=dict(request.headers),
            peer_port=_peer_port(request),
        )
        with self._lock:
            self._requests.append(rec)

    # ----------------------------------------------------------------- responses

    @staticmethod
    def _error_response(
        status: int,
        message: str,
        *,
        type_: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        default_type, default_code = _ERROR_KINDS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        body = {
            "error": {
                "message": message,
                "type": type_ or default_type,
                "param": None,
                "code": code if code is not None else default_code,
            }
        }
        return web.Response(
            status=status,
            text=_dumps(body),
            content_type="application/json",
            headers=dict(headers or {}),
        )

    async def _read_json(self, request: web.Request) -> Any:
        try:
            return await request.json(loads=json.loads)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    async def _chat_counted(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
        try:
            return await self._chat(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._read_json(request)
        self._record(request, body)
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._error_response(400, "Request body must be JSON with a 'messages' list.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return self._error_response(400, "you must provide a model parameter")
        turn = self._next_turn(model)

        if turn.delay:
            await asyncio.sleep(turn.delay)  # sleep-ok: scripted delay
        headers = {"x-request-id": f"req_{uuid.uuid4().hex[:16]}", **turn.headers}
        if turn.is_error:
            status = turn.status if turn.status >= 400 else 500
            if turn.retry_after is not None:
                headers["retry-after"] = f"{turn.retry_after:g}"
                headers["retry-after-ms"] = str(int(turn.retry_after * 1000))
            return self._error_response(
                status,
                turn.error or "scripted error",
                type_=turn.error_type,
                code=turn.error_code,
                headers=headers,
            )

        text = turn.text
        if text is None and not turn.tool_calls:
            text = "echo: " + _last_user_text(body["messages"])
        calls = [
            (tc.id or f"call_{next(self._ids)}", tc.name, tc.arguments_string(turn.raw_arguments))
            for tc in turn.tool_calls
        ]
        finish = turn.finish_reason or ("tool_calls" if calls else "stop")
        completion_chars = len(text or "") + sum(len(n) + len(a) for _, n, a in calls)
        usage: dict[str, Any] = {
            "prompt_tokens": _prompt_tokens(body["messages"]),
            "completion_tokens": math.ceil(completion_chars / 4),
        }
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if turn.usage:
            usage.update(turn.usage)
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"

        if body.get("stream"):
            opts = body.get("stream_options")
            include_usage = isinstance(opts, dict) and bool(opts.get("include_usage"))
            return await self._stream(
                request,
                turn,
                model,
                completion_id,
                text,
                calls,
                finish,
                usage,
                include_usage,
                headers,
            )

        if turn.break_after_chunks is not None:
            # Non-streaming "break": drop the connection without any response.
            self._abort(request)
            raise asyncio.CancelledError
        if turn.stall_after_chunks is not None:
            await asyncio.sleep(turn.stall_seconds)  # sleep-ok: scripted stall
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in calls
            ]
        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_scripted",
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": usage,
        }
        return web.Response(text=_dumps(payload), content_type="application/json", headers=headers)

    async def _stream(
        self,
        request: web.Request,
        turn: Turn,
        model: str,
        completion_id: str,
        text: str | None,
        calls: list[tuple[str, str, str]],
        finish: str,
        usage: dict[str, Any],
        include_usage: bool,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        created = int(time.time())
        base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_scripted",
        }

        def event(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            chunk = {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": delta,
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
            }
            if include_usage:
                chunk["usage"] = None  # OpenAI sends null usage on every chunk but the last
            return f"data: {_dumps(chunk)}\n\n".encode()

        # Same event sequence as OpenAI: role, content pieces, per tool call a header event
        # (index, id, name, empty arguments) then argument fragments, finish, usage, [DONE].
        role = {"role": "assistant", "content": "" if text is not None else None, "refusal": None}
        events = [event(role)]
        events += [event({"content": piece}) for piece in _split(text or "", turn.chunk_size)]
        for index, (cid, name, args) in enumerate(calls):
            header = {"index": index, "id": cid, "type": "function"}
            header["function"] = {"name": name, "arguments": ""}
            events.append(event({"tool_calls": [header]}))
            events += [
                event({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                for piece in _split(args, turn.chunk_size)
            ]
        events.append(event({}, finish))
        if include_usage:
            events.append(f"data: {_dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode())
        events.append(b"data: [DONE]\n\n")

        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                **headers,
            }
        )
        await resp.prepare(request)

        stop_at = len(events)
        if turn.break_after_chunks is not None:
            stop_at = min(stop_at, turn.break_after_chunks)
        stall_at = turn.stall_after_chunks
        if stall_at is not None and stall_at >= stop_at:
            stall_at = None

        async def send(part: list[bytes]) -> None:
            if not part:
                return
            if turn.chunk_delay:
                for i, data in enumerate(part):
                    if i or sent_any:
                        await asyncio.sleep(turn.chunk_delay)  # sleep-ok: scripted pace
                    await resp.write(data)
            else:
                await resp.write(b"".join(part))  # one write: tiny per-request overhead

        sent_any = False
        if stall_at is not None:
            await send(events[:stall_at])
            sent_any = stall_at > 0
            await asyncio.sleep(turn.stall_seconds)  # sleep-ok: scripted stall
            await send(events[stall_at:stop_at])
        else:
            await send(events[:stop_at])

        if stop_at < len(events):
            # Let the already-written bytes reach the socket, then drop the connection so
            # the client sees a truncated chunked body (a transport error mid-stream).
            self._abort(request)
            raise asyncio.CancelledError
        await resp.write_eof()
        return resp

    @staticmethod
    def _abort(request: web.Request) -> None:
        transport = request.transport
        if transport is not None:
            transport.close()  # close() flushes buffered bytes first; abort() would drop them

    async def _list_models(self, request: web.Request) -> web.Response:
        self._record(request, None)
        with self._lock:
            names = list(dict.fromkeys([*self._models, *self._by_model]))
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "scripted"} for n in names]
        return web.json_response({"object": "list", "data": data}, dumps=_dumps)

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await self._read_json(request)
        self._record(request, body)
        if not isinstance(body, dict) or "input" not in body:
            return self._error_response(400, "Request body must be JSON with an 'input' field.")
        raw = body["input"]
        # Token-array inputs (list[int] / list[list[int]]) are hashed by their repr.
        if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
            inputs = [raw]
        elif isinstance(raw, list):
            inputs = raw
        else:
            return self._error_response(400, "'input' must be a string or a list.")
        texts = [x if isinstance(x, str) else _dumps(x) for x in inputs]
        dims = body.get("dimensions") or EMBEDDING_DIMS
        if not isinstance(dims, int) or dims < 1:
            return self._error_response(400, "'dimensions' must be a positive integer.")
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vec = embed(text, dims)
            value: Any = (
                base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if as_base64 else vec
            )
            data.append({"object": "embedding", "index": i, "embedding": value})
        tokens = max(1, math.ceil(sum(len(t) for t in texts) / 4))
        payload = {
            "object": "list",
            "data": data,
            "model": body.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return web.json_response(payload, dumps=_dumps)

    # ----------------------------------------------------------------- admin endpoints

    async def _admin_script(self, request: web.Request) -> web.Response:
        """Body: a list of turns, or ``{"model": ..., "turns": [...]}``; ``?model=`` also works."""
        body = await self._read_json(request)
        model = request.query.get("model")
        turns = body
        if isinstance(body, dict):
            model = body.get("model", model)
            turns = body.get("turns")
        if not isinstance(turns, list):
            return self._error_response(400, "expected a list of turns")
        try:
            self.script(*turns, model=model)
        except (ValueError, TypeError) as exc:
            return self._error_response(400, f"invalid turn: {exc}")
        return web.json_response({"queued": len(turns), "pending": self.pending()})

    async def _admin_default(self, request: web.Request) -> web.Response:
        body = await self._read_json(request)
        if body is not None and not isinstance(body, dict):
            return self._error_response(400, "expected a turn object or null")
        try:
            self.set_default(body)
        except ValueError as exc:
            return self._error_response(400, f"invalid turn: {exc}")
        return web.json_response({"ok": True})

    async def _admin_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _admin_requests(self, request: web.Request) -> web.Response:
        return web.json_response([r.to_dict() for r in self.requests], dumps=_dumps)

    async def _admin_pending(self, request: web.Request) -> web.Response:
        return web.json_response({"pending": self.pending(request.query.get("model"))})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Scripted OpenAI-compatible server")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--max-recorded", type=int, default=None)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    llm = ScriptedLLM(args.port, args.host, max_recorded=args.max_recorded).start()
    print(llm.base_url, flush=True)  # readiness signal: the socket is already listening
    try:
        while not stop.wait(0.5):
            pass
    finally:
        llm.stop()


if __name__ == "__main__":
    main()


__all__ = ["EMBEDDING_DIMS", "RecordedRequest", "ScriptedLLM", "ToolCall", "Turn", "embed", "main"]
