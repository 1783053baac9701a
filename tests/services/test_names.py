"""Names refuse NUL, control, bidi-override and zero-width characters (services.validation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session

from agent_platform.models import User
from services import accounts, agents, api_keys, organizations
from services.access import Actor
from services.errors import Invalid
from services.integrations import connections
from services.memory import collections
from services.validation import name_problem
from tests.factories import PASSWORD, make_org, make_user, personal_actor

BAD_NAMES = {
    "nul": "Acme\x00Corp",
    "control": "Acme\x1bCorp",
    "newline": "Acme\nCorp",
    "bidi override": "invoice\u202egnp.exe",
    "bidi isolate": "Acme\u2066Corp",
    "zero-width space": "Ac\u200bme",
    "zero-width joiner": "Ac\u200dme",
    "byte order mark": "\ufeffAcme",
    "line separator": "Acme\u2028Corp",
}


def test_plain_and_international_names_pass() -> None:
    for good in ("Acme", "Équipe d'été", "東京チーム", "Ops 🚀", "Müller & Söhne"):
        assert name_problem(good) is None


@pytest.mark.parametrize("bad", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_message_names_the_character(bad: str) -> None:
    problem = name_problem(bad)
    assert problem is not None
    assert problem.startswith("Must not contain invisible or control characters (found U+")


def _creators(session: Session, actor: Actor) -> dict[str, Callable[[str], Any]]:
    return {
        "organization": lambda name: organizations.create_org(
            session, session.get_one(User, actor.user_id), name=name
        ),
        "organization rename": lambda name: organizations.rename_org(session, actor, name=name),
        "agent": lambda name: agents.create_agent(session, actor, name=name),
        "api key": lambda name: api_keys.create_key(session, actor, name=name),
        "collection": lambda name: collections.create_collection(session, actor, name=name),
        "connection": lambda name: connections.create_api_connection(
            session,
            actor,
            {
                "name": name,
                "base_url": "https://api.example.com",
                "auth_kind": "bearer",
                "token": "t-123456789",
            },
        ),
        "sign-up": lambda name: accounts.register(
            session, email="new@example.com", name=name, password=PASSWORD
        ),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "organization",
        "organization rename",
        "agent",
        "api key",
        "collection",
        "connection",
        "sign-up",
    ],
)
@pytest.mark.parametrize("bad", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_every_named_thing_refuses_invisible_characters(
    session: Session, kind: str, bad: str
) -> None:
    owner = make_user(session)
    actor = make_org(session, owner) if kind != "sign-up" else personal_actor(session, owner)
    create = _creators(session, actor)[kind]
    with pytest.raises(Invalid) as exc:
        create(bad)
    assert "must not contain invisible or control characters" in exc.value.fields["name"]
    assert "U+" in exc.value.message
    session.rollback()


def test_a_clean_name_still_saves(session: Session) -> None:
    owner = make_user(session)
    actor = make_org(session, owner)
    agent = agents.create_agent(session, actor, name="Support bot")
    assert agent.name == "Support bot"
