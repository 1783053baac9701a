"""How many REST API requests an organization and each of its keys may make a minute.

Two windows per request, counted in one atomic step (`ratelimit.take_in_windows`): one per key,
so one runaway script cannot use up its organization's allowance alone, and one per
organization, so many keys cannot add up to more than the organization may make.
"""

from __future__ import annotations

from redis import Redis

from agent_platform.settings import get_settings
from services.api_keys import KeyPrincipal
from services.ratelimit import WindowUse, take_in_windows

WINDOW_SECONDS = 60


def take_request(redis: Redis, principal: KeyPrincipal) -> list[WindowUse]:
    """Count one request of `principal`'s key and organization, or raise `WindowFull`."""
    settings = get_settings()
    return take_in_windows(
        redis,
        [
            (
                f"ratelimit:api:org:{principal.actor.org_id}",
                settings.api_requests_per_minute_per_org,
            ),
            (f"ratelimit:api:key:{principal.key_id}", settings.api_requests_per_minute_per_key),
        ],
        window_seconds=WINDOW_SECONDS,
        what="API requests",
    )
