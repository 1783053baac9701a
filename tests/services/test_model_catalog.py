"""The model picker's choices: the providers' own lists, and what each provider's `/models`
says it serves, fetched through the outbound guard."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from sqlmodel import Session

from agent_platform.models import ProviderKind, Role
from agent_platform.settings import get_settings
from services.access import Actor
from services.errors import Forbidden
from services.llm import model_catalog, providers
from tests.factories import add_member, make_user, personal_actor
from tests.fakes.openai_server import ScriptedLLM


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(models=["gpt-a", "gpt-b", "embed-small"]) as server:
        yield server


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def admin(session: Session) -> Actor:
    return personal_actor(session, make_user(session))


def _local(session: Session, actor: Actor, llm: ScriptedLLM) -> None:
    providers.save_provider(
        session,
        actor,
        {
            "name": "local",
            "kind": "openai_compatible",
            "api_base": llm.base_url,
            "api_key": "sk-listing-0001",
            "models": ["gpt-a"],
        },
    )
    session.flush()


def test_the_providers_list_is_fetched_with_its_key(session, admin, llm, allow_loopback) -> None:
    _local(session, admin, llm)
    targets = model_catalog.listing_targets(session, admin)
    assert [t.provider for t in targets] == ["local"]
    assert "sk-listing" not in repr(targets)
    before = len(llm.requests)
    [listing] = anyio.run(model_catalog.fetch_all, targets)
    assert listing.note == ""
    assert listing.models == ["local/gpt-a", "local/gpt-b", "local/embed-small"]
    sent = llm.requests[before:]
    assert [(r.method, r.path) for r in sent] == [("GET", "/v1/models")]
    assert sent[0].headers.get("Authorization") == "Bearer sk-listing-0001"
    choices = model_catalog.merged(model_catalog.configured(session, admin), [listing])
    assert choices == ["local/gpt-a", "local/gpt-b", "local/embed-small"]


def test_a_host_the_guard_refuses_is_a_note_and_nothing_is_sent(
    session, admin, llm, allow_loopback, monkeypatch
) -> None:
    _local(session, admin, llm)
    targets = model_catalog.listing_targets(session, admin)
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "")
    get_settings.cache_clear()
    before = len(llm.requests)
    [listing] = anyio.run(model_catalog.fetch_all, targets)
    assert listing.models == []
    assert listing.note.startswith("local: ")
    assert len(llm.requests) == before


def test_viewers_cannot_fetch_listings(session, admin) -> None:
    _user, viewer = add_member(session, admin.org_id, role=Role.VIEWER)
    with pytest.raises(Forbidden):
        model_catalog.listing_targets(session, viewer)


@pytest.mark.parametrize(
    ("kind", "body", "names"),
    [
        (ProviderKind.OPENAI, {"data": [{"id": "gpt-4o"}, {"id": "gpt-4o"}, {}]}, ["gpt-4o"]),
        (ProviderKind.ANTHROPIC, {"data": [{"id": "claude-3-5-haiku"}]}, ["claude-3-5-haiku"]),
        (
            ProviderKind.GEMINI,
            {"models": [{"name": "models/gemini-2.0-flash"}]},
            ["gemini-2.0-flash"],
        ),
        (ProviderKind.OLLAMA, {"models": [{"name": "llama3.2:3b"}]}, ["llama3.2:3b"]),
        (ProviderKind.OPENAI, ["not", "a", "listing"], []),
        (ProviderKind.OLLAMA, {"models": "nope"}, []),
    ],
)
def test_each_wire_format_is_read(kind, body, names) -> None:
    assert model_catalog.parse_listing(kind, body) == names
