"""Waiting for an event instead of guessing how long it takes.

A test that sleeps a fixed time and then looks is wrong twice: too short on a loaded machine
(flaky), too long everywhere else (slow). These helpers poll the condition itself and give up
only at a generous deadline, so a pass is as fast as the event and a failure says what never
happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

POLL_SECONDS = 0.02


def wait_until(condition: Callable[[], object], timeout: float = 30, *, what: str = "") -> object:
    """Return the first truthy value of `condition()`; raise AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {what or condition}")
        time.sleep(POLL_SECONDS)  # sleep-ok: one poll step of a loop bounded by a deadline


async def async_wait_until(
    condition: Callable[[], Awaitable[object]], timeout: float = 30, *, what: str = ""
) -> object:
    """`wait_until` for a condition that must be awaited (inside a running event loop)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g} s: {what or condition}")
        await asyncio.sleep(POLL_SECONDS)  # sleep-ok: one poll step bounded by a deadline
