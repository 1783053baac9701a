"""The Dockerfile builds what the README promises: the pinned lock only, the frontend at build
time, a runtime stage that runs as an unprivileged user, and no secret baked in. Read with a
small parser of Dockerfile syntax (no Docker daemon is needed or used)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from agent_platform import cli

ROOT = Path(__file__).resolve().parents[2]
Instruction = tuple[str, str]


def parse(text: str) -> list[list[Instruction]]:
    """The instructions of each stage: continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    stages: list[list[Instruction]] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stages.append([])
        elif not stages:
            assert keyword == "ARG", f"{keyword} before the first FROM"
            continue
        stages[-1].append((keyword, re.sub(r"\s+", " ", args.strip())))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    return parse((ROOT / "Dockerfile").read_text())


def _args(stage: list[Instruction], keyword: str) -> list[str]:
    return [args for key, args in stage if key == keyword]


def test_the_parser_reads_stages_and_continuations() -> None:
    parsed = parse("ARG X=1\nFROM a AS b\n# note\nRUN one \\\n    two\nFROM c\nUSER 5\n")
    assert parsed == [[("FROM", "a AS b"), ("RUN", "one two")], [("FROM", "c"), ("USER", "5")]]


def test_two_stages_on_python_311_slim(stages: list[list[Instruction]]) -> None:
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)", text, re.M)
    assert base and re.fullmatch(r"python:3\.11-slim(-\w+)?", base.group(1))
    assert [s[0][1] for s in stages] == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]


def test_only_the_pinned_lock_is_installed(stages: list[list[Instruction]]) -> None:
    installs = [r for s in stages for r in _args(s, "RUN") if "pip install" in r]
    assert installs == ["pip install --no-deps -r requirements.txt"]
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        assert not line or "==" in line, line


def test_the_frontend_is_built_into_the_image(stages: list[list[Instruction]]) -> None:
    build, runtime = stages
    steps = " ".join(_args(build, "RUN"))
    assert "python -m agent_platform build --force" in steps  # reflex export, as `up` runs it
    assert "test -f .web/build/client/index.html" in steps
    assert 'BASE_URL="$BASE_URL"' in steps and "BASE_URL=http://localhost:3000" in _args(
        build, "ARG"
    )
    copies = _args(runtime, "COPY")
    assert "--from=build /app /app" in copies and "--from=build /opt/venv /opt/venv" in copies


def test_the_runtime_runs_as_an_unprivileged_user(stages: list[list[Instruction]]) -> None:
    runtime = stages[-1]
    users = _args(runtime, "USER")
    assert users == ["10001:10001"]
    after_user = runtime[[k for k, _ in runtime].index("USER") :]
    assert not [a for k, a in after_user if k == "RUN"], "nothing runs as root after USER"
    assert "useradd --system --uid 10001" in " ".join(_args(runtime, "RUN"))
    # Kubernetes' runAsNonRoot/runAsUser must agree with the image.
    values = yaml.safe_load((ROOT / "deploy/helm/agent-platform/values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == 10001


def test_no_secret_is_baked_in(stages: list[list[Instruction]]) -> None:
    secret = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE", re.I)
    for stage in stages:
        for keyword, args in stage:
            if keyword in ("ENV", "ARG", "LABEL"):
                assert not secret.search(args), args
            if keyword in ("COPY", "ADD"):
                assert ".env" not in args and "secret" not in args.lower(), args
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".web", "data", "**/.env", "deploy/*.env"} <= ignored


def test_every_command_the_deploy_files_run_is_a_real_subcommand(
    stages: list[list[Instruction]], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    listed = re.search(r"\{([a-z,-]+)\}", capsys.readouterr().out)
    assert listed
    commands = set(listed.group(1).split(","))
    runtime = stages[-1]
    assert _args(runtime, "ENTRYPOINT") == ['["python", "-m", "agent_platform"]']
    assert _args(runtime, "CMD") == ['["web"]']
    used = {"web"}
    compose = yaml.safe_load((ROOT / "deploy/docker-compose.yml").read_text())
    for name in ("migrate", "web", "agent-worker", "worker", "scheduler"):
        used.update(compose["services"][name]["command"])
    templates = (ROOT / "deploy/helm/agent-platform/templates").glob("*.yaml")
    for template in templates:
        used.update(re.findall(r'args: \["([a-z-]+)"\]', template.read_text()))
    assert used == {"migrate", "web", "agent-worker", "worker", "scheduler"}
    assert used <= commands
