"""Prometheus metrics: defined once here, recorded where things happen, served by `/metrics`.

Why prometheus-client's multiprocess mode rather than recording in one parent: the platform is
several processes (web workers serve HTTP, agent workers run agents, RQ workers fork a child
per job, and grading jobs call judge models), and the process that serves `/metrics` runs
none of the runs. Recording "where the run ends" instead (counting executions in the database
at scrape time) would make every scrape a table scan and could not give histograms. So each
process writes its samples to mmap files in PROMETHEUS_MULTIPROC_DIR (the supervisor sets
DATA_DIR/metrics for every child and empties it at each `up`, before any child starts) and
`/metrics` sums the files. prometheus-client picks the mode from that variable when it is
imported, which is why the supervisor, not the child, sets it.

Forked RQ jobs: each fork is a new pid, so it writes new files; thousands of jobs would leave
thousands of files for every scrape to read. The worker parent folds a finished horse's
counter and histogram files into one file of its own (`fold_dead_process`, one writer: the
parent, between jobs), deletes them, and drops the horse's live gauges (`mark_process_dead`),
so a forked job leaves nothing behind but its counts. The supervisor does the same for a
child that died. A crash between the fold and the delete would count that job twice: rare,
and a counter that is slightly high beats a directory that grows without bound.

Without PROMETHEUS_MULTIPROC_DIR (tests, `reflex run`), samples stay in the process and
`/metrics` shows that process's own.

Labels never carry an organization, a user, a run or a secret: `/metrics` is an aggregate of
the whole instance. Models are labelled by their LiteLLM name (`openai/gpt-4o`), tools by
their built-in name or their kind (integration tools are named after an org's connections).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    mmap_dict,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# prometheus-client's multiprocess helpers carry no type hints.
MmapedDict: Any = mmap_dict.MmapedDict
MultiProcessCollector: Any = multiprocess.MultiProcessCollector
mark_process_dead: Any = multiprocess.mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
REGISTRY = CollectorRegistry()  # ours alone: the default one also holds whatever libraries add

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests served, by method, route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to the end of the response (a stream counts until it ends).",
    ["method", "route", "status"],
    registry=REGISTRY,
)
AGENT_EXECUTIONS = Counter(
    "agent_executions_total",
    "Agent runs that ended, by final status.",
    ["status"],
    registry=REGISTRY,
)
AGENT_DURATION = Histogram(
    "agent_execution_duration_seconds",
    "Wall time of a run in the worker, from claim to final status.",
    ["status"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=REGISTRY,
)
AGENT_RUNS_IN_PROGRESS = Gauge(
    "agent_runs_in_progress",
    "Runs being executed right now, across worker processes.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
LLM_TOKENS = Counter(
    "llm_tokens_total",
    "Tokens of successful model calls, by model and kind (prompt, completion).",
    ["model", "kind"],
    registry=REGISTRY,
)
LLM_COST = Counter(
    "llm_cost_usd_total",
    "US dollars of priced model calls (an unpriced model adds nothing).",
    ["model"],
    registry=REGISTRY,
)
LLM_REQUESTS = Counter(
    "llm_requests_total",
    "Model calls (each try of each model of a chain), by outcome (ok, error).",
    ["model", "outcome"],
    registry=REGISTRY,
)
LLM_DURATION = Histogram(
    "llm_request_duration_seconds",
    "Time of one model call, stream included.",
    ["model"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
TOOL_CALLS = Counter(
    "agent_tool_calls_total",
    "Tool calls made by agents, by tool and outcome (ok, error).",
    ["tool", "outcome"],
    registry=REGISTRY,
)
TOOL_DURATION = Histogram(
    "agent_tool_duration_seconds",
    "Time of one tool call.",
    ["tool"],
    registry=REGISTRY,
)


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    labels = (method, route, str(status))
    HTTP_REQUESTS.labels(*labels).inc()
    HTTP_DURATION.labels(*labels).observe(seconds)


def run_in_progress() -> AbstractContextManager[object]:
    return AGENT_RUNS_IN_PROGRESS.track_inprogress()


def run_finished(status: str, seconds: float) -> None:
    AGENT_EXECUTIONS.labels(status).inc()
    AGENT_DURATION.labels(status).observe(seconds)


def record_model_call(
    model: str,
    *,
    ok: bool,
    seconds: float,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost: float | None = None,
) -> None:
    LLM_REQUESTS.labels(model, "ok" if ok else "error").inc()
    LLM_DURATION.labels(model).observe(seconds)
    if prompt_tokens:
        LLM_TOKENS.labels(model, "prompt").inc(prompt_tokens)
    if completion_tokens:
        LLM_TOKENS.labels(model, "completion").inc(completion_tokens)
    if cost:
        LLM_COST.labels(model).inc(cost)


def record_tool_call(tool: str, *, ok: bool, seconds: float) -> None:
    TOOL_CALLS.labels(tool, "ok" if ok else "error").inc()
    TOOL_DURATION.labels(tool).observe(seconds)


def multiprocess_dir() -> str | None:
    """The directory prometheus-client writes to, exactly as it decides (from the environment
    at its import), so exposition and folding never disagree with the writers."""
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir(path: Path) -> None:
    """Create the directory and drop a previous life's files: a counter file of a process that
    no longer exists would otherwise be summed into the new life's counts for ever (Prometheus
    handles the reset to zero of a restart; it cannot handle a stale file)."""
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.db"):
        old.unlink(missing_ok=True)


FOLDED_TYPES = ("counter", "histogram", "summary")


def fold_dead_process(pid: int, *, into: str | None = None, directory: str | None = None) -> None:
    """Add a dead process's counters and histograms to `into`'s file (default: this process's
    fold file), delete its files, and drop its live gauges. A no-op outside multiprocess mode."""
    directory = directory or multiprocess_dir()
    if directory is None:
        return
    mark_process_dead(pid, directory)
    owner = into or f"folded-{os.getpid()}"
    for typ in FOLDED_TYPES:
        source = os.path.join(directory, f"{typ}_{pid}.db")
        if not os.path.exists(source):
            continue
        target = MmapedDict(os.path.join(directory, f"{typ}_{owner}.db"))
        try:
            for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(source):
                current, _ = target.read_value(key)
                target.write_value(key, current + value, 0.0)
        finally:
            target.close()
        os.remove(source)


class _Chain(Collector):
    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def exposition(*extra: Collector) -> bytes:
    """The Prometheus text of every process (multiprocess mode) or this one, plus `extra`
    collectors computed at scrape time (queue depth, workers)."""
    directory = multiprocess_dir()
    base: Collector = REGISTRY
    if directory is not None:
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=directory)
        base = merged
    return generate_latest(_Chain([base, *extra]))
