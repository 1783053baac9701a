"""`python -m agent_platform test run SUITE.yaml --agent NAME_OR_ID`: a suite from CI.

It imports the YAML as the agent's suite of that name (replacing its cases), runs it through
the same queue as the UI (so workers must be running), prints each case as it is graded and
exits 0 when the suite passed, 1 when it failed, 2 when it could not start, 3 on timeout.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

from agent_platform.db import session_scope
from agent_platform.models import SuiteRun, SuiteRunStatus
from services.errors import DomainError
from services.testing import ci, runner

OPEN = (SuiteRunStatus.QUEUED, SuiteRunStatus.RUNNING)
POLL_SECONDS = 0.5


def _start(path: Path, agent: str, org: str | None, repeat: int | None) -> tuple[uuid.UUID, str]:
    text = path.read_text(encoding="utf-8")
    with session_scope() as session:
        actor = ci.acting_owner(session, org)
        target = ci.find_agent(session, actor, agent)
        suite = ci.suite_from_file(session, actor, target.id, text)
        suite_run = runner.start_suite_run(session, actor, suite.id, trigger="cli", repeat=repeat)
        return suite_run.id, suite.name


def _line(line: ci.CaseLine, repeats: int) -> str:
    mark = {True: "PASS", False: "FAIL", None: "SKIP"}[line.passed]
    name = line.case if repeats == 1 else f"{line.case} #{line.repeat + 1}"
    score = f"{line.score:.2f}" if line.score is not None else "  - "
    return f"{mark}  {name[:48]:<48}  {score}  {line.reason if line.passed is not True else ''}"


def run_suite_file(
    path: Path,
    agent: str,
    *,
    org: str | None = None,
    repeat: int | None = None,
    junit: Path | None = None,
    timeout: float = 1800,
) -> int:
    try:
        suite_run_id, suite_name = _start(path, agent, org, repeat)
    except OSError as exc:
        print(f"error: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(f"suite “{suite_name}”: run {suite_run_id}")
    printed: set[uuid.UUID] = set()
    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as session:
            suite_run = session.get(SuiteRun, suite_run_id)
            assert suite_run is not None
            lines = ci.graded_lines(session, suite_run_id)
            session.expunge(suite_run)
        for line in lines:
            if line.result_id not in printed:
                printed.add(line.result_id)
                print(_line(line, suite_run.repeat), flush=True)
        if suite_run.status not in OPEN:
            break
        if time.monotonic() > deadline:
            print(f"error: the suite did not finish within {timeout:g} s", file=sys.stderr)
            return 3
        time.sleep(POLL_SECONDS)  # sleep-ok: a CLI's progress poll, bounded by the deadline
    print(
        f"{suite_run.status.value.upper()}: {suite_run.passed_cases} passed, "
        f"{suite_run.failed_cases} failed, {suite_run.flaky_cases} flaky"
        + (f"; score {suite_run.score:.2f}" if suite_run.score is not None else "")
        + (f" — {suite_run.error}" if suite_run.error else "")
    )
    if junit is not None:
        junit.write_text(ci.junit_xml(suite_name, suite_run, lines), encoding="utf-8")
        print(f"JUnit report: {junit}")
    return 0 if suite_run.status == SuiteRunStatus.PASSED else 1
