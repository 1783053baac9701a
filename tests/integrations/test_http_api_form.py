"""Issue 10 #16: an HTTP API connection saves with each kind of credential; only the fields
the form shows for that kind are checked, and problems are said in words."""

from __future__ import annotations

import pytest

from services.errors import Invalid
from services.integrations import connections, credentials
from tests.factories import make_user, personal_actor

HIDDEN_EMPTY = {"header_name": "", "api_key": "", "token": "", "username": "", "password": ""}
KINDS = {
    "bearer": {"token": "t-123456"},
    "basic": {"username": "svc", "password": "pw-123456"},
    "api_key": {"api_key": "k-123456"},  # the header name left empty: X-API-Key
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("with_hidden", [False, True], ids=["shown-only", "hidden-empty"])
def test_each_auth_kind_saves(session, fakes, kind: str, with_hidden: bool) -> None:
    actor = personal_actor(session, make_user(session))
    data = {"name": f"api-{kind}", "base_url": fakes["echo"].base_url, "auth_kind": kind}
    row = connections.create_api_connection(
        session, actor, {**(HIDDEN_EMPTY if with_hidden else {}), **data, **KINDS[kind]}
    )
    session.flush()
    assert row.auth_kind == kind
    assert credentials.load(session, row) == KINDS[kind]  # nothing of another kind is kept
    if kind == "api_key":
        assert row.settings["header_name"] == "X-API-Key"
    else:
        assert "header_name" not in row.settings


@pytest.mark.parametrize(
    ("kind", "fields", "field", "words"),
    [
        ("bearer", {}, "token", "Token is required."),
        ("basic", {"username": "svc"}, "password", "Password is required."),
        (
            "api_key",
            {"api_key": "k-1", "header_name": "X API Key"},
            "header_name",
            "Header name may contain only letters, digits and hyphens",
        ),
        ("api_key", {}, "api_key", "API key is required."),
    ],
)
def test_problems_are_said_in_words(session, fakes, kind, fields, field, words) -> None:
    actor = personal_actor(session, make_user(session))
    data = {"name": "x", "base_url": fakes["echo"].base_url, "auth_kind": kind, **fields}
    with pytest.raises(Invalid) as err:
        connections.create_api_connection(session, actor, data)
    assert list(err.value.fields) == [field]
    assert err.value.fields[field].startswith(words)
    assert words in err.value.message
    for raw in ("pattern", "[A-Za-z", "String should", "Value error"):
        assert raw not in err.value.message


def test_empty_name_and_bad_url_in_words(session, fakes) -> None:
    actor = personal_actor(session, make_user(session))
    with pytest.raises(Invalid) as err:
        connections.create_api_connection(
            session, actor, {"name": "", "base_url": "nope", "auth_kind": "bearer", "token": "t"}
        )
    assert err.value.fields == {
        "name": "Name is required.",
        "base_url": "Base URL must be an http(s) URL.",
    }
