"""deploy/docker-compose.yml is a valid Compose file that starts the platform in the right
order, checks its health, and takes every secret from deploy/.env.

tests/deploy/compose-spec.json is the compose specification's own JSON schema, copied unchanged
from the compose-spec project (schema/compose-spec.json at commit 170098b, Apache License 2.0),
so the check needs neither Docker nor a network."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
SCHEMA = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
PLATFORM = {"web", "agent-worker", "worker", "scheduler"}
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def _compose() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return compose


def _env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (DEPLOY / "env.example").read_text().splitlines())
    return {key: value for key, value in (p for p in pairs if len(p) == 2)}


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}` (enough for our file)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        value = env.get(name, "")
        if op and op.endswith("?") and not value:
            raise ValueError(f"{name}: {arg}")
        if op and op.endswith("-") and not value:
            return arg
        return value

    return _VARIABLE.sub(one, text).replace("$$", "$")


def test_the_file_matches_the_compose_specification() -> None:
    validator = jsonschema.Draft7Validator(SCHEMA)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert errors == []
    broken = _compose()
    broken["services"]["web"]["depends_on"]["migrate"]["condition"] = "service_finished"
    assert list(validator.iter_errors(broken)), "the schema must catch a wrong condition"
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode:
        docker = None  # the compose plugin is not installed: the schema check above stands
    if docker:
        env = {**os.environ, **{k: v or "x1" for k, v in _env_example().items()}}
        done = subprocess.run(
            [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert done.returncode == 0, done.stderr


def test_every_part_is_there_and_starts_after_what_it_needs() -> None:
    services = _compose()["services"]
    assert set(services) == PLATFORM | {
        "postgres",
        "redis",
        "openbao",
        "openbao-init",
        "chroma",
        "migrate",
    }
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in PLATFORM:
        service = services[name]
        assert service["command"] == [name], name
        assert service["image"] == migrate["image"], "one image, the command picks the role"
        needs = {dep: cond["condition"] for dep, cond in service["depends_on"].items()}
        assert needs == {
            "migrate": "service_completed_successfully",
            "redis": "service_healthy",
            "openbao-init": "service_completed_successfully",
            "chroma": "service_started",
        }, name
        env = service["environment"]
        assert env["SECRET_STORE"] == "vault" and env["VAULT_URL"] == "http://openbao:8200"
        assert env["CHROMA_URL"] == "http://chroma:8000"
        assert "@postgres:5432/" in env["DATABASE_URL"] and "@redis:6379/" in env["REDIS_URL"]
        # One DATA_DIR for all: the local key must be the same file everywhere.
        assert service["volumes"] == ["platform-data:/data"], name
    assert services["web"]["build"]["context"] == ".."
    assert (COMPOSE.parent / services["web"]["build"]["context"] / "Dockerfile").is_file()
    # `up --wait` counts a one-shot's exit as a failure unless a running service waits for it.
    for name, service in services.items():
        if service.get("restart") == "no":
            adopters = [
                other
                for other, spec in services.items()
                if spec.get("restart") != "no"
                and (spec.get("depends_on") or {}).get(name, {}).get("condition")
                == "service_completed_successfully"
            ]
            assert adopters, f"{name} is a one-shot nothing long-running waits for"
    init = services["openbao-init"]
    assert init["depends_on"] == {"openbao": {"condition": "service_healthy"}}
    for mount in init["volumes"] + services["openbao"]["volumes"]:
        source = mount.split(":", 1)[0]
        assert not source.startswith(".") or (DEPLOY / source).is_file(), source


def test_healthchecks_gate_the_start_and_web_reports_ready() -> None:
    services = _compose()["services"]
    for name in ("postgres", "redis", "openbao"):
        assert services[name]["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    web = services["web"]
    check = " ".join(web["healthcheck"]["test"])
    assert "http://127.0.0.1:3000/ready" in check
    assert web["ports"] == ["${WEB_PORT:-3000}:3000"]
    # Every service a platform part waits for as healthy has a healthcheck to wait on.
    for service in services.values():
        for dep, cond in (service.get("depends_on") or {}).items():
            if cond["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], dep


def test_secrets_come_only_from_the_env_file() -> None:
    text = COMPOSE.read_text()
    example = _env_example()
    required = {m.group(1) for m in _VARIABLE.finditer(text) if m.group(2) == ":?"}
    assert required == {
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "BAO_STATIC_KEY",
        "VAULT_ROLE_ID",
        "VAULT_SECRET_ID",
    }
    for name in required:
        assert example.get(name) == "", f"env.example lists {name}, empty"
    # Every variable the file uses is explained in env.example.
    assert {m.group(1) for m in _VARIABLE.finditer(text)} - {"AGENT_PLATFORM_IMAGE"} <= set(example)
    # No literal secret: values of secret-looking keys are interpolations.
    secret_key = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY|AUTH", re.I)
    for name, service in _compose()["services"].items():
        env = service.get("environment") or {}
        for key, value in env.items():
            if secret_key.search(key) and key != "SECRET_STORE":  # a choice, not a secret
                assert str(value).startswith("${"), f"{name}: {key} is written in the file"
    assert not re.search(r"://[^/\s:@$]*:[^/\s@$]+@", text), "a URL with a literal password"
    # The files that hold them are never committed.
    ignored = subprocess.run(
        ["git", "check-ignore", "deploy/.env", "deploy/platform.env"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.stdout.split() == ["deploy/.env", "deploy/platform.env"]


def test_the_env_file_fills_in_every_setting() -> None:
    env = {k: v or f"{k.lower()}0" for k, v in _env_example().items()}
    resolved = yaml.safe_load(interpolate(COMPOSE.read_text(), env))
    web = resolved["services"]["web"]["environment"]
    assert web["DATABASE_URL"] == (
        "postgresql+psycopg://agent_platform:postgres_password0@postgres:5432/agent_platform"
    )
    assert web["REDIS_URL"] == "redis://:redis_password0@redis:6379/0"
    assert resolved["services"]["redis"]["command"][-1] == "redis_password0"
    assert resolved["services"]["openbao"]["environment"]["BAO_STATIC_KEY"] == "bao_static_key0"
    assert "${" not in json.dumps(resolved)
    missing = dict(env, POSTGRES_PASSWORD="")
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):
        interpolate(COMPOSE.read_text(), missing)


def test_metrics_reach_prometheus_from_every_process() -> None:
    """The web container's /metrics sums its server processes; each worker container serves
    its own on METRICS_PORT. Both need prometheus-client's multiprocess directory (a forked RQ
    job, several web processes), empty at each start: a tmpfs mount."""
    env = {k: v or f"{k.lower()}0" for k, v in _env_example().items()}
    services = yaml.safe_load(interpolate(COMPOSE.read_text(), env))["services"]
    for name in PLATFORM:
        service = services[name]
        directory = service["environment"]["PROMETHEUS_MULTIPROC_DIR"]
        assert directory in service["tmpfs"], name
        assert service["environment"]["METRICS_TOKEN"] == "metrics_token0", name
    for name in ("worker", "agent-worker"):
        port = services[name]["environment"]["METRICS_PORT"]
        assert int(port) > 0 and services[name]["expose"] == [port], name
    assert "METRICS_PORT" not in services["web"]["environment"]  # its /metrics is on port 3000
    assert services["web"]["environment"]["WEB_PROCESSES"] == 1  # deploy/.env: WEB_PROCESSES
    assert "METRICS_TOKEN" not in {
        m.group(1) for m in _VARIABLE.finditer(COMPOSE.read_text()) if m.group(2) == ":?"
    }, "optional: without it each container answers only itself"
