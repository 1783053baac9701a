"""The current date and time, so the model does not guess "today" from its training data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.tools.base import ToolContext, ToolError, ToolSpec

# Locale-independent (strftime("%A") follows the process locale).
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class CurrentDateTime:
    spec = ToolSpec(
        name="current_datetime",
        description="The current date, time and weekday, in UTC or in an IANA time zone.",
        parameters={
            "type": "object",
            "properties": {
                "timezone": {
                    "type": "string",
                    "description": "IANA time zone such as 'Europe/Paris'; default UTC.",
                }
            },
            "additionalProperties": False,
        },
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        name = args.get("timezone") or "UTC"
        if not isinstance(name, str):
            raise ToolError("'timezone' must be a string such as 'Europe/Paris'")
        if name.upper() == "UTC":
            name = "UTC"
        now = datetime.now(_zone(name))
        return {
            "datetime": now.isoformat(timespec="seconds"),
            "date": now.date().isoformat(),
            "time": now.strftime("%H:%M:%S"),
            "weekday": WEEKDAYS[now.weekday()],
            "timezone": name,
            "utc_offset": _offset(now.utcoffset() or timedelta(0)),
        }


def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ToolError(
            f"Unknown time zone {name!r}; use an IANA name such as 'Europe/Paris', "
            "'America/New_York' or 'UTC'"
        ) from None


def _offset(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
