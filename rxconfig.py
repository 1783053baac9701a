"""Reflex configuration, derived from our settings (one source of truth for ports and URLs)."""

import reflex as rx
from reflex.plugins.sitemap import SitemapPlugin

from agent_platform.settings import get_settings

_settings = get_settings()

config = rx.Config(
    app_name="agent_platform",
    db_url=_settings.resolved_database_url,
    backend_port=_settings.port,
    api_url=_settings.resolved_base_url,
    deploy_url=_settings.resolved_base_url,
    # Page state in Redis when several web processes serve one URL (WEB_PROCESSES > 1 or
    # REFLEX_REDIS_URL): a tab's next event or reconnect may reach another process.
    redis_url=_settings.page_state_redis_url or None,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[rx.plugins.RadixThemesPlugin(theme=rx.theme(accent_color="indigo", radius="medium"))],
    disable_plugins=[SitemapPlugin],
    # Only the app's own pages may call the API or open the websocket with the user's cookies
    # (Reflex's default is "*", with credentials allowed).
    cors_allowed_origins=_settings.app_origins,
    # The security-headers middleware reads gzip to hash a page's inline scripts for its CSP.
    frontend_compression_formats=["gzip"],
)
