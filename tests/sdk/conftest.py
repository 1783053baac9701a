"""Shared by the SDK tests: the real API app over real HTTP, for clients that are not Python
test clients (the SDKs speak HTTP like any user's script would)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.live import serve

# The Python SDK is its own package (sdk/python), not installed into the app's environment:
# its tests import it from the source tree, as `pip install -e sdk/python` would.
SDK_PYTHON = Path(__file__).resolve().parents[2] / "sdk" / "python"
if str(SDK_PYTHON) not in sys.path:
    sys.path.insert(0, str(SDK_PYTHON))


@pytest.fixture(scope="module")
def live_api() -> Iterator[str]:
    """The base URL of `create_api()` served by uvicorn in a thread (per module: every test
    still gets an empty database and Redis from conftest's `clean_state`)."""
    yield from serve()
