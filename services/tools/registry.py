"""Which built-in tools exist, and the tool set one agent gets from its config."""

from __future__ import annotations

from collections.abc import Callable

from agent_platform.models import AgentConfig
from services.tools.base import Tool, ToolSpec
from services.tools.sub_agent import SubAgent


def _builtin_factories() -> dict[str, Callable[[], Tool]]:
    from services.tools import calculator, clock, http_request, json_extract, knowledge, web_search

    factories: dict[str, Callable[[], Tool]] = {
        "calculator": calculator.Calculator,
        "current_datetime": clock.CurrentDateTime,
        "json_extract": json_extract.JsonExtract,
        "http_request": http_request.HttpRequest,
        "knowledge_search": knowledge.KnowledgeSearch,
    }
    if web_search.available():
        factories["web_search"] = web_search.WebSearch
    return factories


def builtin_specs() -> list[ToolSpec]:
    return [factory().spec for factory in _builtin_factories().values()]


def builtin_names() -> list[str]:
    return list(_builtin_factories())


def tools_for(config: AgentConfig) -> dict[str, Tool]:
    """The tools the model may call, by name: the configured built-ins, plus knowledge search
    when the agent has collections. Nothing else is offered, whatever the model asks for."""
    factories = _builtin_factories()
    tools: dict[str, Tool] = {}
    for ref in config.tools:
        if ref.kind == "builtin" and ref.name in factories:
            tools[ref.name] = factories[ref.name]()
    for ref in config.tools:
        if ref.kind == "agent":
            tool = SubAgent(
                ref.name,
                str(ref.settings.get("label") or ref.name),
                str(ref.settings.get("description", "")),
            )
            tools[tool.spec.name] = tool
    if config.memory.collections and "knowledge_search" not in tools:
        tools["knowledge_search"] = factories["knowledge_search"]()
    return tools


def unknown_tools(config: AgentConfig) -> list[str]:
    names = set(builtin_names())
    return [ref.name for ref in config.tools if ref.kind == "builtin" and ref.name not in names]
