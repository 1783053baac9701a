"""What every platform process sets up first: its log format and, when configured, tracing."""

from __future__ import annotations

from agent_platform.observability import logs, tracing
from agent_platform.settings import SettingsError, get_settings


def configure() -> None:
    """Idempotent. With settings that do not load, logs still come out (as JSON or console by
    the terminal) so the command can report the bad setting in one line."""
    try:
        settings = get_settings()
    except SettingsError:
        logs.configure()
        return
    logs.configure(settings.log_format, settings.log_level)
    if not tracing.enabled():
        tracing.configure(settings.otel_exporter_otlp_endpoint, settings.otel_service_name)
