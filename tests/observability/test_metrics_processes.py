"""Metrics across processes (prometheus-client multiprocess mode): what worker processes count
is what `/metrics` shows, and forked RQ jobs and dead processes leave no files behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_platform.observability import metrics
from agent_platform.settings import Settings
from agent_platform.supervisor import child_env
from agent_platform.worker import queue
from tests.observability.scrape import value

ROOT = Path(__file__).resolve().parents[2]
RECORD = """
import sys
from agent_platform.observability import metrics
with metrics.run_in_progress():
    metrics.run_finished("succeeded", 1.5)
metrics.record_model_call("openai/gpt-x", ok=True, seconds=0.3, prompt_tokens=7,
                          completion_tokens=5, cost=0.002)
if sys.argv[1] == "stay":
    metrics.AGENT_RUNS_IN_PROGRESS.inc()  # a run in flight when the process dies
"""


def run_python(code: str, directory: Path, *args: str) -> int:
    env = {**os.environ, metrics.MULTIPROC_ENV: str(directory)}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return proc.pid


@pytest.fixture
def directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Multiprocess mode for this process's exposition (writers are the subprocesses)."""
    path = tmp_path / "metrics"
    metrics.prepare_multiprocess_dir(path)
    monkeypatch.setenv(metrics.MULTIPROC_ENV, str(path))
    return path


def test_counts_of_worker_processes_are_summed(directory: Path) -> None:
    run_python(RECORD, directory, "done")
    run_python(RECORD, directory, "done")
    text = metrics.exposition().decode()
    assert value(text, "agent_executions_total", status="succeeded") == 2
    assert value(text, "agent_execution_duration_seconds_count", status="succeeded") == 2
    assert value(text, "llm_tokens_total", model="openai/gpt-x", kind="prompt") == 14
    assert value(text, "llm_cost_usd_total", model="openai/gpt-x") == pytest.approx(0.004)


def test_a_dead_process_is_folded_its_live_gauge_dropped(directory: Path) -> None:
    pid = run_python(RECORD, directory, "stay")
    text = metrics.exposition().decode()
    assert value(text, "agent_runs_in_progress") == 1  # the file says so until it is told
    metrics.fold_dead_process(pid, into="folded-test")
    assert sorted(p.name for p in directory.iterdir()) == [
        "counter_folded-test.db",
        "histogram_folded-test.db",
    ]
    again = metrics.exposition().decode()
    assert value(again, "agent_runs_in_progress") == 0
    assert value(again, "agent_executions_total", status="succeeded") == 1
    assert value(again, "llm_tokens_total", model="openai/gpt-x", kind="completion") == 5
    # Folding a second process adds to the same file instead of making another.
    second = run_python(RECORD, directory, "done")
    metrics.fold_dead_process(second, into="folded-test")
    assert len(list(directory.iterdir())) == 2
    assert value(metrics.exposition().decode(), "agent_executions_total", status="succeeded") == 2


def test_forked_jobs_leave_their_counts_and_no_files(directory: Path) -> None:
    """A real forking RQ worker (PlatformWorker) runs three jobs, each in its own horse."""
    jobs = [
        queue("obs-test").enqueue("tests.observability.jobs.record_model_call", "openai/j", 10)
        for _ in range(3)
    ]
    code = (
        "from agent_platform.worker import PlatformWorker, queue\n"
        "from agent_platform.redis_client import get_redis\n"
        "PlatformWorker([queue('obs-test')], connection=get_redis())"
        ".work(burst=True, logging_level='WARNING')\n"
    )
    worker_pid = run_python(code, directory)
    horses = set()
    for job in jobs:
        job.refresh()
        assert job.is_finished, job.get_status()
        horses.add(job.return_value())
    assert len(horses) == 3 and worker_pid not in horses  # each ran in its own fork
    names = sorted(p.name for p in directory.iterdir())
    assert not any(str(pid) in name for pid in horses for name in names), names
    text = metrics.exposition().decode()
    assert value(text, "llm_tokens_total", model="openai/j", kind="prompt") == 30
    assert value(text, "llm_requests_total", model="openai/j", outcome="ok") == 3


def test_up_gives_every_child_the_directory_under_data_dir(tmp_path: Path) -> None:
    env = child_env(Settings(data_dir=tmp_path))
    assert env[metrics.MULTIPROC_ENV] == str((tmp_path / "metrics").resolve())


def test_a_new_life_starts_from_an_empty_directory(tmp_path: Path) -> None:
    path = tmp_path / "m"
    path.mkdir()
    (path / "counter_123.db").write_bytes(b"old")
    metrics.prepare_multiprocess_dir(path)
    assert list(path.iterdir()) == []
