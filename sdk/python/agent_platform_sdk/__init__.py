"""Python SDK of the Agent Platform REST API (/api/v1): sync and async clients with typed
models and streaming, agents defined as classes, and agent files deployed from git."""

from .async_client import AsyncClient
from .client import Client
from .definition import Agent, Memory, Tool
from .errors import ApiError, RateLimited, StreamError
from .models import (
    AgentDetail,
    AgentInfo,
    DiscardEvent,
    EndEvent,
    Page,
    Run,
    RunDetail,
    RunEvent,
    Step,
    StepEvent,
    TokenEvent,
    Version,
)

__all__ = [
    "Agent",
    "AgentDetail",
    "AgentInfo",
    "ApiError",
    "AsyncClient",
    "Client",
    "DiscardEvent",
    "EndEvent",
    "Memory",
    "Page",
    "RateLimited",
    "Run",
    "RunDetail",
    "RunEvent",
    "Step",
    "StepEvent",
    "StreamError",
    "TokenEvent",
    "Tool",
    "Version",
]
