"""The suite's own rules, checked: CI never falls back silently to the embedded services, and no
test guesses timing with a bare sleep."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"


def dead_port() -> int:
    """A port nobody listens on: bound, read, released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_pytest(**env: str) -> subprocess.CompletedProcess[str]:
    """Collect one tiny test file in a child pytest with the given environment."""
    full = {k: v for k, v in os.environ.items() if k not in ("CI", "AP_TEST_EMBEDDED")}
    full.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--collect-only",
            "tests/test_settings.py",
        ],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


class TestCiRefusesTheEmbeddedFallback:
    def test_ci_without_postgres_stops_before_any_test(self) -> None:
        result = child_pytest(
            CI="true", AP_TEST_PG_URL=f"postgresql://postgres@127.0.0.1:{dead_port()}/test"
        )
        assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
        assert "CI=true but PostgreSQL did not answer" in result.stderr

    def test_ci_without_redis_stops_before_any_test(self) -> None:
        result = child_pytest(CI="true", AP_TEST_REDIS_PORT=str(dead_port()))
        assert result.returncode == 4, result.stdout + result.stderr
        assert "CI=true but Redis did not answer" in result.stderr

    def test_without_ci_a_missing_postgres_falls_back_to_sqlite(self) -> None:
        result = child_pytest(AP_TEST_PG_URL=f"postgresql://postgres@127.0.0.1:{dead_port()}/t")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SQLite (PostgreSQL not reachable)" in result.stdout


# A sleep in a test is allowed only where waiting *is* the behaviour: a fake server's scripted
# delay, a child process that must stay alive, a poll step inside a loop with a deadline. Each such
# line says so with `# sleep-ok: <why>`; any other sleep is a timing guess.
SLEEP = re.compile(r"\bsleep\(")


def test_every_sleep_in_the_tests_says_why_it_is_not_a_guess() -> None:
    unexplained = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sorted(TESTS.rglob("*.py"))
        if path.name != Path(__file__).name
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if SLEEP.search(line) and "# sleep-ok:" not in line
    ]
    assert unexplained == []
