"""The transaction boundary: one commit per scope, after-commit hooks only after a commit."""

from __future__ import annotations

import pytest
from sqlmodel import select

from agent_platform.db import after_commit, session_scope
from agent_platform.models import User
from tests.factories import make_user


def test_hooks_run_after_commit_and_see_committed_rows(session) -> None:  # type: ignore[no-untyped-def]
    seen: list[int] = []
    with session_scope() as s:
        make_user(s, email="hook@example.com")
        after_commit(s, lambda: seen.append(len(session.exec(select(User)).all())))
        assert seen == []
    assert seen == [1]


def test_error_rolls_back_everything_and_drops_hooks(session) -> None:  # type: ignore[no-untyped-def]
    from services import accounts

    seen: list[str] = []
    with pytest.raises(RuntimeError), session_scope() as s:
        accounts.register(s, email="half@example.com", name="Half", password="long enough pw")
        after_commit(s, lambda: seen.append("ran"))
        raise RuntimeError("boom")
    assert seen == []
    assert session.exec(select(User).where(User.email == "half@example.com")).first() is None
