"""UI benchmark: seconds until each page is usable, in a real browser, with a seeded org.

Seeds one organization with 1,000 agents and 100,000 runs (bulk inserts), starts the platform
the way a user does (`python -m agent_platform up`), signs in with Chromium and opens each page
three times. "Usable" means: signed in, no loading spinner left, and the page's own content
(table, canvas, trace) on screen. The baseline is the sign-in page, which needs no data.

Then the websocket figures (Playwright's frame events, payload bytes): the bytes the browser
receives while an N-character answer streams (60 chunks of 6 characters by default, from the
scripted model server) in the playground and in the builder's test panel, against the answer's
own bytes; and the first frame of a page load (the hydrate snapshot) in a fresh tab and after
the tab visited the playground, the builder and the runs.
Ends with one JSON line: median seconds-to-usable per page, the counts, and `wire`.

    python benchmarks/ui.py [--agents 1000] [--runs 100000] [--port 3917] [--chars 360]
    python benchmarks/ui.py --wire-only        # only the websocket figures, nothing seeded
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from runtime import configure_environment  # noqa: E402

EMAIL, PASSWORD = "bench@example.com", "benchmark password 1"
USABLE_JS = """(selector) => {
  if (!document.querySelector('#current-user-name')) return false;
  const spinning = [...document.querySelectorAll('.rt-Spinner')].some(e => e.offsetParent);
  return !spinning && (!selector || !!document.querySelector(selector));
}"""


def seed(n_agents: int, n_runs: int) -> dict[str, str]:
    from sqlalchemy import insert

    from agent_platform import migrations
    from agent_platform.db import get_engine, session_scope
    from agent_platform.models import Agent, AgentVersion, Execution, ExecutionStep
    from agent_platform.models.base import utcnow
    from services import accounts

    migrations.upgrade()
    with session_scope() as session:
        user = accounts.register(session, email=EMAIL, name="Bench", password=PASSWORD)
        session.flush()
        org_id, user_id = accounts.default_org_id(session, user.id), user.id
    now = utcnow()
    config = {"model": "openai/gpt-4o-mini", "instructions": "You help.", "tools": []}
    agents, versions = [], []
    for i in range(n_agents):
        agent_id, version_id = uuid.uuid4(), uuid.uuid4()
        agents.append(
            {
                "id": agent_id,
                "org_id": org_id,
                "name": f"Agent {i:04d}",
                "description": "seeded",
                "config": config,
                "status": "draft",
                "current_version_id": None,
                "created_by_id": user_id,
                "created_at": now - timedelta(minutes=i),
                "updated_at": now - timedelta(minutes=i),
            }
        )
        versions.append(
            {
                "id": version_id,
                "agent_id": agent_id,
                "org_id": org_id,
                "version": 1,
                "config": config,
                "created_by_id": user_id,
                "created_at": now - timedelta(minutes=i),
            }
        )
    rng = random.Random(7)
    statuses = ["succeeded"] * 8 + ["failed", "cancelled"]
    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(insert(Agent), agents)
        conn.execute(insert(AgentVersion), versions)
        for start in range(0, n_runs, 10_000):
            rows = []
            for i in range(start, min(start + 10_000, n_runs)):
                agent = agents[rng.randrange(n_agents)]
                status = rng.choice(statuses)
                created = now - timedelta(seconds=rng.randrange(30 * 86_400))
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "org_id": org_id,
                        "agent_id": agent["id"],
                        "agent_version_id": None,
                        "triggered_by_id": user_id,
                        "status": status,
                        "input": {"message": f"question {i}"},
                        "output": {"text": f"answer {i}"} if status == "succeeded" else None,
                        "tokens_used": rng.randrange(50, 2000),
                        "latency_ms": rng.randrange(200, 9000),
                        "cost": rng.randrange(1, 5000) / 1_000_000,
                        "error": "model failed" if status == "failed" else None,
                        "created_at": created,
                        "started_at": created,
                        "finished_at": created + timedelta(seconds=2),
                    }
                )
            conn.execute(insert(Execution), rows)
        last = rows[-1]["id"]
        conn.execute(
            insert(ExecutionStep),
            [
                {
                    "id": uuid.uuid4(),
                    "execution_id": last,
                    "position": p,
                    "kind": "model",
                    "model": "openai/gpt-4o-mini",
                    "tokens": 100,
                    "cost": 0.0001,
                    "latency_ms": 800,
                    "created_at": now,
                }
                for p in range(3)
            ],
        )
    return {"agent_id": str(agents[0]["id"]), "run_id": str(last)}


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"`up` exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the platform did not become ready")


def measure(page, url: str, selector: str, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        page.goto(url)
        page.wait_for_function(USABLE_JS, arg=selector, timeout=60_000, polling=20)
        times.append(time.perf_counter() - began)
    return round(statistics.median(times), 3)


WIRE_EMAIL = "wire@example.com"
WORDS = "the agent streams each new piece once and the page appends it in order".split()


def answer_text(n: int) -> str:
    """A deterministic ASCII answer of exactly n characters, in sentences and paragraphs."""
    out, i = "", 0
    while len(out) < n:
        out += WORDS[i % len(WORDS)] + (".\n\n" if i % 23 == 22 else " ")
        i += 1
    return out[:n]


def seed_wire(llm_base_url: str) -> str:
    """A user with a provider at the scripted model server and one agent; the agent's id."""
    from agent_platform import migrations
    from agent_platform.db import session_scope
    from services import accounts, agents
    from services.access import actor_for
    from services.llm import providers

    migrations.upgrade()
    with session_scope() as s:
        user = accounts.register(s, email=WIRE_EMAIL, name="Wire", password=PASSWORD)
        s.flush()
        actor = actor_for(s, user, accounts.default_org_id(s, user.id))
        providers.save_provider(
            s,
            actor,
            {
                "name": "local",
                "kind": "openai_compatible",
                "api_base": llm_base_url,
                "api_key": "sk-wire",
                "models": ["gpt-a"],
            },
        )
        agent = agents.create_agent(
            s, actor, name="Streamer", config={"model": "local/gpt-a", "instructions": "Answer."}
        )
        return str(agent.id)


