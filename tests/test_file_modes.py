"""DATA_DIR is 0700 and the SQLite file (with its -wal and -shm) 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from agent_platform.db import make_engine, private_dir, private_sqlite_file


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The common default: files 0644 and directories 0755 unless we say otherwise."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_dir_is_private(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "data"
    private_dir(data_dir)
    assert mode(data_dir) == 0o700


def test_an_existing_data_dir_is_tightened(tmp_path: Path, open_umask: None) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    private_dir(data_dir)
    assert mode(data_dir) == 0o700


def test_the_sqlite_file_and_its_wal_are_private(tmp_path: Path, open_umask: None) -> None:
    database = tmp_path / "platform.db"
    url = f"sqlite:///{database}"
    private_sqlite_file(url)
    engine = make_engine(url)  # WAL mode: -wal and -shm appear on the first write
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 1
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            assert path.exists() and mode(path) == 0o600, path
    engine.dispose()


def test_an_existing_readable_sqlite_file_is_tightened(tmp_path: Path, open_umask: None) -> None:
    database = tmp_path / "platform.db"
    database.touch(mode=0o644)
    private_sqlite_file(f"sqlite:///{database}")
    assert mode(database) == 0o600


def test_the_engine_of_the_embedded_default_prepares_both(tmp_path: Path, monkeypatch) -> None:
    from agent_platform import db
    from agent_platform.settings import get_settings

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        engine = db.get_engine()
        assert mode(tmp_path / "fresh") == 0o700
        assert mode(tmp_path / "fresh" / "platform.db") == 0o600
        engine.dispose()
    finally:
        db.get_engine.cache_clear()
        monkeypatch.undo()
        get_settings.cache_clear()
