"""Structured logs: one JSON object per line (or a readable line in a terminal), secrets removed.

Every `logging.getLogger(...)` call of the code base (and of RQ, LiteLLM, SQLAlchemy) goes
through structlog's `ProcessorFormatter` on the root handler, so nothing had to be rewritten
and third-party lines come out in the same shape. Context (request id, org id, run id) lives
in contextvars: the request middleware and the engine bind it, each asyncio task and each
`to_thread` call carries its own copy, so a hundred runs on one loop never mix their ids. The
trace id comes from the current OpenTelemetry span when tracing is on.

Redaction runs last, after exceptions are rendered to text, so a traceback that quotes a key
is cleaned too. It is a safety net, not a licence: code still must not log secrets.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal, TextIO

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"
SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Credentials inside a URL: scheme://user:password@host
    (re.compile(r"(?<=://)([^:/\s@]*):([^@\s/]+)@"), r"\1:" + REDACTED + "@"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]+"), "Bearer " + REDACTED),
    (re.compile(r"\bap_[A-Za-z0-9_\-]{6,}"), REDACTED),  # our API keys
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), REDACTED),  # OpenAI, Anthropic, many others
    (re.compile(r"\b(?:xox[abposr]-|gh[pousr]_|github_pat_|AIza)[A-Za-z0-9_\-]{10,}"), REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"), REDACTED),  # JWTs
    # password=..., "api_key": "...", secret: ... inside free text
    (
        re.compile(
            r"(?i)\b((?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|client[_-]?secret)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"
        ),
        r"\1" + REDACTED,
    ),
)
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "api_key",
        "apikey",
        "authorization",
        "cookie",
        "set-cookie",
        "access_token",
        "refresh_token",
        "client_secret",
        "token",
        "secret_key",
    }
)


def redact_text(text: str) -> str:
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if depth > 8:
        return value
    if isinstance(value, Mapping):
        return {
            k: REDACTED if str(k).lower() in SENSITIVE_KEYS else _redact(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_redact(v, depth + 1) for v in value)
    return value


def redact_secrets(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: secrets out of every value and every sensitive key's value."""
    redacted: EventDict = _redact(event_dict)
    return redacted


# Ids learnt during a request (the org, once the API key is checked). One dict per request,
# shared by every copy of the context: FastAPI runs sync dependencies and endpoints in threads
# with copied contexts, where a contextvar set by the dependency would not reach the endpoint.
_request_notes: ContextVar[dict[str, str] | None] = ContextVar("request_notes", default=None)


def add_request_notes(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    notes = _request_notes.get()
    if notes:
        for key, value in notes.items():
            event_dict.setdefault(key, value)
    return event_dict


def add_trace_context(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


LogFormat = Literal["json", "console", "auto"]


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        add_request_notes,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_context,
    ]


def formatter(fmt: Literal["json", "console"]) -> structlog.stdlib.ProcessorFormatter:
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )


def configure(
    fmt: LogFormat = "auto", level: str = "INFO", stream: TextIO | None = None
) -> Literal["json", "console"]:
    """Route the root logger (and structlog's loggers) through one formatter; idempotent.
    `auto` is a readable line when `stream` is a terminal (`up` in a shell), JSON otherwise
    (containers, files, log shippers). Returns the format chosen."""
    out = stream or sys.stderr
    chosen: Literal["json", "console"] = (
        ("console" if out.isatty() else "json") if fmt == "auto" else fmt
    )
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter(chosen))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return chosen


@contextmanager
def bound(**values: object) -> Iterator[None]:
    """Add ids to every log line written inside the block (this task or thread only); the
    previous values come back at its end, so a sub-agent's run id never outlives its run."""
    clean = {k: str(v) for k, v in values.items() if v is not None}
    with structlog.contextvars.bound_contextvars(**clean):
        yield


@contextmanager
def scope(**values: object) -> Iterator[None]:
    """Like `bound`, and whatever `bind` adds inside the block is dropped at its end too."""
    before = structlog.contextvars.get_contextvars()
    bind(**values)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**before)


@contextmanager
def request_scope(**values: object) -> Iterator[None]:
    """A request's log context: `values` now, and what `note` adds later in the request."""
    token = _request_notes.set({})
    try:
        with scope(**values):
            yield
    finally:
        _request_notes.reset(token)


def note(**values: object) -> None:
    """Add ids to the rest of the current request's lines, from any thread serving it
    (outside a request, the same as `bind`)."""
    clean = {k: str(v) for k, v in values.items() if v is not None}
    notes = _request_notes.get()
    if notes is None:
        structlog.contextvars.bind_contextvars(**clean)
    else:
        notes.update(clean)


def bind(**values: object) -> None:
    """Add ids for the rest of the current context (a request, a run's task)."""
    structlog.contextvars.bind_contextvars(
        **{k: str(v) for k, v in values.items() if v is not None}
    )
