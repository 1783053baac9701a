"""Canvas ↔ config: a config drawn and read back is the same config; what is not wired into
the model is a problem, never silently dropped; invalid states are marked on their node."""

from __future__ import annotations

import uuid

import pytest

from agent_platform.models import AgentConfig
from services import agents
from services.agent_canvas import save_canvas
from services.agent_graph import (
    MODEL_ID,
    Context,
    Graph,
    GraphEdge,
    GraphNode,
    context_for,
    problems,
    to_config,
    to_graph,
)
from services.errors import Invalid, NotFound
from tests.factories import make_user, personal_actor

CONNECTION = str(uuid.uuid4())
CONFIG = AgentConfig.model_validate(
    {
        "model": "openai/gpt-4o-mini",
        "fallback_models": ["anthropic/claude-3-5-haiku"],
        "instructions": "Be brief.",
        "temperature": 0.2,
        "tools": [
            {"kind": "builtin", "name": "calculator"},
            {
                "kind": "integration",
                "name": "slack.post_message",
                "settings": {"connection": CONNECTION, "approval": True},
            },
        ],
        "memory": {"collections": ["handbook"], "window": 4},
    }
)


def _context(**overrides: object) -> Context:
    base = Context(
        agent_id="me",
        providers={"openai", "anthropic"},
        builtins={"calculator", "http_request"},
        collections={"handbook"},
        connections={CONNECTION: ("team-slack", "slack")},
        actions={"slack": {"slack.post_message", "slack.list_channels"}},
        agents={"me": "Router", "b": "Billing", "c": "Support"},
        hand_offs={"b": ["c"], "c": []},
    )
    for key, value in overrides.items():
        setattr(base, key, value)
    return base


def test_round_trip_keeps_the_config_and_records_the_layout() -> None:
    graph = to_graph(CONFIG, _context())
    ids = {n.id for n in graph.nodes}
    assert ids == {
        MODEL_ID,
        "instructions",
        "tool:calculator",
        f"integration:{CONNECTION}:slack.post_message",
        "knowledge:handbook",
    }
    assert {(e.source, e.target) for e in graph.edges} == {(i, MODEL_ID) for i in ids - {MODEL_ID}}
    back = AgentConfig.model_validate(to_config(graph, CONFIG))
    assert back.model_dump(exclude={"layout"}) == CONFIG.model_dump(exclude={"layout"})
    assert set(back.layout) == ids
    # a moved node keeps its place on the next drawing
    graph.nodes[2].position.x = 777
    again = to_graph(AgentConfig.model_validate(to_config(graph, CONFIG)))
    assert again.node(graph.nodes[2].id).position.x == 777
    assert problems(graph, _context()) == {}


def test_a_dropped_but_unconnected_node_is_a_problem_and_not_in_the_config() -> None:
    graph = to_graph(CONFIG, _context())
    graph.nodes.append(GraphNode(id="tool:http_request", kind="tool", name="http_request"))
    found = problems(graph, _context())
    assert found == {"tool:http_request": "Not connected to the model: connect it or delete it."}
    assert {"kind": "builtin", "name": "http_request"} not in to_config(graph, CONFIG)["tools"]
    graph.edges.append(GraphEdge(source="tool:http_request", target=MODEL_ID))
    assert problems(graph, _context()) == {}
    assert {"kind": "builtin", "name": "http_request"} in to_config(graph, CONFIG)["tools"]


def test_invalid_states_are_marked_on_their_nodes() -> None:
    graph = to_graph(CONFIG, _context())
    graph.nodes += [
        GraphNode(
            id="integration:unset:slack.list_channels",
            kind="integration",
            name="slack.list_channels",
        ),
        GraphNode(id="agent:me", kind="agent", name="me"),
        GraphNode(id="agent:b", kind="agent", name="b"),
        GraphNode(id="knowledge:gone", kind="knowledge", name="gone"),
    ]
    graph.edges += [GraphEdge(source=n.id, target=MODEL_ID) for n in graph.nodes[-4:]]
    loop = _context(hand_offs={"b": ["c"], "c": ["me"]})
    found = problems(graph, loop)
    assert (
        found["integration:unset:slack.list_channels"] == "Choose the connection this action uses."
    )
    assert found["agent:me"] == "An agent cannot hand off to itself."
    assert found["agent:b"] == "Billing hands off back to this agent: a loop."
    assert found["knowledge:gone"] == "This collection no longer exists."
    assert "agent:b" not in problems(graph, _context())  # b → c → (nothing): no loop
    draft = problems(graph, loop, for_publish=False)  # a draft may be saved with a loop
    assert "agent:b" not in draft and draft["agent:me"].startswith("An agent cannot")
    no_provider = problems(graph, _context(providers={"openai"}))
    assert MODEL_ID not in problems(graph, _context(providers=set()), for_publish=False)
    assert "'anthropic' is configured" in no_provider[MODEL_ID].replace("named ", "")


def test_model_ref_and_empty_instructions() -> None:
    graph = to_graph(CONFIG, _context())
    graph.node(MODEL_ID).settings["model"] = "gpt-4o"
    graph.node("instructions").settings["text"] = "   "
    found = problems(graph, _context())
    assert "use <provider>/<model>" in found[MODEL_ID]
    assert found["instructions"] == "Instructions are empty."


def test_graph_input_is_validated() -> None:
    with pytest.raises(ValueError):
        Graph.model_validate({"nodes": [{"id": "x", "kind": "spaceship"}]})


