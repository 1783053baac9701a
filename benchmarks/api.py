"""REST API benchmark: what the API adds over the services it calls.

(a) Run creation: `POST /api/v1/agents/{id}/runs` (HTTP, API-key check, rate limit, one
    transaction, the run written and enqueued) against the direct `services.runs.start_run`
    call in its own committed transaction with the same enqueue, alternated one by one in the
    same process and database. `api_overhead_p50_ms` = p50(API) - p50(direct).
(b) The OpenAI-compatible endpoint streaming: time to the first content chunk of
    `POST /api/v1/openai/chat/completions` (stream=true, the model is an agent executed by a
    real agent worker) against the model's own first token, a streamed call straight to the
    scripted model server with a known first-token delay (`--first-token-delay`), alternated.
    `openai_endpoint_first_token_ms` = p50(endpoint) - p50(model).

The app is served by uvicorn in its own process (as in production, the client here does not
share its interpreter), against PostgreSQL/Redis on 127.0.0.1 when they answer, SQLite and the
bundled Redis otherwise. The Redis database given is emptied at the end (the runs queued by (a)
belong to the throwaway database). The last line is one JSON object.

    python benchmarks/api.py [--runs 200] [--streams 40] [--first-token-delay 0.2]
                             [--redis-db 15] [--port 8640] [--pg-prefix ap_bench_api]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from benchmarks.runtime import (  # noqa: E402
    configure_environment as runtime_environment,
)
from benchmarks.runtime import (  # noqa: E402 - after the path and environment set-up
    percentile,
    setup_org,
    start_llm_server,
)


def configure_environment(redis_db: int, pg_prefix: str) -> tuple[str | None, object]:
    """As benchmarks/runtime.py, with API rate limits out of the way: still counted, but
    never the limit of a benchmark that sends hundreds a minute."""
    os.environ["API_REQUESTS_PER_MINUTE_PER_KEY"] = "1000000"
    os.environ["API_REQUESTS_PER_MINUTE_PER_ORG"] = "1000000"
    return runtime_environment(redis_db, pg_prefix)


def set_default(base_url: str, first_token_delay: float) -> None:
    """Every answer of the scripted model: its first token after `first_token_delay`, then
    the rest in chunks."""
    import httpx

    root = base_url.removesuffix("/v1")
    turn = {"text": "The answer is forty-two.", "delay": first_token_delay}
    httpx.post(f"{root}/_default", json=turn, timeout=5).raise_for_status()


def api_key(actor) -> str:
    from agent_platform.db import session_scope
    from services import api_keys

    with session_scope() as s:
        return api_keys.create_key(
            s, actor, name="bench", role="admin", scopes=["read", "run", "write", "admin"]
        ).secret


def serve(port: int) -> subprocess.Popen[bytes]:
    import httpx

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "agent_platform.api:create_api",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=dict(os.environ),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, "the API process exited"
        time.sleep(0.1)
    proc.terminate()
    raise TimeoutError("the API did not answer /health within 60 s")


def run_creation(base: str, key: str, actor, agent_id: uuid.UUID, n: int) -> tuple[list, list]:
    import httpx

    from agent_platform.db import session_scope
    from services import runs

    headers = {"Authorization": f"Bearer {key}"}
    direct: list[float] = []
    api: list[float] = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for i in range(n + 10):  # the first 10 of each warm connections and caches up
            start = time.perf_counter()
            with session_scope() as s:
                runs.start_run(s, actor, agent_id, message="ping")
            took_direct = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            response = client.post(f"/api/v1/agents/{agent_id}/runs", json={"message": "ping"})
            took_api = (time.perf_counter() - start) * 1000
            assert response.status_code == 201, response.text
            if i >= 10:
                direct.append(took_direct)
                api.append(took_api)
    return direct, api


def model_first_token(client, llm_base: str) -> float:
    """The model's own first token: a streamed call straight to the scripted server, on a
    kept-alive connection as the worker's model client has."""
    body = {
        "model": "gpt-a",
        "messages": [{"role": "user", "content": "ping"}],
        "stream": True,
    }
    start = time.perf_counter()
    with client.stream("POST", f"{llm_base}/chat/completions", json=body) as r:
        for line in r.iter_lines():
            if _has_content(line):
                return (time.perf_counter() - start) * 1000
    raise AssertionError("the model's stream carried no content")


def endpoint_first_token(client, agent_name: str) -> float:
    body = {
        "model": agent_name,
        "messages": [{"role": "user", "content": "ping"}],
        "stream": True,
    }
    start = time.perf_counter()
    with client.stream("POST", "/api/v1/openai/chat/completions", json=body) as r:
        assert r.status_code == 200, r.read().decode()
        first = None
        for line in r.iter_lines():
            if first is None and _has_content(line):
                first = (time.perf_counter() - start) * 1000
        if first is None:
            raise AssertionError("the endpoint's stream carried no content")
        return first


