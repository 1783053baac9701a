"""Agents defined as code, kept in git beside the code that calls them:

    class SupportBot(Agent):
        name = "Support bot"
        model = "openai/gpt-4o-mini"
        instructions = "Answer questions about orders."
        tools = [Tool.builtin("calculator")]
        memory = Memory.vector(namespace="help-center")

    SupportBot().deploy(client)     # creates the agent, or updates the one with that name

The class turns into the agent config the platform stores (the builder shows the same agent);
the server checks it like any save, so a wrong model reference or an unknown tool is an
`ApiError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .async_client import AsyncClient
from .client import Client
from .models import AgentDetail


@dataclass(frozen=True)
class Tool:
    """A tool the agent may call."""

    kind: str
    name: str
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def builtin(cls, name: str, **settings: Any) -> Tool:
        """A platform tool: calculator, clock, http_request, json_extract, web_search,
        knowledge_search."""
        return cls("builtin", name, dict(settings))

    @classmethod
    def integration(cls, action: str, *, connection: str, **settings: Any) -> Tool:
        """An action of a connected integration (`connection`: the connection's id)."""
        return cls("integration", action, {"connection": connection, **settings})

    @classmethod
    def agent(cls, agent_id: str) -> Tool:
        """Another agent of the organization, called as a tool."""
        return cls("agent", agent_id)

    def to_config(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "settings": dict(self.settings)}


@dataclass(frozen=True)
class Memory:
    """What the agent remembers: the conversation's last `window` messages and the knowledge
    collections it searches (a namespace is a knowledge collection's name)."""

    collections: tuple[str, ...] = ()
    conversation: bool = True
    window: int = 10

    @classmethod
    def vector(cls, namespace: str, *more: str, window: int = 10) -> Memory:
        """Search the knowledge collection(s) named here (plus the conversation)."""
        return cls((namespace, *more), True, window)

    @classmethod
    def conversation_only(cls, window: int = 10) -> Memory:
        return cls((), True, window)

    @classmethod
    def none(cls) -> Memory:
        return cls((), False, 0)

    def to_config(self) -> dict[str, Any]:
        return {
            "collections": list(self.collections),
            "conversation": self.conversation,
            "window": self.window,
        }


class Agent:
    """Subclass and set the class attributes; None leaves the platform's default."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    model: ClassVar[str | None] = None
    fallback_models: ClassVar[list[str] | None] = None
    instructions: ClassVar[str | None] = None
    temperature: ClassVar[float | None] = None
    max_output_tokens: ClassVar[int | None] = None
    max_steps: ClassVar[int | None] = None
    timeout_seconds: ClassVar[int | None] = None
    tools: ClassVar[list[Tool]] = []
    memory: ClassVar[Memory | None] = None
    # Any other config field the platform knows (e.g. {"output": {...}}), passed as is.
    extra_config: ClassVar[dict[str, Any]] = {}

    SETTINGS: ClassVar[tuple[str, ...]] = (
        "model",
        "fallback_models",
        "instructions",
        "temperature",
        "max_output_tokens",
        "max_steps",
        "timeout_seconds",
    )

    def config(self) -> dict[str, Any]:
        """The agent config (the shape of the builder's and of agent files' `config`)."""
        config: dict[str, Any] = {}
        for key in self.SETTINGS:
            value = getattr(self, key)
            if value is not None:
                config[key] = value
        config["tools"] = [tool.to_config() for tool in self.tools]
        if self.memory is not None:
            config["memory"] = self.memory.to_config()
        return {**config, **self.extra_config}

    def _name(self) -> str:
        if not self.name:
            raise ValueError(f'{type(self).__name__} has no name: set `name = "..."`.')
        return self.name

    def deploy(self, client: Client | None = None, *, publish: bool = False) -> AgentDetail:
        """Create the agent, or update the one of the same name (a new version only when the
        config changed). Without a client: AGENT_PLATFORM_URL and AGENT_PLATFORM_API_KEY."""
        if client is None:
            with Client.from_env() as own:
                return self.deploy(own, publish=publish)
        name = self._name()
        found = client.agents.find(name)
        if found is None:
            saved = client.agents.create(name, description=self.description, config=self.config())
        else:
            saved = client.agents.update(
                found.id, description=self.description, config=self.config()
            )
        return client.agents.publish(saved.id) if publish else saved

    async def adeploy(self, client: AsyncClient, *, publish: bool = False) -> AgentDetail:
        """`deploy` with the async client."""
        name = self._name()
        found = await client.agents.find(name)
        if found is None:
            saved = await client.agents.create(
                name, description=self.description, config=self.config()
            )
        else:
            saved = await client.agents.update(
                found.id, description=self.description, config=self.config()
            )
        return await client.agents.publish(saved.id) if publish else saved