def test_context_reads_the_org_and_refuses_other_orgs(session) -> None:
    actor = personal_actor(session, make_user(session))
    other = personal_actor(session, make_user(session))
    helper = agents.create_agent(session, actor, name="Helper", config={})
    router = agents.create_agent(
        session, actor, name="Router", config={"tools": [{"kind": "agent", "name": str(helper.id)}]}
    )
    session.commit()
    context = context_for(session, actor, router.id)
    assert context.agents[str(helper.id)] == "Helper"
    assert context.hand_offs[str(router.id)] == [str(helper.id)]
    assert "calculator" in context.builtins
    # helper → router closes a loop; the builder of router sees it on the helper node
    agents.update_agent(
        session,
        actor,
        helper.id,
        name="Helper",
        config={"tools": [{"kind": "agent", "name": str(router.id)}]},
    )
    session.commit()
    graph = to_graph(agents.current_config(router), context)
    found = problems(graph, context_for(session, actor, router.id))
    assert found[f"agent:{helper.id}"] == "Helper hands off back to this agent: a loop."
    # a hand-off drawn but not saved yet is followed too
    third = agents.create_agent(
        session, actor, name="Third", config={"tools": [{"kind": "agent", "name": str(router.id)}]}
    )
    session.commit()
    drawn = context_for(session, actor, router.id, targets=[str(third.id)])
    assert drawn.hand_offs[str(third.id)] == [str(router.id)]
    with pytest.raises(NotFound):
        context_for(session, other, router.id)


def test_a_save_based_on_an_old_version_is_refused(session) -> None:
    """The canvas and the form (or two tabs) must not silently undo each other's saves."""
    from services.errors import Conflict

    actor = personal_actor(session, make_user(session))
    agent = agents.create_agent(session, actor, name="Shared", config={})
    session.commit()
    loaded = agent.current_version_id
    agents.update_agent(
        session, actor, agent.id, config={"instructions": "From the form."}, based_on=loaded
    )
    session.commit()
    with pytest.raises(Conflict, match="saved elsewhere"):
        agents.update_agent(
            session, actor, agent.id, config={"instructions": "From the canvas."}, based_on=loaded
        )
    session.rollback()
    assert agents.current_config(agents.get_agent(session, actor, agent.id)).instructions == (
        "From the form."
    )


def test_deleted_hand_off_targets_end_the_walk(session) -> None:
    """A hand-off to an agent that was deleted must not send the walk round for ever."""
    actor = personal_actor(session, make_user(session))
    gone = agents.create_agent(session, actor, name="Gone", config={})
    router = agents.create_agent(
        session, actor, name="Router", config={"tools": [{"kind": "agent", "name": str(gone.id)}]}
    )
    session.commit()
    agents.delete_agent(session, actor, gone.id)
    session.commit()
    context = context_for(session, actor, router.id)
    assert context.hand_offs[str(gone.id)] == []
    graph = to_graph(agents.current_config(agents.get_agent(session, actor, router.id)), context)
    assert problems(graph, context)[f"agent:{gone.id}"] == "This agent no longer exists."


def test_duplicates_and_a_missing_instructions_node_are_problems() -> None:
    graph = to_graph(CONFIG, _context())
    graph.nodes.append(
        GraphNode(
            id="integration:new-1:slack.post_message",
            kind="integration",
            name="slack.post_message",
            settings={"connection": CONNECTION},
        )
    )
    graph.edges.append(GraphEdge(source="integration:new-1:slack.post_message", target=MODEL_ID))
    graph.nodes = [n for n in graph.nodes if n.id != "instructions"]
    found = problems(graph, _context())
    assert found["integration:new-1:slack.post_message"].startswith("This is already on the canvas")
    assert "instructions node is missing" in found["canvas"]


class TestSaveCanvas:
    """The builder's save gate is the service's: any caller saving a canvas meets it."""

    def test_an_unwired_node_refuses_the_save_naming_the_node(self, session) -> None:
        actor = personal_actor(session, make_user(session))
        agent = agents.create_agent(session, actor, name="Drawn", config={"instructions": "Hi."})
        session.commit()
        graph = to_graph(agents.current_config(agent), context_for(session, actor, agent.id))
        graph.nodes.append(GraphNode(id="tool:calculator", kind="tool", name="calculator"))
        with pytest.raises(Invalid) as exc:
            save_canvas(session, actor, agent.id, graph, based_on=agent.current_version_id)
        assert exc.value.message == (
            "Fix the marked nodes first: calculator: "
            "Not connected to the model: connect it or delete it."
        )
        assert agents.current_config(agents.get_agent(session, actor, agent.id)).tools == []

    def test_a_wired_canvas_is_saved_as_a_new_version(self, session) -> None:
        actor = personal_actor(session, make_user(session))
        agent = agents.create_agent(session, actor, name="Drawn", config={"instructions": "Hi."})
        session.commit()
        graph = to_graph(agents.current_config(agent), context_for(session, actor, agent.id))
        graph.nodes.append(GraphNode(id="tool:calculator", kind="tool", name="calculator"))
        graph.edges.append(GraphEdge(source="tool:calculator", target=MODEL_ID))
        version = save_canvas(session, actor, agent.id, graph, based_on=agent.current_version_id)
        assert version is not None and version.version == 2
        tools = agents.current_config(agents.get_agent(session, actor, agent.id)).tools
        assert [t.name for t in tools] == ["calculator"]
