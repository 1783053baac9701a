"""The agent library and versions: list (search, status, sort by last run), templates,
duplicate, archive, delete; version history, diffs, restore; publishing refused with reasons."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from agent_platform.models import (
    Agent,
    AgentConfig,
    AgentStatus,
    AgentVersion,
    Execution,
    Integration,
    Role,
)
from agent_platform.models.base import utcnow
from services import agent_publishing, agent_templates, agent_versions, agents, runs
from services.access import Actor
from services.errors import Forbidden, Invalid, NotFound
from services.llm import providers
from services.memory import collections
from services.tools.registry import builtin_names
from tests.factories import add_member, audit_entries, make_user, personal_actor


@pytest.fixture
def actor(session: Session) -> Actor:
    return personal_actor(session, make_user(session, name="Ada", email="ada@example.com"))


@pytest.fixture
def stranger(session: Session) -> Actor:
    return personal_actor(session, make_user(session, name="Mallory"))


def configure(session: Session, actor: Actor, name: str = "openai") -> None:
    providers.save_provider(
        session,
        actor,
        {"name": name, "kind": "openai", "api_key": "sk-test-123456", "models": ["gpt-4o-mini"]},
    )
    session.flush()


def make(session: Session, actor: Actor, name: str = "Helper", **config: Any) -> Agent:
    agent = agents.create_agent(session, actor, name=name, config=config)
    session.flush()
    return agent


def run_at(session: Session, agent: Agent, minutes_ago: int) -> None:
    """A run row as the runtime leaves it, dated in the past (ordering needs distinct times)."""
    session.add(
        Execution(
            org_id=agent.org_id,
            agent_id=agent.id,
            agent_version_id=agent.current_version_id,
            input={"message": "hi"},
            created_at=utcnow() - timedelta(minutes=minutes_ago),
        )
    )
    session.flush()


def names(found: list[agents.AgentListing]) -> list[str]:
    return [row.agent.name for row in found]


class TestBrowseAgents:
    def test_search_matches_name_or_description_and_escapes_wildcards(self, session, actor):
        make(session, actor, "Billing bot")
        agents.create_agent(session, actor, name="Helper", description="answers billing mail")
        make(session, actor, "100% sure")
        make(session, actor, "Other")
        found, total = agents.browse_agents(session, actor, search="  BILLING ", sort="name")
        assert (names(found), total) == (["Billing bot", "Helper"], 2)
        found, _ = agents.browse_agents(session, actor, search="%")
        assert names(found) == ["100% sure"]

    def test_status_filter_hides_archived_unless_asked(self, session, actor):
        kept, gone = make(session, actor, "Kept"), make(session, actor, "Gone")
        agents.archive_agent(session, actor, gone.id)
        assert names(agents.browse_agents(session, actor)[0]) == ["Kept"]
        archived, total = agents.browse_agents(session, actor, status=AgentStatus.ARCHIVED)
        assert (names(archived), total) == (["Gone"], 1)
        drafts, _ = agents.browse_agents(session, actor, status=AgentStatus.DRAFT)
        assert [r.agent.id for r in drafts] == [kept.id]

    def test_sort_by_last_run_puts_never_run_agents_last(self, session, actor):
        old, recent, never = (make(session, actor, n) for n in ("Old", "Recent", "Never"))
        run_at(session, old, 60)
        run_at(session, old, 50)
        run_at(session, recent, 5)
        run_at(session, recent, 500)
        found, _ = agents.browse_agents(session, actor, sort="last_run")
        assert names(found) == ["Recent", "Old", "Never"]
        by_name = {r.agent.name: r.last_run_at for r in found}
        assert by_name["Never"] is None
        assert by_name["Recent"] > by_name["Old"]
        assert utcnow() - by_name["Old"] < timedelta(minutes=51)

    def test_sort_by_name_and_last_edit(self, session, actor):
        b, a = make(session, actor, "beta"), make(session, actor, "Alpha")
        assert names(agents.browse_agents(session, actor, sort="name")[0]) == ["Alpha", "beta"]
        b.updated_at = utcnow() + timedelta(seconds=5)
        session.add(b)
        session.flush()
        assert [r.agent.id for r in agents.browse_agents(session, actor, sort="edited")[0]] == [
            b.id,
            a.id,
        ]

    def test_paging_and_unknown_sort(self, session, actor):
        for i in range(5):
            make(session, actor, f"agent {i}")
        page, total = agents.browse_agents(session, actor, sort="name", offset=2, limit=2)
        assert (names(page), total) == (["agent 2", "agent 3"], 5)
        with pytest.raises(Invalid):
            agents.browse_agents(session, actor, sort="created_at; drop table agents")

    def test_other_orgs_agents_and_runs_are_invisible(self, session, actor, stranger):
        theirs = make(session, stranger, "Theirs")
        run_at(session, theirs, 1)
        make(session, actor, "Mine")
        found, total = agents.browse_agents(session, actor, sort="last_run")
        assert (names(found), total) == (["Mine"], 1)


class TestTemplates:
    @pytest.mark.parametrize("key", list(agent_templates.TEMPLATES))
    def test_each_template_validates_and_creates_version_one(self, session, actor, key):
        template = agent_templates.get_template(key)
        facts = agent_templates.org_facts(session, actor)
        AgentConfig.model_validate(template.config(facts))
        agent = agent_templates.create_from_template(session, actor, key, name=f"From {key}")
        assert agent.name == f"From {key}"
        (version,) = agent_versions.version_history(session, actor, agent.id)
        assert version.version == 1 and version.current

    def test_support_uses_the_orgs_collections_or_says_one_is_needed(self, session, actor):
        configure(session, actor)
        bare = agent_templates.create_from_template(session, actor, "support")
        assert agents.current_config(bare).memory.collections == []
        assert any(
            "has none" in p for p in agent_publishing.publish_problems(session, actor, bare.id)
        )
        collections.create_collection(session, actor, name="handbook")
        session.flush()
        stocked = agent_templates.create_from_template(session, actor, "support", name="S2")
        config = agents.current_config(stocked)
        assert config.memory.collections == ["handbook"]
        assert config.model == "openai/gpt-4o-mini"  # the org's configured model
        assert agent_publishing.publish_problems(session, actor, stocked.id) == []

    def test_research_offers_web_search_only_when_available(self, session, actor):
        agent = agent_templates.create_from_template(session, actor, "research")
        tools = {t.name for t in agents.current_config(agent).tools}
        assert "http_request" in tools
        assert ("web_search" in tools) == ("web_search" in builtin_names())

    def test_extractor_answers_json_and_router_starts_without_hand_offs(self, session, actor):
        extractor = agent_templates.create_from_template(session, actor, "extractor")
        output = agents.current_config(extractor).output
        assert output.format == "json" and output.json_schema["type"] == "object"
        router = agent_templates.create_from_template(session, actor, "router")
        config = agents.current_config(router)
        assert config.tools == [] and "Hand off to other agents" in config.instructions

    def test_blank_needs_a_name_and_unknown_template_is_not_found(self, session, actor):
        with pytest.raises(Invalid):
            agent_templates.create_from_template(session, actor, "blank")
        with pytest.raises(NotFound):
            agent_templates.create_from_template(session, actor, "spaceship")


class TestLifecycle:
    def test_duplicate_copies_the_current_config_as_version_one(self, session, actor):
        agent = make(session, actor, "Helper", instructions="one")
        agents.update_agent(session, actor, agent.id, config={"instructions": "two"})
        copy = agents.duplicate_agent(session, actor, agent.id)
        assert copy.name == "Helper (copy)" and copy.id != agent.id
        assert copy.config == agent.config
        (version,) = agent_versions.version_history(session, actor, copy.id)
        assert version.version == 1
        long = make(session, actor, "x" * 120)
        assert len(agents.duplicate_agent(session, actor, long.id).name) == 120

    def test_archive_and_unarchive_are_audited_and_gate_runs(self, session, actor):
        agent = make(session, actor)
        agents.archive_agent(session, actor, agent.id)
        with pytest.raises(Invalid, match="archived"):
            runs.start_run(session, actor, agent.id, message="hi")
        with pytest.raises(Invalid, match="archived"):
            agent_publishing.publish_agent(session, actor, agent.id)
        restored = agents.unarchive_agent(session, actor, agent.id)
        assert restored.status == AgentStatus.DRAFT and restored.archived_at is None
        assert len(audit_entries(session, "agent.archived")) == 1
        assert len(audit_entries(session, "agent.unarchived")) == 1

    def test_delete_keeps_the_runs(self, session, actor):
        agent = make(session, actor)
        run = runs.start_run(session, actor, agent.id, message="hi")
        session.commit()
        agents.delete_agent(session, actor, agent.id)
        session.commit()
        session.expire_all()
        kept = session.get(Execution, run.id)
        assert kept is not None and kept.agent_id is None and kept.agent_version_id is None
        assert (
            session.exec(select(AgentVersion).where(AgentVersion.agent_id == agent.id)).all() == []
        )
        assert audit_entries(session, "agent.deleted")[0].details["name"] == "Helper"
        with pytest.raises(NotFound):
            agents.get_agent(session, actor, agent.id)

    def test_builders_may_not_delete(self, session, actor):
        agent = make(session, actor)
        _user, builder = add_member(session, actor.org_id, role=Role.BUILDER)
        with pytest.raises(Forbidden):
            agents.delete_agent(session, builder, agent.id)


class TestVersions:
    def test_history_names_who_saved_each_version(self, session, actor):
        agent = make(session, actor)
        _user, bob = add_member(session, actor.org_id, role=Role.BUILDER, email="bob@example.com")
        agents.update_agent(session, bob, agent.id, config={"temperature": 0.1})
        history = agent_versions.version_history(session, actor, agent.id)
        assert [(v.version, v.author_email, v.current) for v in history] == [
            (2, "bob@example.com", True),
            (1, "ada@example.com", False),
        ]
        assert history[1].author_name == "Ada"

    def test_diff_reports_added_removed_and_changed_fields_and_tools(self, session, actor):
        helper = make(session, actor, "Billing")
        agent = make(
            session,
            actor,
            "Router",
            temperature=0.5,
            fallback_models=["anthropic/claude-3-5-haiku"],
            tools=[{"kind": "builtin", "name": "calculator"}],
        )
        agents.update_agent(
            session,
            actor,
            agent.id,
            config={
                "temperature": 0.2,
                "top_p": 0.9,
                "tools": [
                    {"kind": "builtin", "name": "http_request"},
                    {"kind": "agent", "name": str(helper.id)},
                ],
            },
        )
        rows = {r.path: r for r in agent_versions.diff_versions(session, actor, agent.id, 1, 2)}
        assert (rows["temperature"].old, rows["temperature"].new) == (0.5, 0.2)
        assert rows["temperature"].kind == "changed"
        assert (rows["top_p"].kind, rows["top_p"].old, rows["top_p"].new) == ("added", None, 0.9)
        assert rows["fallback_models"].kind == "changed"
        assert rows["tools[builtin:calculator]"].kind == "removed"
        assert rows["tools[builtin:http_request]"].kind == "added"
        assert rows[f"tools[agent:{helper.id}]"].new == "hand-off to Billing"
        assert "model" not in rows  # unchanged rows only when asked for
        full = agent_versions.diff_versions(session, actor, agent.id, 1, 2, include_same=True)
        assert next(r for r in full if r.path == "model").kind == "same"
        assert [r.path for r in full].index("model") < [r.path for r in full].index(
            "tools[builtin:http_request]"
        )
        back = {
            r.path: r.kind for r in agent_versions.diff_versions(session, actor, agent.id, 2, 1)
        }
        assert back["tools[builtin:calculator]"] == "added"

    def test_flatten_uses_dotted_paths_into_nested_json(self):
        flat = agent_versions.flatten_config(
            {
                "output": {"format": "json", "json_schema": {"type": "object", "required": ["a"]}},
                "memory": {"collections": ["a", "b"], "window": 3},
                "top_p": None,
            }
        )
        assert flat == {
            "output.format": "json",
            "output.json_schema.type": "object",
            "output.json_schema.required": ["a"],
            "memory.collections": ["a", "b"],
            "memory.window": 3,
        }

    def test_restore_creates_a_new_version_equal_to_the_old_one(self, session, actor):
        agent = make(session, actor, instructions="first")
        agents.update_agent(session, actor, agent.id, config={"instructions": "second"})
        restored = agent_versions.restore_version(session, actor, agent.id, 1)
        first = agent_versions.get_version(session, actor, agent.id, 1)
        assert restored.version == 3 and restored.config == first.config
        assert agent.current_version_id == restored.id and agent.config == first.config
        entry = audit_entries(session, "agent.version_restored")[0]
        assert entry.details == {"restored": 1, "version": 3}
        with pytest.raises(Invalid, match="already the current"):
            agent_versions.restore_version(session, actor, agent.id, 3)
        with pytest.raises(NotFound):
            agent_versions.restore_version(session, actor, agent.id, 99)


def self_hand_off(session: Session, actor: Actor, agent: Agent) -> None:
    """Saved as a draft: existence is checked at save, loops only at publish."""
    agents.update_agent(
        session, actor, agent.id, config={"tools": [{"kind": "agent", "name": str(agent.id)}]}
    )


class TestPublishing:
    def test_valid_agent_publishes_and_unpublishes_with_audit(self, session, actor):
        configure(session, actor)
        agent = make(session, actor)
        assert agent_publishing.publish_problems(session, actor, agent.id) == []
        assert (
            agent_publishing.publish_agent(session, actor, agent.id).status == AgentStatus.PUBLISHED
        )
        assert audit_entries(session, "agent.published")[0].details == {"version": 1}
        assert (
            agent_publishing.unpublish_agent(session, actor, agent.id).status == AgentStatus.DRAFT
        )
        assert len(audit_entries(session, "agent.unpublished")) == 1
        with pytest.raises(Invalid, match="not published"):
            agent_publishing.unpublish_agent(session, actor, agent.id)

    def test_refused_when_the_provider_is_not_configured(self, session, actor):
        configure(session, actor)
        agent = make(session, actor, fallback_models=["anthropic/claude-3-5-haiku"])
        (problem,) = agent_publishing.publish_problems(session, actor, agent.id)
        assert problem.startswith("Model: ") and "'anthropic'" in problem
        with pytest.raises(Invalid, match="Not ready to publish: Model: No model provider"):
            agent_publishing.publish_agent(session, actor, agent.id)
        assert agent.status == AgentStatus.DRAFT

    def test_refused_for_a_self_hand_off(self, session, actor):
        configure(session, actor)
        agent = make(session, actor, "Looper")
        self_hand_off(session, actor, agent)
        assert agent_publishing.publish_problems(session, actor, agent.id) == [
            "Looper: An agent cannot hand off to itself."
        ]
        with pytest.raises(Invalid, match="hand off to itself"):
            agent_publishing.publish_agent(session, actor, agent.id)

    def test_refused_for_a_hand_off_loop_through_another_agent(self, session, actor):
        configure(session, actor)
        a = make(session, actor, "A")
        b = make(session, actor, "B", tools=[{"kind": "agent", "name": str(a.id)}])
        agents.update_agent(
            session, actor, a.id, config={"tools": [{"kind": "agent", "name": str(b.id)}]}
        )
        assert agent_publishing.publish_problems(session, actor, a.id) == [
            "B: B hands off back to this agent: a loop."
        ]
        with pytest.raises(Invalid, match="a loop"):
            agent_publishing.publish_agent(session, actor, b.id)

    def test_refused_for_unknown_tools_missing_connections_and_archived_targets(
        self, session, actor
    ):
        configure(session, actor)
        row = Integration(
            org_id=actor.org_id, provider="github", name="GitHub", credential_ref="test/none"
        )
        session.add(row)
        session.flush()
        helper = make(session, actor, "Helper")
        agent = make(
            session,
            actor,
            "Main",
            tools=[
                {"kind": "agent", "name": str(helper.id)},
                {
                    "kind": "integration",
                    "name": "github.search_issues",
                    "settings": {"connection": str(row.id)},
                },
            ],
        )
        assert agent_publishing.publish_problems(session, actor, agent.id) == []
        agents.archive_agent(session, actor, helper.id)
        session.delete(row)  # the connection is removed after the grant was saved
        # an old config naming a tool this install no longer has (as after an upgrade)
        agent.config = {
            **agent.config,
            "tools": [*agent.config["tools"], {"kind": "builtin", "name": "teleport"}],
        }
        session.add(agent)
        session.flush()
        found = agent_publishing.publish_problems(session, actor, agent.id)
        assert any("Its connection no longer exists." in p for p in found)
        assert "teleport: Unknown tool 'teleport'." in found
        assert "Helper: this agent is archived; it cannot run." in found

    def test_a_published_agent_refuses_a_change_that_would_break_it(self, session, actor):
        configure(session, actor)
        agent = make(session, actor, "Live")
        agent_publishing.publish_agent(session, actor, agent.id)
        with pytest.raises(Invalid, match="published and the change would break it"):
            self_hand_off(session, actor, agent)
        with pytest.raises(Invalid, match="published"):
            agents.update_agent(session, actor, agent.id, config={"model": "nowhere/x"})
        _agent, version = agents.update_agent(
            session, actor, agent.id, config={"model": "openai/gpt-4o"}
        )
        assert version is not None and version.version == 2
        agent_publishing.unpublish_agent(session, actor, agent.id)
        self_hand_off(session, actor, agent)  # a draft may be broken while being worked on

    def test_viewers_may_not_publish(self, session, actor):
        configure(session, actor)
        agent = make(session, actor)
        _user, viewer = add_member(session, actor.org_id, role=Role.VIEWER)
        with pytest.raises(Forbidden):
            agent_publishing.publish_agent(session, viewer, agent.id)


ACTIONS: list[tuple[str, Callable[[Session, Actor, uuid.UUID], object]]] = [
    ("duplicate", agents.duplicate_agent),
    ("archive", agents.archive_agent),
    ("unarchive", agents.unarchive_agent),
    ("delete", agents.delete_agent),
    ("history", agent_versions.version_history),
    ("version", lambda s, a, i: agent_versions.get_version(s, a, i, 1)),
    ("diff", lambda s, a, i: agent_versions.diff_versions(s, a, i, 1, 1)),
    ("restore", lambda s, a, i: agent_versions.restore_version(s, a, i, 1)),
    ("problems", agent_publishing.publish_problems),
    ("publish", agent_publishing.publish_agent),
    ("unpublish", agent_publishing.unpublish_agent),
]


@pytest.mark.parametrize(("label", "action"), ACTIONS, ids=[label for label, _ in ACTIONS])
def test_another_orgs_agent_is_not_found(session, actor, stranger, label, action):
    configure(session, stranger)
    theirs = make(session, stranger, "Theirs")
    agents.update_agent(session, stranger, theirs.id, config={"temperature": 0.1})
    agent_publishing.publish_agent(session, stranger, theirs.id)
    session.commit()
    with pytest.raises(NotFound):
        action(session, actor, theirs.id)
    session.rollback()
    session.expire_all()
    left = session.get(Agent, theirs.id)
    assert left is not None and left.status == AgentStatus.PUBLISHED
    assert len(agent_versions.version_history(session, stranger, theirs.id)) == 2
