"""What an integration provider is: how to connect to it and which actions it offers.

Why declarations instead of client libraries: every call must go through one proxy path
(grant check → secret store → outbound guard → audit → redaction). An action therefore only
*describes* the HTTP request it needs; the proxy alone adds credentials and sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

AuthKind = Literal["oauth2", "oauth2_custom", "api_key", "bearer", "basic"]


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request an action wants made; `host` names an entry of the provider's hosts
    ("" = the connection's own base URL, for generic HTTP APIs)."""

    method: str
    path: str
    host: str = "api"
    params: dict[str, Any] | None = None
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    name: str  # "slack.post_message"
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments
    build: Callable[[dict[str, Any], dict[str, Any]], ApiRequest]  # (args, connection settings)
    scopes: tuple[str, ...] = ()  # every one must have been granted to the connection
    side_effect: bool = False  # changes something outside: may need a person's approval
    shape: Callable[[Any], Any] | None = None  # trims a provider response for the model


@dataclass(frozen=True)
class OAuthSpec:
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    scope_separator: str = " "
    extra_params: dict[str, str] = field(default_factory=dict)
    revoke: Literal["", "slack", "google", "github", "linkedin", "rfc7009"] = ""


@dataclass(frozen=True)
class Provider:
    key: str
    label: str
    auth_kinds: tuple[AuthKind, ...]
    actions: tuple[Action, ...]
    hosts: dict[str, str] = field(default_factory=dict)
    oauth: OAuthSpec | None = None
    check: ApiRequest | None = None  # a cheap call that proves the credential works
    default_headers: dict[str, str] = field(default_factory=dict)
    # (status, parsed body) -> a provider error message, or None when the call succeeded
    error_of: Callable[[int, Any], str | None] | None = None
    # (status, parsed body) -> True when the access token is expired/invalid (refresh, retry)
    auth_failed: Callable[[int, Any], bool] | None = None
    account_of: Callable[[Any], str] | None = None  # the check's response -> account label

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)


def rebase(url: str, base: str) -> str:
    """`url` with its scheme and host replaced by `base` (the path is kept).

    Why: an instance may point a provider at GitHub Enterprise, a regional endpoint or a test
    double; the real paths stay the same, only the origin changes."""
    if not base:
        return url
    parts = urlsplit(url)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return base.rstrip("/") + rest


def object_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def default_error(status: int, body: Any) -> str | None:
    """The common case: 2xx is success; otherwise the message the provider gave, if any."""
    if 200 <= status < 300:
        return None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message") or error.get("status") or status)
        if isinstance(error, str):
            return str(body.get("error_description") or error)
        if body.get("message"):
            return str(body["message"])
    return f"HTTP {status}"
