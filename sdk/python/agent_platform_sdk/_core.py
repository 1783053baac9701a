"""What the sync and async clients share: the key-for-token authentication, the Server-Sent
Events parser and the event types.

Why exchange the key for a token: the key is long-lived and powerful; the short-lived token
(15 minutes) is what travels with every call, and is fetched again shortly before it ends or
when the server refuses it (a key rotated or a clock skew), once per request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncGenerator, Generator
from typing import Any

import httpx

from .errors import error_from
from .models import DiscardEvent, EndEvent, RunEvent, Step, StepEvent, TokenEvent

TOKEN_PATH = "/api/v1/auth/token"
REFRESH_MARGIN_SECONDS = 60.0
USER_AGENT = "agent-platform-sdk-python/0.1.0"


class KeyAuth(httpx.Auth):
    """Bearer access tokens exchanged for an API key (`ap_…`), refreshed before they end."""

    def __init__(self, api_key: str, token_url: str) -> None:
        if not api_key:
            raise ValueError("An API key is required (create one under Settings → API keys).")
        self._key = api_key
        self._url = token_url
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def _fresh(self) -> str | None:
        with self._lock:
            if self._token and time.monotonic() < self._expires - REFRESH_MARGIN_SECONDS:
                return self._token
            return None

    def _exchange(self) -> httpx.Request:
        return httpx.Request(
            "POST", self._url, headers={"Authorization": f"Bearer {self._key}"}, json={}
        )

    def _store(self, response: httpx.Response) -> str:
        if response.status_code != 200:
            raise error_from(response)
        body = response.json()
        with self._lock:
            self._token = str(body["access_token"])
            self._expires = time.monotonic() + float(body.get("expires_in", 900))
            return self._token

    def _forget(self) -> None:
        with self._lock:
            self._token = None

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        token, fetched = self._fresh(), False
        if token is None:
            reply = yield self._exchange()
            reply.read()
            token, fetched = self._store(reply), True
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and not fetched:
            self._forget()
            reply = yield self._exchange()
            reply.read()
            request.headers["Authorization"] = f"Bearer {self._store(reply)}"
            yield request

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token, fetched = self._fresh(), False
        if token is None:
            reply = yield self._exchange()
            await reply.aread()
            token, fetched = self._store(reply), True
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and not fetched:
            self._forget()
            reply = yield self._exchange()
            await reply.aread()
            request.headers["Authorization"] = f"Bearer {self._store(reply)}"
            yield request


class EventParser:
    """Server-Sent Events, one line at a time: `feed` returns the event a blank line completes.
    Comments (the server's keep-alives) and unknown event names are skipped."""

    def __init__(self) -> None:
        self._name = "message"
        self._data: list[str] = []

    def feed(self, line: str) -> RunEvent | None:
        if line.startswith(":"):
            return None
        if line:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                self._name = value
            elif field == "data":
                self._data.append(value)
            return None
        name, data = self._name, "\n".join(self._data)
        self._name, self._data = "message", []
        return to_event(name, json.loads(data)) if data else None


def to_event(name: str, data: dict[str, Any]) -> RunEvent | None:
    if name == "token":
        return TokenEvent.model_validate(data)
    if name == "step":
        return StepEvent(step=Step.model_validate(data))
    if name == "discard":
        return DiscardEvent.model_validate(data)
    if name == "end":
        return EndEvent.model_validate(data)
    return None


def clean(params: dict[str, Any]) -> dict[str, Any]:
    """Query parameters without the ones left unset."""
    return {k: v for k, v in params.items() if v is not None and v != ""}


def check(response: httpx.Response) -> httpx.Response:
    if response.is_success:
        return response
    raise error_from(response)


def yaml_name(text: str) -> str | None:
    """The top-level `name:` of an agent file, without a YAML library (the SDK depends on
    httpx and pydantic only). Plain and quoted one-line names; anything else is None and the
    server, which parses the file for real, decides."""
    for line in text.splitlines():
        if not line.startswith("name:"):
            continue
        value = line.removeprefix("name:").split(" #", 1)[0].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            if value[0] == "'":
                return value[1:-1].replace("''", "'")
            try:
                return str(json.loads(value))
            except ValueError:
                return None
        return value or None
    return None
