"""The one Stripe client: configured from settings, its HTTP through the outbound guard.

Why through the guard: every outbound request of the platform leaves by one door
(services/outbound.py), so the instance's allow-list and its refusal of internal addresses
hold for Stripe too (a STRIPE_API_BASE pointed at a metadata address is refused like any
other URL). The guard's transport is async; the Stripe SDK also calls synchronously, so
`GuardedStripeHTTP.request` runs the async request to completion (on a short-lived thread when
the caller is already inside an event loop).

Errors: a Stripe refusal or an unreachable Stripe becomes `Unavailable` with words a person
can act on; the secret key is never part of a message or a log line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

import stripe

from agent_platform.settings import get_settings
from services.errors import Unavailable
from services.outbound import OutboundError, default_guard

log = logging.getLogger(__name__)
T = TypeVar("T")


def stripe_configured() -> bool:
    """Money is on only with a secret key: without one everything is free and paid listings
    are hidden (the embedded default needs no Stripe account)."""
    return bool(get_settings().stripe_secret_key)


class GuardedStripeHTTP(stripe.HTTPClient):
    name = "agent-platform-guarded"

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any
    ) -> tuple[bytes, int, Mapping[str, str]]:
        guard = default_guard()
        try:
            async with guard.client(refuse_redirects=True) as client:
                response = await client.request(
                    method, url, headers=dict(headers), content=post_data or None
                )
                return response.content, response.status_code, response.headers
        except OutboundError as exc:
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]  # stripe's own class
                f"Could not reach Stripe: {exc.message}", should_retry=False
            ) from exc
        except Exception as exc:  # noqa: BLE001 - httpx errors: Stripe's retry logic decides
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]  # stripe's own class
                f"Could not reach Stripe ({type(exc).__name__}).", should_retry=True
            ) from exc

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        body, status, answer_headers = _run_blocking(
            functools.partial(self._send, method, url, headers or {}, post_data)
        )
        return body.decode("utf-8", errors="replace"), status, answer_headers

    async def request_async(
        self, method: str, url: str, headers: Mapping[str, str], post_data: Any = None
    ) -> tuple[bytes, int, Mapping[str, str]]:
        return await self._send(method, url, headers, post_data)

    def close(self) -> None:
        return None

    async def close_async(self) -> None:
        return None

    async def sleep_async(self, secs: float) -> None:
        await asyncio.sleep(secs)


def _run_blocking(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def client() -> stripe.StripeClient:
    settings = get_settings()
    if not settings.stripe_secret_key:
        raise Unavailable("Payments are off on this instance: Stripe is not configured.")
    base = settings.stripe_api_base.rstrip("/")
    return stripe.StripeClient(
        settings.stripe_secret_key,
        base_addresses={"api": base} if base else None,
        http_client=GuardedStripeHTTP(),
        max_network_retries=2,
    )


def call(what: str, fn: Callable[[stripe.StripeClient], T]) -> T:
    """Run one Stripe call; a failure becomes `Unavailable` saying what could not be done."""
    try:
        return fn(client())
    except stripe.StripeError as exc:
        detail = exc.user_message or type(exc).__name__
        log.warning("stripe call failed: %s (%s)", what, type(exc).__name__)
        raise Unavailable(f"Stripe could not {what}: {detail}") from exc


def options(idempotency_key: str, **extra: Any) -> Any:
    """Request options with our idempotency key (derived from our own ids, so a retry of the
    same action after a timeout or a rolled-back commit reaches the same Stripe object)."""
    return {"idempotency_key": idempotency_key, **extra}
