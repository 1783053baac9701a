"""An organization's private hosts: its admins open them, for that organization's calls only."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.models import ExecutionStatus, ProviderCredential, ProviderKind, Role
from agent_platform.settings import get_settings
from services import private_hosts
from services.errors import Forbidden, Invalid
from services.tools.base import ToolContext, ToolError
from services.tools.http_request import HttpRequest
from tests.factories import add_member, audit_entries, make_user, personal_actor
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import execute, make_agent, start


@pytest.fixture
def llm(llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch) -> ScriptedLLM:
    """The model server on 127.0.0.1, with nothing private open on the instance."""
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "")
    get_settings.cache_clear()
    return llm


class TestWhoReachesWhat:
    def test_org_a_reaches_its_loopback_model_server_and_org_b_is_refused(
        self, session: Session, llm: ScriptedLLM
    ) -> None:
        a = personal_actor(session, make_user(session))
        b = personal_actor(session, make_user(session))
        private_hosts.set_private_hosts(session, a, ["127.0.0.1"])
        session.commit()
        # A may save a provider on its private host and run an agent on it.
        actor_a = org_with_provider_for(session, a, llm.base_url)
        llm.script(Turn(text="hello A"))
        run_a, _ = execute(start(actor_a, make_agent(session, actor_a)))
        assert run_a.status == ExecutionStatus.SUCCEEDED, run_a.error
        assert run_a.output == {"text": "hello A"}
        # B may not save it ...
        with pytest.raises(Invalid) as caught:
            org_with_provider_for(session, b, llm.base_url)
        assert "127.0.0.1 is a loopback address" in caught.value.message
        # ... and a provider row B already had (saved before) is refused at connect time.
        session.add(
            ProviderCredential(
                org_id=b.org_id,
                name="fake",
                kind=ProviderKind.OPENAI_COMPATIBLE,
                api_base=llm.base_url,
                models=["gpt-a"],
                created_by_id=b.user_id,
            )
        )
        session.commit()
        before = len(llm.requests)
        run_b, _ = execute(start(b, make_agent(session, b)))
        assert run_b.status == ExecutionStatus.FAILED
        assert "the outbound guard stopped this call (127.0.0.1 is a loopback address)" in (
            run_b.error
        )
        assert len(llm.requests) == before  # nothing of B's reached the server

    def test_the_http_request_tool_uses_the_orgs_list(
        self, session: Session, llm: ScriptedLLM
    ) -> None:
        a = personal_actor(session, make_user(session))
        url = llm.root_url + "/v1/models"
        with pytest.raises(ToolError, match="loopback"):
            asyncio.run(HttpRequest().run({"url": url}, ToolContext(org_id=a.org_id)))
        opened = ToolContext(org_id=a.org_id, allow_hosts=("127.0.0.1",))
        result = asyncio.run(HttpRequest().run({"url": url}, opened))
        assert result["status"] == 200

    def test_switched_off_on_the_instance_the_list_opens_nothing(
        self, session: Session, llm: ScriptedLLM, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        a = personal_actor(session, make_user(session))
        private_hosts.set_private_hosts(session, a, ["127.0.0.1"])
        session.commit()
        monkeypatch.setenv("ORG_PRIVATE_HOSTS", "false")
        get_settings.cache_clear()
        assert private_hosts.org_entries(session, a.org_id) == ()
        with pytest.raises(Invalid):
            org_with_provider_for(session, a, llm.base_url)
        with pytest.raises(Forbidden, match="switched off on this instance"):
            private_hosts.set_private_hosts(session, a, ["10.0.0.5"])


class TestManaging:
    def test_an_admin_changes_the_list_and_it_is_audited(self, session: Session) -> None:
        owner = personal_actor(session, make_user(session))
        _user, admin = add_member(session, owner.org_id, role=Role.ADMIN)
        saved = private_hosts.set_private_hosts(
            session, admin, [" Ollama.Internal. ", "10.0.0.5/32", "", "fd00::/64", "10.0.0.5"]
        )
        session.commit()
        assert saved == ["ollama.internal", "10.0.0.5", "fd00::/64"]
        assert private_hosts.get_private_hosts(session, owner) == saved
        [entry] = audit_entries(session, "org.private_hosts_changed", org_id=owner.org_id)
        assert entry.actor_id == admin.user_id
        assert entry.details["added"] == saved and entry.details["removed"] == []

    def test_a_builder_cannot_change_it(self, session: Session) -> None:
        owner = personal_actor(session, make_user(session))
        _user, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        with pytest.raises(Forbidden):
            private_hosts.set_private_hosts(session, builder, ["127.0.0.1"])
        session.commit()
        assert private_hosts.get_private_hosts(session, builder) == []
        assert audit_entries(session, "org.private_hosts_changed") == []

    @pytest.mark.parametrize(
        ("entry", "says"),
        [
            ("http://ollama:11434", "is not a host name (like ollama.internal), an IP address"),
            ("ollama internal", "is not a host name"),
            ("127.1", "is not a host name"),
            ("0.0.0.0/0", "cannot be opened by an organization: it is wider than a /8"),
            ("169.254.169.254", "it contains the cloud metadata address"),
            ("169.254.0.0/16", "it contains the cloud metadata address"),
            ("0.0.0.0", "it is an unspecified or multicast address"),
            ("224.0.0.1", "it is an unspecified or multicast address"),
        ],
    )
    def test_bad_entries_are_refused_with_a_clear_message(
        self, session: Session, entry: str, says: str
    ) -> None:
        owner = personal_actor(session, make_user(session))
        with pytest.raises(Invalid) as caught:
            private_hosts.set_private_hosts(session, owner, ["10.0.0.5", entry])
        assert says in caught.value.message
        assert caught.value.fields["hosts"]


def org_with_provider_for(session: Session, actor, base_url: str):
    """Like runtime_helpers.org_with_provider, for an existing actor."""
    from services.llm import providers

    with session_scope() as s:
        providers.save_provider(
            s,
            actor,
            {
                "name": "fake",
                "kind": "openai_compatible",
                "api_base": base_url,
                "api_key": "sk-test-123456",
                "models": ["gpt-a", "gpt-b"],
            },
        )
    return actor
