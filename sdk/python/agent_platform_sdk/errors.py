"""What a refused request raises: one exception carrying the API's problem details, so a script
writes one `except ApiError` and shows `detail` (a sentence meant for a person)."""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """The API refused a request (RFC 9457 problem details: status, title, detail, errors)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type: str = "about:blank",
        errors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.errors = errors or {}


class RateLimited(ApiError):
    """429: wait `retry_after` seconds before trying again."""

    def __init__(self, *args: Any, retry_after: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class StreamError(Exception):
    """The event stream ended without the run's `end` event (the connection dropped)."""


def error_from(response: httpx.Response) -> ApiError:
    """The exception for a non-2xx response whose body has been read. A body that is not
    problem details (a proxy's HTML page) still gives status and reason."""
    title = response.reason_phrase or "Error"
    detail = response.text[:500] if response.content else title
    kind, errors = "about:blank", None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        title = str(body.get("title") or title)
        detail = str(body.get("detail") or detail)
        kind = str(body.get("type") or kind)
        if isinstance(body.get("errors"), dict):
            errors = {str(k): str(v) for k, v in body["errors"].items()}
    if response.status_code == 429:
        return RateLimited(
            response.status_code,
            title,
            detail,
            type=kind,
            errors=errors,
            retry_after=_seconds(response.headers.get("Retry-After")),
        )
    return ApiError(response.status_code, title, detail, type=kind, errors=errors)


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0