def _has_content(line: str) -> bool:
    if not line.startswith("data: ") or line == "data: [DONE]":
        return False
    chunk = json.loads(line.removeprefix("data: "))
    return any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or [])


def wait_for_worker(timeout: float = 180) -> None:
    from rq import Queue, Worker

    from agent_platform.redis_client import get_redis

    agents = Queue("agents", connection=get_redis())
    deadline = time.monotonic() + timeout
    while Worker.count(queue=agents) == 0:
        if time.monotonic() > deadline:
            raise TimeoutError("the agent worker did not register")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200, help="run creations of each kind")
    parser.add_argument("--streams", type=int, default=40, help="streamed answers of each kind")
    parser.add_argument("--first-token-delay", type=float, default=0.2)
    parser.add_argument("--redis-db", type=int, default=15, help="Redis db when 6379 answers")
    parser.add_argument("--port", type=int, default=8640)
    parser.add_argument("--pg-prefix", default="ap_bench_api", help="throwaway database name")
    args = parser.parse_args()

    pg_name, redis_proc = configure_environment(args.redis_db, args.pg_prefix)
    from agent_platform import migrations

    migrations.upgrade()
    llm_proc, llm_base = start_llm_server()
    server = worker = None
    try:
        actor, agent_id = setup_org(llm_base)
        key = api_key(actor)
        set_default(llm_base, args.first_token_delay)
        server = serve(args.port)
        base = f"http://127.0.0.1:{args.port}"

        # (a) run creation, no worker running: nothing competes for the CPU
        direct, api = run_creation(base, key, actor, agent_id, args.runs)
        from agent_platform.redis_client import get_redis

        get_redis().flushdb()  # (a)'s queued runs: nobody is to execute them

        # (b) first token through the OpenAI-compatible endpoint vs the model's own
        import httpx

        worker = subprocess.Popen(
            [sys.executable, "-m", "agent_platform", "agent-worker", "--concurrency", "10"],
            cwd=ROOT,
            env=dict(os.environ),
        )
        wait_for_worker()
        model: list[float] = []
        endpoint: list[float] = []
        headers = {"Authorization": f"Bearer {key}"}
        with (
            httpx.Client(base_url=base, headers=headers, timeout=60) as client,
            httpx.Client(timeout=60) as direct_client,
        ):
            for i in range(args.streams + 3):  # 3 warm-ups of each
                took_model = model_first_token(direct_client, llm_base)
                took_endpoint = endpoint_first_token(client, "Bench")
                if i >= 3:
                    model.append(took_model)
                    endpoint.append(took_endpoint)

        direct_p50, api_p50 = statistics.median(direct), statistics.median(api)
        model_p50, endpoint_p50 = statistics.median(model), statistics.median(endpoint)
        result = {
            "api_overhead_p50_ms": round(api_p50 - direct_p50, 1),
            "api_run_create_p50_ms": round(api_p50, 1),
            "api_run_create_p95_ms": round(percentile(api, 0.95), 1),
            "direct_run_create_p50_ms": round(direct_p50, 1),
            "direct_run_create_p95_ms": round(percentile(direct, 0.95), 1),
            "openai_endpoint_first_token_ms": round(endpoint_p50 - model_p50, 1),
            "endpoint_first_token_p50_ms": round(endpoint_p50, 1),
            "endpoint_first_token_p95_ms": round(percentile(endpoint, 0.95), 1),
            "model_first_token_p50_ms": round(model_p50, 1),
        }
        from agent_platform.db import get_engine

        print(f"database {get_engine().dialect.name}, redis {os.environ['REDIS_URL']}")
        print(
            f"run creation, service call   p50 {direct_p50:7.1f} ms   "
            f"p95 {percentile(direct, 0.95):7.1f} ms   ({len(direct)} runs)"
        )
        print(
            f"run creation, REST API       p50 {api_p50:7.1f} ms   "
            f"p95 {percentile(api, 0.95):7.1f} ms   over: {api_p50 - direct_p50:.1f} ms"
        )
        print(
            f"first token, the model       p50 {model_p50:7.1f} ms   "
            f"p95 {percentile(model, 0.95):7.1f} ms   (scripted delay "
            f"{args.first_token_delay * 1000:.0f} ms)"
        )
        print(
            f"first token, OpenAI endpoint p50 {endpoint_p50:7.1f} ms   "
            f"p95 {percentile(endpoint, 0.95):7.1f} ms   over: {endpoint_p50 - model_p50:.1f} ms"
        )
        print(json.dumps(result))
    finally:
        for proc in (worker, server):
            if proc is not None:
                proc.terminate()
                proc.wait(30)
        llm_proc.terminate()
        if redis_proc is not None:
            redis_proc.terminate()
        else:
            from agent_platform.redis_client import get_redis

            get_redis().flushdb()
        if pg_name:
            import psycopg

            from agent_platform.db import reset_engine

            reset_engine()
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
