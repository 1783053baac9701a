"""Knowledge tests run on a real embedded Chroma in a DATA_DIR of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_platform.settings import get_settings
from services.memory import store


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test gets its own DATA_DIR, so its own embedded Chroma (import it to use it)."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CHROMA_URL", raising=False)
    monkeypatch.delenv("EMBEDDER", raising=False)
    get_settings.cache_clear()
    store.reset_client()
    yield tmp_path
    store.reset_client()
    get_settings.cache_clear()
