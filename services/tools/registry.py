"""Which built-in tools exist, and the tool set one agent gets from its config."""

from __future__ import annotations

from collections.abc import Callable

from agent_platform.models import AgentConfig
from services.integrations.providers import find_action
from services.tools import calculator, clock, http_request, json_extract, knowledge, web_search
from services.tools.base import Tool
from services.tools.integration_action import IntegrationAction, tool_name
from services.tools.sub_agent import SubAgent


def _builtin_factories() -> dict[str, Callable[[], Tool]]:
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
    tools.update(_integration_tools(config))
    if config.memory.collections and "knowledge_search" not in tools:
        tools["knowledge_search"] = factories["knowledge_search"]()
    return tools


def _integration_tools(config: AgentConfig) -> dict[str, Tool]:
    """One tool per granted (action, connection); grants that no longer resolve are left out
    (saving validates them; a provider removed from the catalog must not break old versions)."""
    refs = [r for r in config.tools if r.kind == "integration" and r.settings.get("connection")]
    counts: dict[str, int] = {}
    for ref in refs:
        counts[ref.name] = counts.get(ref.name, 0) + 1
    builtins = {r.name for r in config.tools if r.kind == "builtin"} | {"knowledge_search"}
    tools: dict[str, Tool] = {}
    for ref in refs:
        action = find_action(str(ref.settings.get("provider", "")), ref.name)
        if action is None:
            continue
        connection_name = str(ref.settings.get("connection_name") or "connection")
        plain = ref.name.replace(".", "_")
        name = tool_name(
            ref.name,
            connection_name,
            str(ref.settings["connection"]),
            qualify=counts[ref.name] > 1 or plain in builtins,
        )
        tools[name] = IntegrationAction(
            action,
            str(ref.settings["connection"]),
            connection_name,
            name=name,
            approval=bool(ref.settings.get("approval", False)),
        )
    return tools
