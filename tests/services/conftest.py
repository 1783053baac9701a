"""Fixtures shared by the service tests: Stripe (localstripe and its fake) for billing."""

from tests.services.billing_helpers import localstripe, stripe, stripe_server  # noqa: F401
