"""The builder's canvas and an agent's config are one thing seen two ways.

`to_graph` draws a config; `to_config` turns a drawn graph back into the config that runs, and
`problems` says, per node, what would make that config wrong or unpublishable. Every node but
the model is a capability wired into the model by an edge; a capability that is not wired in
is not silently dropped — it is a problem ("connect it or delete it"), so what the canvas
shows is exactly what runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from agent_platform.models import Agent, AgentConfig
from agent_platform.models.agent_config import MODEL_REF
from services.access import Actor
from services.agent_reads import get_agent, visible_agents
from services.integrations import connections
from services.integrations.providers import PROVIDERS
from services.llm import providers
from services.memory import list_collections
from services.read_scope import where_of
from services.tools.registry import builtin_names

NodeKind = Literal["model", "instructions", "tool", "knowledge", "agent", "integration"]
MODEL_ID = "model"
INSTRUCTIONS_ID = "instructions"


class Position(BaseModel):
    x: float = 0
    y: float = 0


class GraphNode(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1, max_length=200)
    kind: NodeKind
    name: str = ""  # tool name, collection name, agent id or action name
    label: str = ""
    settings: dict[str, Any] = Field(default_factory=dict)
    position: Position = Field(default_factory=Position)


class GraphEdge(BaseModel):
    model_config = ConfigDict(extra="ignore")
    source: str
    target: str


class Graph(BaseModel):
    nodes: list[GraphNode] = Field(default_factory=list, max_length=300)
    edges: list[GraphEdge] = Field(default_factory=list, max_length=600)

    def node(self, node_id: str) -> GraphNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)


@dataclass
class Context:
    """What the organization has, for checking a graph: what exists and what is configured."""

    agent_id: str = ""
    providers: set[str] = field(default_factory=set)  # configured provider names
    builtins: set[str] = field(default_factory=set)
    collections: set[str] = field(default_factory=set)
    connections: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, provider)
    actions: dict[str, set[str]] = field(default_factory=dict)  # provider -> action names
    agents: dict[str, str] = field(default_factory=dict)  # id -> name
    hand_offs: dict[str, list[str]] = field(default_factory=dict)  # agent id -> agent ids


def node_id(kind: str, name: str, connection: str = "") -> str:
    if kind == "integration":
        return f"integration:{connection or 'unset'}:{name}"
    return f"{kind}:{name}"


def to_graph(config: AgentConfig, context: Context | None = None) -> Graph:
    context = context or Context()
    nodes = [
        GraphNode(
            id=MODEL_ID,
            kind="model",
            label="Model",
            settings={"model": config.model, "fallback_models": list(config.fallback_models)},
        ),
        GraphNode(
            id=INSTRUCTIONS_ID,
            kind="instructions",
            label="Instructions",
            settings={"text": config.instructions},
        ),
    ]
    for ref in config.tools:
        if ref.kind == "builtin":
            nodes.append(GraphNode(id=node_id("tool", ref.name), kind="tool", name=ref.name))
        elif ref.kind == "agent":
            label = str(ref.settings.get("label") or context.agents.get(ref.name, "agent"))
            nodes.append(
                GraphNode(id=node_id("agent", ref.name), kind="agent", name=ref.name, label=label)
            )
        else:
            connection = str(ref.settings.get("connection", ""))
            nodes.append(
                GraphNode(
                    id=node_id("integration", ref.name, connection),
                    kind="integration",
                    name=ref.name,
                    settings={
                        "connection": connection,
                        "approval": bool(ref.settings.get("approval", False)),
                    },
                )
            )
    for name in config.memory.collections:
        nodes.append(GraphNode(id=node_id("knowledge", name), kind="knowledge", name=name))
    unique: dict[str, GraphNode] = {}
    for node in nodes:  # a config listing a tool twice is drawn (and runs) once
        unique.setdefault(node.id, node)
    nodes = list(unique.values())
    for index, node in enumerate(nodes):
        saved = config.layout.get(node.id)
        if saved:
            node.position = Position(x=saved.get("x", 0), y=saved.get("y", 0))
        elif node.kind == "model":
            node.position = Position(x=420, y=160)
        else:  # capabilities in a column left of the model
            node.position = Position(x=40, y=30 + (index - 1) * 90)
        node.label = node.label or label_of(node, context)
    edges = [GraphEdge(source=n.id, target=MODEL_ID) for n in nodes if n.id != MODEL_ID]
    return Graph(nodes=nodes, edges=edges)


def label_of(node: GraphNode, context: Context) -> str:
    if node.kind == "integration":
        connection = context.connections.get(str(node.settings.get("connection", "")))
        return f"{node.name} · {connection[0]}" if connection else node.name
    if node.kind == "agent":
        return context.agents.get(node.name, node.label or "agent")
    return node.label or node.name or node.kind


def _wired(graph: Graph) -> set[str]:
    return {e.source for e in graph.edges if e.target == MODEL_ID}


def to_config(graph: Graph, base: AgentConfig) -> dict[str, Any]:
    """The config the graph means: `base` supplies what the canvas does not draw (sampling,
    memory window, output format...). Only capabilities wired into the model are included."""
    wired = _wired(graph)
    config = base.model_dump(mode="json")
    model = graph.node(MODEL_ID)
    if model is not None:
        config["model"] = str(model.settings.get("model", base.model)).strip()
        fallbacks = model.settings.get("fallback_models", base.fallback_models)
        if isinstance(fallbacks, str):
            fallbacks = [f.strip() for f in fallbacks.split(",") if f.strip()]
        config["fallback_models"] = list(fallbacks)
    instructions = graph.node(INSTRUCTIONS_ID)
    if instructions is not None and instructions.id in wired:
        config["instructions"] = str(instructions.settings.get("text", ""))
    tools: list[dict[str, Any]] = []
    collections: list[str] = []
    for node in graph.nodes:
        if node.id not in wired:
            continue
        if node.kind == "tool":
            tools.append({"kind": "builtin", "name": node.name})
        elif node.kind == "agent":
            tools.append({"kind": "agent", "name": node.name})
        elif node.kind == "integration":
            tools.append(
                {
                    "kind": "integration",
                    "name": node.name,
                    "settings": {
                        "connection": str(node.settings.get("connection", "")),
                        "approval": bool(node.settings.get("approval", False)),
                    },
                }
            )
        elif node.kind == "knowledge":
            collections.append(node.name)
    config["tools"] = tools
    config["memory"] = {**config["memory"], "collections": collections}
    config["layout"] = {_layout_key(n): {"x": n.position.x, "y": n.position.y} for n in graph.nodes}
    return config


def _layout_key(node: GraphNode) -> str:
    """A dropped action gets a temporary id; its place is saved under the id `to_graph` will
    give it once it has a connection."""
    if node.kind == "integration":
        return node_id("integration", node.name, str(node.settings.get("connection", "")))
    return node.id


def problems(graph: Graph, context: Context, *, for_publish: bool = True) -> dict[str, str]:
    """Per node id, the reason it blocks saving or publishing (empty when all is well).

    `for_publish=False` leaves out what only blocks publishing — an unconfigured provider and
    hand-off loops (runs cap their depth) — so a draft can be saved while they are fixed."""
    found: dict[str, str] = {}
    wired = _wired(graph)
    model = graph.node(MODEL_ID)
    if graph.node(INSTRUCTIONS_ID) is None:
        found["canvas"] = "The instructions node is missing: reload to get it back."
    if model is None:
        found["canvas"] = "The model node is missing."
    else:
        refs = [str(model.settings.get("model", ""))]
        fallbacks = model.settings.get("fallback_models", [])
        refs += [f for f in (fallbacks if isinstance(fallbacks, list) else []) if f]
        for ref in refs:
            if not MODEL_REF.match(ref):
                found[MODEL_ID] = f"{ref or 'The model'!r}: use <provider>/<model>"
                break
            provider = ref.partition("/")[0]
            if for_publish and provider not in context.providers:
                found[MODEL_ID] = (
                    f"No model provider named {provider!r} is configured "
                    "(Settings → Model providers)."
                )
                break
    seen: set[str] = set()
    for node in graph.nodes:
        if node.id == MODEL_ID:
            continue
        problem = _node_problem(node, context, for_publish)
        key = _layout_key(node)
        if problem is None and key in seen:
            problem = "This is already on the canvas: delete one of them."
        seen.add(key)
        if problem is None and node.id not in wired:
            problem = "Not connected to the model: connect it or delete it."
        if problem:
            found[node.id] = problem
    return found


def _node_problem(node: GraphNode, context: Context, for_publish: bool) -> str | None:
    if node.kind == "instructions":
        return None if str(node.settings.get("text", "")).strip() else "Instructions are empty."
    if node.kind == "tool":
        return None if node.name in context.builtins else f"Unknown tool {node.name!r}."
    if node.kind == "knowledge":
        return None if node.name in context.collections else "This collection no longer exists."
    if node.kind == "integration":
        connection = str(node.settings.get("connection", ""))
        if not connection:
            return "Choose the connection this action uses."
        if connection not in context.connections:
            return "Its connection no longer exists."
        provider = context.connections[connection][1]
        if node.name not in context.actions.get(provider, set()):
            return f"{node.name!r} is not an action of that connection."
        return None
    if node.kind == "agent":
        if node.name == context.agent_id:
            return "An agent cannot hand off to itself."
        if node.name not in context.agents:
            return "This agent no longer exists."
        return _loop_problem(node.name, context) if for_publish else None
    return None


def _loop_problem(target: str, context: Context) -> str | None:
    if target == context.agent_id:
        return "An agent cannot hand off to itself."
    if target not in context.agents:
        return "This agent no longer exists."
    seen, stack = set(), [target]
    while stack:  # does any path of hand-offs from `target` lead back to this agent?
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for nxt in context.hand_offs.get(current, []):
            if nxt == context.agent_id:
                return f"{context.agents[target]} hands off back to this agent: a loop."
            stack.append(nxt)
    return None


def context_for(
    session: Session, actor: Actor, agent_id: uuid.UUID, targets: Iterable[str] = ()
) -> Context:
    """Everything `problems` needs. Names for the palette are bounded (500); the agents this
    one hands off to (saved, or `targets` drawn on the canvas but not saved yet), and every
    agent reachable from them, are always read, so a loop is found however large the
    organization is."""
    agent = get_agent(session, actor, agent_id)  # NotFound for another org's
    names = dict(
        session.exec(
            select(Agent.id, Agent.name)
            .where(where_of(visible_agents(actor)))
            .order_by(Agent.name)
            .limit(500)
        ).all()
    )
    hand_offs: dict[str, list[str]] = {str(agent.id): _hand_offs(agent.config)}
    frontier = set(hand_offs[str(agent.id)]) | set(targets)
    while frontier:  # breadth-first over hand-offs, one query per level
        ids = []
        for raw in frontier:
            try:
                ids.append(uuid.UUID(raw))
            except ValueError:
                hand_offs[raw] = []
        rows = session.exec(
            select(Agent.id, Agent.name, Agent.config).where(
                where_of(visible_agents(actor)), col(Agent.id).in_(ids)
            )
        ).all()
        for other_id, name, config in rows:
            names[other_id] = name
            hand_offs[str(other_id)] = _hand_offs(config)
        for missing in frontier - set(hand_offs):  # deleted agents hand off to nobody
            hand_offs[missing] = []
        frontier = {n for found in hand_offs.values() for n in found} - set(hand_offs)
    names[agent.id] = agent.name
    return Context(
        agent_id=str(agent_id),
        providers=providers.configured_names(session, actor.org_id),
        builtins=set(builtin_names()),
        collections={c.name for c in list_collections(session, actor)},
        connections={
            str(c.id): (c.name, c.provider) for c in connections.list_connections(session, actor)
        },
        actions={key: {a.name for a in p.actions} for key, p in PROVIDERS.items()},
        agents={str(a_id): name for a_id, name in names.items()},
        hand_offs=hand_offs,
    )


def _hand_offs(config: Any) -> list[str]:
    return [
        str(t.get("name"))
        for t in (config or {}).get("tools", [])
        if isinstance(t, dict) and t.get("kind") == "agent"
    ]
