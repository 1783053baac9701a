from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.echo_api import EchoAPI
from tests.fakes.github import FakeGitHub
from tests.fakes.google import FakeGoogle
from tests.fakes.linkedin import FakeLinkedIn
from tests.fakes.openai_server import ScriptedLLM
from tests.fakes.slack import FakeSlack
from tests.integrations.helpers import CLIENTS, provider_env


@pytest.fixture(scope="package")
def fake_servers() -> Iterator[dict[str, object]]:
    servers = {
        "slack": FakeSlack(*CLIENTS["slack"], expires_in=3600),
        "github": FakeGitHub(*CLIENTS["github"]),
        "google": FakeGoogle(*CLIENTS["google"]),
        "linkedin": FakeLinkedIn(*CLIENTS["linkedin"]),
        "echo": EchoAPI(),
    }
    for server in servers.values():
        server.start()
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def fakes(fake_servers: dict, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    from agent_platform.settings import get_settings

    fake_servers["echo"].required_auth = None
    provider_env(monkeypatch, {k: v for k, v in fake_servers.items() if k != "echo"})
    yield fake_servers
    get_settings.cache_clear()


@pytest.fixture
def llm(llm: ScriptedLLM, fakes: dict) -> ScriptedLLM:
    """The shared model server, with the provider fakes configured too."""
    return llm
