"""Shell commands an owner uses: create-admin and migrate."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from agent_platform.models import User
from tests.factories import make_user

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_platform", *args],
        cwd=ROOT,
        env=dict(os.environ, **(env or {})),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_create_admin_creates_a_new_instance_admin(session) -> None:
    make_user(session, email="first@example.com")  # the first user is admin anyway
    result = _cli(
        "create-admin", "--email", "Root@Example.com", env={"ADMIN_PASSWORD": "a long admin pw"}
    )
    assert result.returncode == 0, result.stderr
    assert "root@example.com is an instance admin" in result.stdout
    session.expire_all()
    user = session.exec(select(User).where(User.email == "root@example.com")).one()
    assert user.is_instance_admin and user.password_hash.startswith("$argon2id$")


def test_create_admin_promotes_an_existing_user(session) -> None:
    make_user(session, email="first@example.com")
    second = make_user(session, email="second@example.com")
    assert not second.is_instance_admin
    result = _cli("create-admin", "--email", "second@example.com")
    assert result.returncode == 0, result.stderr
    session.expire_all()
    assert session.get(User, second.id).is_instance_admin


def test_create_admin_with_a_weak_password_says_why() -> None:
    result = _cli("create-admin", "--email", "x@example.com", "--password", "short")
    assert result.returncode == 1
    assert result.stderr.startswith("error: Please correct: Password must be at least")
    assert "Traceback" not in result.stderr


def test_migrate_is_idempotent() -> None:
    result = _cli("migrate")
    assert result.returncode == 0, result.stderr
    assert "latest schema" in result.stdout


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on leaving: nothing listens there


def test_a_redis_url_that_does_not_answer_is_one_line_naming_it(tmp_path: Path) -> None:
    url = f"redis://:hunter2@127.0.0.1:{_closed_port()}/0"
    for command in (["up", "--port", "1"], ["worker"], ["agent-worker"], ["scheduler"]):
        result = _cli(*command, env={"REDIS_URL": url, "DATA_DIR": str(tmp_path)})
        assert result.returncode == 1, (command, result.stderr)
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: REDIS_URL redis://:***@127.0.0.1:"), line
        assert "does not answer" in line and "hunter2" not in result.stderr + result.stdout


def test_a_database_url_that_does_not_answer_is_one_line_naming_it(tmp_path: Path) -> None:
    url = f"postgresql://owner:hunter2@127.0.0.1:{_closed_port()}/platform"
    for command in (["up", "--port", "1"], ["worker"], ["migrate"]):
        result = _cli(*command, env={"DATABASE_URL": url, "DATA_DIR": str(tmp_path)})
        assert result.returncode == 1, (command, result.stderr)
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: DATABASE_URL postgresql+psycopg://owner:***@127.0.0.1:")
        assert "hunter2" not in result.stderr + result.stdout
