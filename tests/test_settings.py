"""A wrong setting stops start-up with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_platform.settings import Settings, SettingsError, get_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "abc"),
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://x"),
        ("SECRET_STORE", "s3"),
    ],
)
def test_bad_value_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match=f"Setting {name} is invalid"):
            get_settings()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_cli_prints_one_line_not_a_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, PORT="70000", DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "agent_platform", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: Setting PORT is invalid: Input should be less than or equal to 65535"
    ]


def test_defaults_work_offline_with_sqlite_and_bundled_redis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("data/platform.db")
    assert settings.resolved_redis_url.startswith(
        "unix://"
    ) and settings.resolved_redis_url.endswith("redis.sock")
    assert settings.resolved_base_url == "http://localhost:3000"
    assert (
        Settings(_env_file=None, database_url="postgresql://u@h/d").database_url
        == "postgresql+psycopg://u@h/d"
    )


def test_page_state_stays_in_memory_for_one_web_process_and_moves_to_redis_for_more(
    tmp_path: Path,
) -> None:
    """Several web processes behind one URL must share each tab's state, so they keep it in
    Redis: REDIS_URL by default (the bundled one under `up`), REFLEX_REDIS_URL when set (also
    for one process per machine behind a load balancer)."""
    one = Settings(data_dir=tmp_path, redis_url="redis://r:6379/0", reflex_redis_url="")
    assert one.page_state_redis_url == ""
    four = Settings(data_dir=tmp_path, redis_url="redis://r:6379/0", web_processes=4)
    assert four.page_state_redis_url == "redis://r:6379/0"
    bundled = Settings(data_dir=tmp_path, redis_url="", web_processes=2)
    assert bundled.page_state_redis_url == f"unix://{(tmp_path / 'redis.sock').resolve()}"
    shared = Settings(data_dir=tmp_path, reflex_redis_url="redis://state:6379/3")
    assert shared.page_state_redis_url == "redis://state:6379/3"
    with pytest.raises(ValueError, match="redis://"):
        Settings(reflex_redis_url="http://state")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "None"),
        ({"WEB_PROCESSES": "2"}, "redis://state.example:6379/4"),
        ({"REFLEX_REDIS_URL": "redis://other.example:6379/1"}, "redis://other.example:6379/1"),
    ],
)
def test_reflex_reads_where_page_state_lives_from_our_settings(
    tmp_path: Path, extra: dict[str, str], expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("REFLEX_REDIS_URL", "WEB_PROCESSES")}
    env.update(DATA_DIR=str(tmp_path), REDIS_URL="redis://state.example:6379/4", **extra)
    done = subprocess.run(
        [sys.executable, "-c", "import rxconfig; print(rxconfig.config.redis_url)"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == expected
