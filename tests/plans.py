"""Turning plans (tier limits) on for a test: BILLING_ENABLED needs a Stripe key to be set.

Plans are off by default (a self-hosted install is unlimited); tests of the tier limits use
the `billing_on` fixture (import it into the test module).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent_platform.settings import get_settings


@pytest.fixture
def billing_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_plans")
    monkeypatch.setenv("BILLING_ENABLED", "true")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("BILLING_ENABLED")
    get_settings.cache_clear()
