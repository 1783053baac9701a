"""`python -m agent_platform test run` as a CI pipeline uses it: real worker processes run the
cases, the exit status says whether the suite passed, and the JUnit file says which case failed."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from agent_platform.models import Organization
from tests.fakes.openai_server import ScriptedLLM, Turn
from tests.services.runtime_helpers import make_agent, org_with_provider

ROOT = Path(__file__).resolve().parent.parent

SUITE = """\
description: Geography
tests:
  - description: Capital of France
    vars: {question: "What is the capital of France?"}
    assert:
      - type: icontains
        value: paris
"""
FAILING_CASE = """\
  - description: Capital of Germany
    vars: {question: "What is the capital of Germany?"}
    assert:
      - type: icontains
        value: berlin
"""


@pytest.fixture
def llm(llm: ScriptedLLM) -> ScriptedLLM:
    llm.set_default(Turn(text="Paris, of course."))
    return llm


@pytest.fixture
def workers(llm: ScriptedLLM, tmp_path: Path) -> Iterator[None]:
    """The agent worker and a general worker (the testing queue), as `up` starts them."""
    env = dict(os.environ)
    log = (tmp_path / "workers.log").open("wb")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "agent_platform", *command],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        for command in (["agent-worker"], ["worker", "--queues", "testing"])
    ]
    yield
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)
    log.close()


def _cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_platform", "test", "run", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_exit_status_and_junit_report(
    session: Session, llm: ScriptedLLM, workers: None, tmp_path: Path
) -> None:
    actor = org_with_provider(session, llm.base_url)
    make_agent(session, actor)
    org = session.get(Organization, actor.org_id)
    assert org is not None
    suite_file = tmp_path / "suite.yaml"
    junit = tmp_path / "report.xml"

    suite_file.write_text(SUITE + FAILING_CASE)
    failed = _cli(
        str(suite_file),
        "--agent",
        "Helper",
        "--org",
        org.slug,
        "--junit",
        str(junit),
        "--timeout",
        "200",
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "PASS  Capital of France" in failed.stdout
    assert "FAIL  Capital of Germany" in failed.stdout
    assert "FAILED: 1 passed, 1 failed" in failed.stdout
    report = ET.parse(junit).getroot()
    assert (report.get("tests"), report.get("failures")) == ("2", "1")
    cases = {c.get("name"): c for c in report.iter("testcase")}
    assert cases["Capital of France"].find("failure") is None
    failure = cases["Capital of Germany"].find("failure")
    assert failure is not None and "berlin" in (failure.text or "")

    # The same file without the failing case replaces the suite's cases, and passes.
    suite_file.write_text(SUITE)
    passed = _cli(str(suite_file), "--agent", "Helper", "--org", org.slug, "--repeat", "2")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.count("PASS  Capital of France") == 2
    assert "PASSED: 1 passed, 0 failed" in passed.stdout


def test_mistakes_exit_2_in_words(session: Session, llm: ScriptedLLM, tmp_path: Path) -> None:
    actor = org_with_provider(session, llm.base_url)
    make_agent(session, actor)
    org = session.get(Organization, actor.org_id)
    assert org is not None
    suite_file = tmp_path / "suite.yaml"
    suite_file.write_text(SUITE)
    unknown = _cli(str(suite_file), "--agent", "Nobody", "--org", org.slug)
    assert unknown.returncode == 2
    assert "No agent “Nobody”" in unknown.stderr and "Traceback" not in unknown.stderr
    suite_file.write_text("tests:\n  - vars: {message: hi}\n    assert:\n      - type: python\n")
    bad = _cli(str(suite_file), "--agent", "Helper", "--org", org.slug)
    assert bad.returncode == 2
    assert "line 4: unknown assertion type “python”" in bad.stderr
    missing = _cli(str(tmp_path / "nope.yaml"), "--agent", "Helper", "--org", org.slug)
    assert missing.returncode == 2 and "cannot read" in missing.stderr
