"""The type check (issue 11 §7), run as a test so CI stays one command (`scripts/test.sh`).

mypy is strict on services/ and agent_platform/ (settings in pyproject.toml). Its cache lives
under the system temp folder: a cold run takes about a minute, a warm one a few seconds.
A type-ignore comment is allowed only where mypy checks (anywhere else it suppresses nothing),
names its error code, and says why in a comment after it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("services", "agent_platform")
SKIPPED = {".venv", ".web", "node_modules", ".git"}
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<rest>.*)$")
JUSTIFIED = re.compile(r"^\[[a-z-]+(, *[a-z-]+)*\]\s+#\s*\S")


def _python_files() -> list[Path]:
    return [
        path
        for path in ROOT.rglob("*.py")
        if not SKIPPED.intersection(path.relative_to(ROOT).parts)
    ]


def test_services_and_the_app_pass_mypy_strict() -> None:
    cache = Path(tempfile.gettempdir()) / "agent-platform-mypy-cache"
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(cache), "--no-error-summary"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_type_ignore_is_checked_named_and_explained() -> None:
    problems = []
    for path in _python_files():
        relative = path.relative_to(ROOT)
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            found = IGNORE.search(line)
            if found is None:
                continue
            where = f"{relative}:{number}: {line.strip()}"
            if relative.parts[0] not in CHECKED:
                problems.append(f"{where}  (mypy does not check this file: it suppresses nothing)")
            elif not JUSTIFIED.match(found["rest"]):
                problems.append(f"{where}  (name the code and say why: [code]  # reason)")
    assert not problems, "\n".join(problems)
