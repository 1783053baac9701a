"""Marketplace benchmark: search and browse over 10,000 listings with reviews, and the page.

Seeds `--listings` live free template listings (default 10,000; without Stripe, the default
here, paid ones would be hidden) from 300 publishing organizations, each with
one or two versions and 0-40 reviews from 600 reviewing organizations (about 110,000 reviews;
ratings, Bayesian averages and downloads consistent with them), written with bulk inserts.
Titles, summaries and descriptions are drawn from per-category word lists, so the measured
words match from one listing in ten to nearly all of them (and one matches none). On SQLite
the FTS5 table is filled the way `listings.sync_search_index` does.

Then, in the same run, each figure beside its baseline (p50/p95 over `--samples` calls, one
transaction each, as the page's state handler opens one):
- search: `services.marketplace.search.browse` with words typed (alone, with a category, with
  another sort); baseline: the bare full-text match count over the same words (PostgreSQL:
  the GIN-indexed `to_tsvector @@ plainto_tsquery`; SQLite: FTS5 `MATCH`).
- browse: `browse` without words, over sorts, filters and later pages (the popular first pages
  from the hot list in Redis, as a visitor gets them); baseline: one page of live listings by
  `created_at` straight off its index. The popular page with the hot list just dropped from
  Redis is printed on its own line.
- page: `python -m agent_platform up` and Chromium: seconds until the Marketplace page shows
  its cards, signed out (a visitor), signed out with words in the address (`?q=`), and
  signed in; median of `--repeat` loads; baseline: the sign-in page.

PostgreSQL at 127.0.0.1:5432 by default (a throwaway database, dropped at the end); `--sqlite`
uses the embedded default (a SQLite file) instead. Redis at 127.0.0.1:6379 (`--redis-db`),
the bundled Redis when none answers. The last line is one JSON object: `search_p50_ms`,
`search_p95_ms` (goal ≤ 100), `browse_p95_ms`, `page_usable_s` (goal ≤ 1) and the baselines.

    python benchmarks/marketplace.py [--listings 10000] [--samples 300] [--sqlite]
        [--no-browser] [--port 3918] [--redis-db 13] [--repeat 5]
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
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from benchmarks.dashboard import drop_database  # noqa: E402
from benchmarks.runtime import configure_environment, port_open  # noqa: E402
from benchmarks.ui import wait_ready  # noqa: E402

EMAIL, PASSWORD = "market-bench@example.com", "benchmark password 1"
PUBLISHERS, REVIEWERS = 300, 600
COMMON = (
    "agent assistant helps your team with daily work and answers questions quickly using the "
    "tools you connect it summarises reports drafts replies and keeps notes"
).split()
TOPICS: dict[str, list[str]] = {
    "customer-support": "ticket refund complaint zendesk helpdesk escalation chat faq".split(),
    "sales": "lead prospect crm hubspot pipeline outreach quote deal".split(),
    "marketing": "campaign newsletter seo social audience brand copy launch".split(),
    "engineering": "github issues pull request kubernetes deploy incident sql".split(),
    "data": "spreadsheet dashboard etl warehouse csv forecast anomaly metrics".split(),
    "research": "papers citations literature survey patent competitor market interview".split(),
    "writing": "blog essay proofread translate tone outline headline story".split(),
    "productivity": "calendar meeting email inbox todo schedule minutes reminder".split(),
    "other": "recipe travel fitness garden music trivia language study".split(),
}
# What visitors type: common, category-wide, narrow, two words, a phrase, and no hit at all.
SEARCHES = [
    "assistant",
    "dashboard",
    "github",
    "kubernetes deploy",
    "refund",
    "csv forecast",
    "translate blog",
    "meeting minutes",
    "citations",
    "zendesk escalation",
    "recipe",
    "quantum blockchain",
]
BROWSES: list[dict[str, Any]] = [
    {},
    {"page": 2},
    {"sort": "newest"},
    {"sort": "rating"},
    {"category": "engineering"},
    {"category": "data", "sort": "rating"},
    {"category": "writing", "page": 3},
    {"verified": True},
    {"min_rating": 4},
    {"sort": "newest", "page": 40},
    {"page": 100},
]


def text_for(rng: random.Random, category: str, i: int) -> dict[str, Any]:
    words = TOPICS[category]

    def sentence(n: int) -> str:
        picked = [
            rng.choice(words) if rng.random() < 0.35 else rng.choice(COMMON) for _ in range(n)
        ]
        return " ".join(picked).capitalize() + "."

    title = f"{rng.choice(words).capitalize()} {rng.choice(words)} {rng.choice(COMMON)} {i}"
    description = "\n\n".join(
        ["# " + title, *(sentence(rng.randrange(12, 30)) for _ in range(rng.randrange(3, 8)))]
    )
    return {
        "title": title[:120],
        "summary": sentence(rng.randrange(10, 22))[:300],
        "description": description,
        "description_html": "",
        "tags": rng.sample(words, 2),
    }


def seed(n_listings: int) -> dict[str, Any]:
    """Bulk-insert the marketplace; returns counts and the seconds it took."""
    from sqlalchemy import insert, text

    from agent_platform import migrations
    from agent_platform.db import get_engine, session_scope
    from agent_platform.models import (
        ListingStatus,
        ListingVersion,
        MarketplaceListing,
        MarketplaceReview,
        Organization,
    )
    from agent_platform.models.base import utcnow
    from services import accounts
    from services.marketplace.reviews import bayesian

    began = time.perf_counter()
    migrations.upgrade()
    with session_scope() as session:
        accounts.register(session, email=EMAIL, name="Market bench", password=PASSWORD)
    rng = random.Random(15)
    now = utcnow()
    tag = uuid.uuid4().hex[:6]
    orgs = [
        {"id": uuid.uuid4(), "name": f"Org {i}", "slug": f"bench-{tag}-{i}"}
        for i in range(PUBLISHERS + REVIEWERS)
    ]
    publishers, reviewers = orgs[:PUBLISHERS], orgs[PUBLISHERS:]
    categories = list(TOPICS)
    listings, versions, reviews, fts = [], [], [], []
    for i in range(n_listings):
        category = categories[int(len(categories) * rng.random() ** 1.3)]
        listing_id = uuid.uuid4()
        created = now - timedelta(minutes=rng.randrange(60 * 24 * 365))
        n_reviews = min(int(rng.expovariate(1 / 12)), 40)
        stars = [min(5, max(1, round(rng.gauss(3.9, 1.0)))) for _ in range(n_reviews)]
        latest = rng.choice([1, 1, 2])
        verified = rng.random() < 0.15
        words = text_for(rng, category, i)
        listings.append(
            {
                "id": listing_id,
                "publisher_org_id": rng.choice(publishers)["id"],
                **words,
                "category": category,
                "price_cents": 0,  # free templates: without Stripe paid ones are hidden
                "status": ListingStatus.LIVE,
                "latest_version": latest,
                "verified": verified,
                "downloads": n_reviews * rng.randrange(2, 30) + rng.randrange(5),
                "rating_sum": sum(stars),
                "rating_count": n_reviews,
                "rating": round(bayesian(sum(stars), n_reviews), 4),
                "created_at": created,
                "updated_at": created,
                "approved_at": created,
            }
        )
        for number in range(1, latest + 1):
            versions.append(
                {
                    "id": uuid.uuid4(),
                    "listing_id": listing_id,
                    "version": number,
                    "config": {"model": "openai/gpt-4o-mini", "instructions": "You help."},
                    "changelog": "" if number == 1 else "Better answers.",
                    "required_models": ["openai/gpt-4o-mini"],
                    "verified": verified and number == latest,
                    "created_at": created + timedelta(days=number - 1),
                }
            )
        for org, rating in zip(rng.sample(reviewers, n_reviews), stars, strict=True):
            reviews.append(
                {
                    "id": uuid.uuid4(),
                    "listing_id": listing_id,
                    "org_id": org["id"],
                    "rating": rating,
                    "body": " ".join(rng.choices(COMMON, k=rng.randrange(5, 40))),
                    "created_at": created + timedelta(days=1),
                    "updated_at": created + timedelta(days=1),
                }
            )
        fts.append(
            {
                "id": listing_id.hex,
                "title": words["title"],
                "summary": words["summary"],
                "description": words["description"],
                "tags": " ".join(words["tags"]),
            }
        )
    engine = get_engine()
    with engine.begin() as conn:
        conn.execute(insert(Organization), orgs)
        for table, rows in ((MarketplaceListing, listings), (ListingVersion, versions)):
            for start in range(0, len(rows), 5000):
                conn.execute(insert(table), rows[start : start + 5000])
        for start in range(0, len(reviews), 10_000):
            conn.execute(insert(MarketplaceReview), reviews[start : start + 10_000])
        if engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "INSERT INTO marketplace_search (listing_id, title, summary, description, "
                    "tags) VALUES (:id, :title, :summary, :description, :tags)"
                ),
                fts,
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))
    return {
        "listings": n_listings,
        "versions": len(versions),
        "reviews": len(reviews),
        "seed_s": round(time.perf_counter() - began, 1),
    }


def timed(calls: dict[str, Callable[[], object]], samples: int) -> dict[str, Any]:
    """p50/p95 in ms over `samples` calls, going round the calls (after one warm-up each),
    and the call whose own median is the highest."""
    names = list(calls)
    for call in calls.values():
        call()
    times: list[float] = []
    per_call: dict[str, list[float]] = {name: [] for name in names}
    for i in range(samples):
        name = names[i % len(names)]
        began = time.perf_counter()
        calls[name]()
        times.append((time.perf_counter() - began) * 1000)
        per_call[name].append(times[-1])
    times.sort()
    slowest = max(names, key=lambda n: statistics.median(per_call[n] or [0]))
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        "slowest": f"{slowest} ({statistics.median(per_call[slowest] or [0]):.1f} ms)",
    }


def query_figures(samples: int) -> dict[str, Any]:
    from sqlalchemy import text

    from agent_platform.db import get_engine, session_scope
    from agent_platform.redis_client import get_redis
    from services.marketplace import search

    def browse(params: dict[str, Any]) -> Callable[[], object]:
        def call() -> object:
            with session_scope() as session:
                return search.browse(session, {"per_page": 24, **params})

        return call

    postgres = get_engine().dialect.name == "postgresql"

    def match_count(words: str) -> Callable[[], object]:
        if postgres:
            sql = (
                "SELECT count(*) FROM marketplace_listings WHERE status = 'live' AND "
                f"to_tsvector('english', {search.SEARCH_TEXT}) @@ plainto_tsquery('english', :q)"
            )
            params = {"q": words}
        else:
            sql = "SELECT count(*) FROM marketplace_search WHERE marketplace_search MATCH :q"
            params = {"q": search.fts_query(words)}

        def call() -> object:
            with session_scope() as session:
                return session.execute(text(sql), params).scalar_one()

        return call

    def plain_page() -> object:
        with session_scope() as session:
            return session.execute(
                text(
                    "SELECT id FROM marketplace_listings WHERE status = 'live' "
                    "ORDER BY created_at DESC LIMIT 24"
                )
            ).all()

    with session_scope() as session:
        hits = {w: search.browse(session, {"search": w}).total for w in SEARCHES}
    print("matches per search: " + ", ".join(f"{w!r} {n}" for w, n in hits.items()))
    searches = [
        *({"search": w} for w in SEARCHES),
        {"search": "github", "category": "engineering"},
        {"search": "assistant", "sort": "rating"},
        {"search": "dashboard", "sort": "newest", "page": 3},
    ]
    figures = {
        "search": timed({json.dumps(p): browse(p) for p in searches}, samples),
        "search_baseline": timed({w: match_count(w) for w in SEARCHES}, samples),
        "browse": timed({json.dumps(p): browse(p) for p in BROWSES}, samples),
        "browse_baseline": timed({"newest live": plain_page}, samples),
    }

    def popular_cold() -> object:
        get_redis().delete(search.HOT_KEY)
        return browse({})()

    figures["browse_popular_cold"] = timed({"{}": popular_cold}, max(samples // 10, 10))
    return figures


USABLE_JS = """(selector) => {
  const spinning = [...document.querySelectorAll('.rt-Spinner')].some(e => e.offsetParent);
  return !spinning && !!document.querySelector(selector);
}"""


def seconds_to(page: Any, url: str, selector: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        page.goto(url)
        page.wait_for_function(USABLE_JS, arg=selector, timeout=60_000, polling=20)
        times.append(time.perf_counter() - began)
    return round(statistics.median(times), 3)


def page_figures(port: int, repeat: int) -> dict[str, float]:
    """Start the platform as a user does and time the Marketplace page in Chromium."""
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM_ARGS

    url = f"http://localhost:{port}"
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    log = open(ROOT / "test-artifacts" / "marketplace-bench-up.log", "wb")  # noqa: SIM115
    env = {**os.environ, "PORT": str(port), "WORKER_PROCESSES": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_platform", "up", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cards = "#market-cards .market-card"
    figures: dict[str, float] = {}
    try:
        wait_ready(url, proc)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
            )
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            figures["baseline_login_s"] = seconds_to(page, url + "/login", "#login-submit", repeat)
            figures["page_usable_s"] = seconds_to(page, url + "/marketplace", cards, repeat)
            figures["page_usable_search_s"] = seconds_to(
                page, url + "/marketplace?q=kubernetes+deploy", cards, repeat
            )
            page.goto(url + "/login")
            page.fill("#email", EMAIL)
            page.fill("#password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector("#current-user-name", timeout=60_000)
            figures["page_usable_signed_in_s"] = seconds_to(
                page, url + "/marketplace", cards, repeat
            )
            page.screenshot(path=str(ROOT / "test-artifacts" / "marketplace-bench.png"))
            browser.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return figures


def environment(sqlite: bool, redis_db: int) -> tuple[str | None, subprocess.Popen[bytes] | None]:
    """PostgreSQL when it answers (unless --sqlite), else the embedded SQLite file."""
    if not sqlite:
        return configure_environment(redis_db)
    data_dir = Path(tempfile.mkdtemp(prefix="ap-bench-"))
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ["DATABASE_URL"] = f"sqlite:///{data_dir / 'bench.db'}"
    if port_open(6379):
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:6379/{redis_db}"
        return None, None
    from agent_platform import embedded_redis

    sock = data_dir / "redis.sock"
    os.environ["REDIS_URL"] = f"unix://{sock}"
    return None, embedded_redis.start(data_dir / "redis", sock)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5, help="page loads per figure")
    parser.add_argument("--sqlite", action="store_true", help="the embedded SQLite default")
    parser.add_argument("--no-browser", action="store_true", help="skip the page figures")
    parser.add_argument("--port", type=int, default=3918)
    parser.add_argument("--redis-db", type=int, default=13)
    args = parser.parse_args()

    pg_name, redis_proc = environment(args.sqlite, args.redis_db)
    try:
        from agent_platform.redis_client import get_redis

        get_redis().delete("marketplace:hot")
        seeded = seed(args.listings)
        database = "postgresql" if pg_name else "sqlite"
        print(
            f"seeded {seeded['listings']:,} listings, {seeded['versions']:,} versions, "
            f"{seeded['reviews']:,} reviews in {seeded['seed_s']} s ({database})"
        )
        queries = query_figures(args.samples)
        for name, got in queries.items():
            print(
                f"{name:<20} p50 {got['p50_ms']:>7.2f} ms  p95 {got['p95_ms']:>7.2f} ms"
                f"  slowest {got['slowest']}"
            )
        pages = {} if args.no_browser else page_figures(args.port, args.repeat)
        for name, seconds in pages.items():
            print(f"{name:<24} {seconds:.3f} s")
        print(
            json.dumps(
                {
                    "search_p50_ms": queries["search"]["p50_ms"],
                    "search_p95_ms": queries["search"]["p95_ms"],
                    "browse_p50_ms": queries["browse"]["p50_ms"],
                    "browse_p95_ms": queries["browse"]["p95_ms"],
                    **pages,
                    "baseline_match_count_p50_ms": queries["search_baseline"]["p50_ms"],
                    "baseline_match_count_p95_ms": queries["search_baseline"]["p95_ms"],
                    "baseline_plain_page_p95_ms": queries["browse_baseline"]["p95_ms"],
                    "browse_popular_cold_p50_ms": queries["browse_popular_cold"]["p50_ms"],
                    "seeded": seeded,
                    "database": database,
                    "samples": args.samples,
                }
            )
        )
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
        if pg_name:
            drop_database(pg_name)


if __name__ == "__main__":
    main()
