"""Every provider the platform can connect to, by key."""

from __future__ import annotations

from services.errors import NotFound
from services.integrations.catalog import Action, Provider
from services.integrations.providers import github, google, http_api, linkedin, slack

PROVIDERS: dict[str, Provider] = {
    p.key: p
    for p in (
        slack.PROVIDER,
        google.PROVIDER,
        github.PROVIDER,
        linkedin.PROVIDER,
        http_api.HTTP,
        http_api.OAUTH2,
    )
}


def get_provider(key: str) -> Provider:
    provider = PROVIDERS.get(key)
    if provider is None:
        raise NotFound(f"Unknown integration provider {key!r}.")
    return provider


def find_action(provider_key: str, action_name: str) -> Action | None:
    provider = PROVIDERS.get(provider_key)
    return provider.action(action_name) if provider else None