def sign_in(page, url: str, email: str) -> None:
    page.goto(url + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#current-user-name", timeout=60_000)


def _settle(page, log) -> None:
    """Wait until no frame arrived for 0.5 s (a benchmark may wait; tests wait for events)."""
    count = -1
    while count != len(log.received):
        count = len(log.received)
        page.wait_for_timeout(500)


def wire_figures(url: str, browser, lengths: list[int]) -> dict[str, object]:
    """Websocket bytes of streamed answers of each length, and of a page load's first frame."""
    from playwright.sync_api import expect

    from tests.e2e.wire import FrameLog, total
    from tests.fakes.openai_server import ScriptedLLM, Turn

    figures: dict[str, object] = {"chunk_chars": 6, "chunk_delay_s": 0.06}
    playground: dict[str, dict[str, float]] = {}
    builder: dict[str, dict[str, float]] = {}
    with ScriptedLLM() as llm:
        agent_id = seed_wire(llm.base_url)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        log = FrameLog.attach(page)
        sign_in(page, url, WIRE_EMAIL)

        mark = log.mark()
        page.goto(url + "/agents")
        page.wait_for_function(USABLE_JS, arg="#agents-table", timeout=60_000)
        first = log.first_update_since(mark)
        figures["first_frame_fresh_tab_bytes"] = first.size if first else 0

        def stream(answer: str, start, done, where: str) -> dict[str, float]:
            llm.script(Turn(text=answer, chunk_size=6, chunk_delay=0.06))
            mark = log.mark()
            start()
            done()
            _settle(page, log)
            got = log.received_since(mark)
            if os.environ.get("UI_BENCH_DEBUG"):
                dump = ROOT / "test-artifacts" / f"ui-bench-frames-{where}-{len(answer)}.txt"
                dump.write_text("\n".join(f"{f.size}\t{f.text}" for f in got))
            return {
                "answer_bytes": len(answer.encode()),
                "received_bytes": total(got),
                "received_frames": len(got),
                "sent_bytes": total(log.sent_since(mark)),
                "ratio": round(total(got) / len(answer.encode()), 2),
            }

        page.goto(f"{url}/playground?agent={agent_id}")
        page.wait_for_function(USABLE_JS, arg="#chat-input", timeout=60_000)
        for n in lengths:  # one conversation: a later answer must not resend the earlier ones
            answer = answer_text(n)

            def send() -> None:
                page.fill("#chat-input", "Tell me about streaming.")
                page.click("#chat-send")

            playground[str(n)] = stream(
                answer,
                send,
                lambda answer=answer: expect(page.locator(".msg-assistant").last).to_have_text(
                    answer, timeout=120_000, use_inner_text=False
                ),
                "playground",
            )

        page.goto(f"{url}/builder?id={agent_id}")
        page.wait_for_function(USABLE_JS, arg='.react-flow__node[data-id="model"]', timeout=60_000)
        for n in lengths:
            answer = answer_text(n)

            def run_test() -> None:
                page.fill("#test-message", "Tell me about streaming.")
                page.click("#test-run")

            builder[str(n)] = stream(
                answer,
                run_test,
                lambda answer=answer: expect(page.locator("#test-output")).to_have_text(
                    answer, timeout=120_000, use_inner_text=False
                ),
                "builder",
            )

        page.goto(url + "/runs")
        page.wait_for_function(USABLE_JS, arg="#runs-table", timeout=60_000)
        page.locator("#runs-table a").first.click()
        page.wait_for_selector("#run-output", timeout=60_000)
        mark = log.mark()
        page.goto(url + "/agents")
        page.wait_for_function(USABLE_JS, arg="#agents-table", timeout=60_000)
        first = log.first_update_since(mark)
        figures["first_frame_after_visits_bytes"] = first.size if first else 0
        if os.environ.get("UI_BENCH_DEBUG") and first:
            (ROOT / "test-artifacts" / "ui-bench-first-frame.txt").write_text(first.text)
        page.close()
    figures["playground"], figures["builder_test_panel"] = playground, builder
    return figures


def page_timings(browser, url: str, ids: dict[str, str], results: dict[str, float]) -> list[float]:
    """Seconds-to-usable per page (median of three) into `results`; the login baseline."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    baseline = []
    for _ in range(3):
        t0 = time.perf_counter()
        page.goto(url + "/login")
        page.wait_for_selector("#login-submit")
        baseline.append(time.perf_counter() - t0)
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_selector("#current-user-name", timeout=60_000)
    pages = {
        "/": "",
        "/agents": "#agents-table",
        f"/agent?id={ids['agent_id']}": "#agent-name",
        f"/builder?id={ids['agent_id']}": '.react-flow__node[data-id="model"]',
        f"/playground?agent={ids['agent_id']}": "#chat-input",
        "/runs": "#runs-table",
        f"/run?id={ids['run_id']}": ".trace-step, #run-output",
        "/integrations": "",
        "/knowledge": "",
        "/settings": "",
    }
    for path, selector in pages.items():
        results[path.split("?")[0]] = measure(page, url + path, selector)
        print(f"{path.split('?')[0]:<14} {results[path.split('?')[0]]:.3f} s")
    page.close()
    return baseline


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=3917)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument(
        "--chars", default="360,3600", help="lengths of the streamed answers, comma-separated"
    )
    parser.add_argument("--wire-only", action="store_true", help="only the websocket figures")
    args = parser.parse_args()

    pg_name, redis_proc = configure_environment(args.redis_db)
    ids: dict[str, str] = {}
    if not args.wire_only:
        began = time.perf_counter()
        ids = seed(args.agents, args.runs)
        print(
            f"seeded {args.agents} agents and {args.runs} runs "
            f"in {time.perf_counter() - began:.1f} s"
        )
    env = {**os.environ, "PORT": str(args.port)}
    url = f"http://localhost:{args.port}"
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    up_log = open(ROOT / "test-artifacts" / "ui-bench-up.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_platform", "up", "--port", str(args.port)],
        cwd=ROOT,
        env=env,
        stdout=up_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    results: dict[str, float] = {}
    baseline: list[float] = []
    try:
        wait_ready(url, proc)
        from playwright.sync_api import sync_playwright

        from tests.e2e.conftest import CHROMIUM_ARGS

        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
            )
            if not args.wire_only:
                baseline = page_timings(browser, url, ids, results)
            try:
                wire = wire_figures(url, browser, [int(n) for n in args.chars.split(",")])
            except Exception:
                pages = browser.contexts[0].pages if browser.contexts else []
                for i, open_page in enumerate(pages):
                    open_page.screenshot(path=str(ROOT / "test-artifacts" / f"ui-bench-{i}.png"))
                raise
            browser.close()
        if baseline:
            print(f"{'baseline /login':<14} {statistics.median(baseline):.3f} s")
        for where in ("playground", "builder_test_panel"):
            for n, got in wire[where].items():
                print(
                    f"{where:<19} {got['received_bytes']:>7} B received in "
                    f"{got['received_frames']} frames for a {n} B answer ({got['ratio']}x)"
                )
        print(
            f"first frame of a page load: {wire['first_frame_fresh_tab_bytes']} B in a fresh tab, "
            f"{wire['first_frame_after_visits_bytes']} B after visiting other pages"
        )
        print(
            json.dumps(
                {
                    "seconds_to_usable": results,
                    "baseline_login_s": round(statistics.median(baseline), 3) if baseline else None,
                    "seeded": {"agents": args.agents, "runs": args.runs}
                    if not args.wire_only
                    else None,
                    "database": "postgresql" if pg_name else "sqlite",
                    "wire": wire,
                }
            )
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        if redis_proc is not None:
            redis_proc.terminate()
        if pg_name:
            import psycopg

            from agent_platform.db import reset_engine

            reset_engine()
            with psycopg.connect(
                "postgresql://postgres@127.0.0.1:5432/test", autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
