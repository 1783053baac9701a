"""The synchronous client.

from agent_platform_sdk import Client

with Client("https://agents.example.com", api_key="ap_…") as client:
    agent = client.agents.create("Support bot", config={"model": "openai/gpt-4o-mini"})
    run = client.runs.create(agent.id, "Where is my order?")
    for event in client.runs.stream(run.id):
        ...
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from ._core import TOKEN_PATH, USER_AGENT, EventParser, KeyAuth, check, clean
from .errors import StreamError
from .models import AgentDetail, AgentInfo, EndEvent, Page, Run, RunDetail, RunEvent, Version

M = TypeVar("M", bound=BaseModel)
YAML = "application/yaml"


def env_settings() -> tuple[str, str]:
    url = os.environ.get("AGENT_PLATFORM_URL", "").strip()
    key = os.environ.get("AGENT_PLATFORM_API_KEY", "").strip()
    pairs = (("AGENT_PLATFORM_URL", url), ("AGENT_PLATFORM_API_KEY", key))
    missing = [name for name, value in pairs if not value]
    if missing:
        raise ValueError(f"Set {' and '.join(missing)} (the platform's URL and an API key).")
    return url, key


class Client:
    """base_url: where the platform runs (e.g. https://agents.example.com); api_key: an
    organization's API key (`ap_…`), exchanged for short-lived access tokens."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=base,
            auth=KeyAuth(api_key, base + TOKEN_PATH),
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )
        self.agents = Agents(self)
        self.runs = Runs(self)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Client:
        """AGENT_PLATFORM_URL and AGENT_PLATFORM_API_KEY, as CI jobs set them."""
        return cls(*env_settings(), **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any API call (path under /api/v1); a refusal raises `ApiError`."""
        return check(self.http.request(method, "/api/v1" + path, **kwargs))

    def get_as(self, model: type[M], path: str, **kwargs: Any) -> M:
        return model.model_validate(self.request("GET", path, **kwargs).json())

    def send_as(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate(self.request(method, path, **kwargs).json())

    def pages(self, model: type[M], path: str, params: dict[str, Any]) -> Iterator[M]:
        """Every item of a cursor-paged list, fetching pages as the loop needs them."""
        cursor: str | None = None
        while True:
            body = self.request("GET", path, params=clean({**params, "cursor": cursor})).json()
            page = Page[Any].model_validate(body)
            yield from (model.model_validate(item) for item in page.data)
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Agents:
    def __init__(self, client: Client) -> None:
        self._c = client

    def list(
        self, *, search: str = "", status: str | None = None, page_size: int = 50
    ) -> Iterator[AgentInfo]:
        """Newest first, all pages (archived agents only with status="archived")."""
        params = {"search": search, "status": status, "limit": page_size}
        return self._c.pages(AgentInfo, "/agents", params)

    def get(self, agent_id: str) -> AgentDetail:
        return self._c.get_as(AgentDetail, f"/agents/{agent_id}")

    def find(self, name: str) -> AgentDetail | None:
        """The agent called exactly `name` (not archived), or None."""
        for info in self.list(search=name):
            if info.name == name:
                return self.get(info.id)
        return None

    def create(
        self, name: str, *, description: str = "", config: dict[str, Any] | None = None
    ) -> AgentDetail:
        body = {"name": name, "description": description, "config": config or {}}
        return self._c.send_as(AgentDetail, "POST", "/agents", json=body)

    def update(
        self,
        agent_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        config: dict[str, Any] | None = None,
        based_on_version: int | None = None,
    ) -> AgentDetail:
        """A new version when the config changed (`new_version`); `based_on_version` refuses
        the save (409) if someone saved in between."""
        body = clean(
            {
                "name": name,
                "description": description,
                "config": config,
                "based_on_version": based_on_version,
            }
        )
        return self._c.send_as(AgentDetail, "PATCH", f"/agents/{agent_id}", json=body)

    def publish(self, agent_id: str) -> AgentDetail:
        return self._c.send_as(AgentDetail, "POST", f"/agents/{agent_id}/publish")

    def unpublish(self, agent_id: str) -> AgentDetail:
        return self._c.send_as(AgentDetail, "POST", f"/agents/{agent_id}/unpublish")

    def delete(self, agent_id: str) -> None:
        self._c.request("DELETE", f"/agents/{agent_id}")

    def versions(self, agent_id: str) -> Iterator[Version]:
        return self._c.pages(Version, f"/agents/{agent_id}/versions", {})

    def export_yaml(self, agent_id: str) -> str:
        """The agent file (name, description, config) to keep in git."""
        return self._c.request("GET", f"/agents/{agent_id}/export").text

    def import_yaml(self, text: str, *, agent_id: str | None = None) -> AgentDetail:
        """A new agent from an agent file, or (agent_id) that agent updated from it."""
        headers = {"Content-Type": YAML}
        data = text.encode()
        if agent_id is None:
            return self._c.send_as(
                AgentDetail, "POST", "/agents/import", content=data, headers=headers
            )
        return self._c.send_as(
            AgentDetail, "PUT", f"/agents/{agent_id}/import", content=data, headers=headers
        )


class Runs:
    def __init__(self, client: Client) -> None:
        self._c = client

    def create(
        self,
        agent_id: str,
        message: str,
        *,
        variables: dict[str, str] | None = None,
        thread_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        """Start a run (queued). The same `idempotency_key` returns the same run: a retry
        after a dropped connection never starts a second one."""
        body = clean({"message": message, "variables": variables, "thread_id": thread_id})
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._c.send_as(Run, "POST", f"/agents/{agent_id}/runs", json=body, headers=headers)

    def get(self, run_id: str) -> RunDetail:
        return self._c.get_as(RunDetail, f"/runs/{run_id}")

    def list(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = 50,
    ) -> Iterator[Run]:
        params = {
            "agent_id": agent_id,
            "status": status,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "limit": page_size,
        }
        return self._c.pages(Run, "/runs", params)

    def cancel(self, run_id: str) -> Run:
        return self._c.send_as(Run, "POST", f"/runs/{run_id}/cancel")

    def stream(self, run_id: str, *, idle_timeout: float | None = None) -> Iterator[RunEvent]:
        """The run's events from its beginning until its `EndEvent` (then the stream ends).
        A connection that drops before the end raises `StreamError`; `idle_timeout`: give up
        (httpx.ReadTimeout) after that many seconds without a byte (the server sends a
        keep-alive every 15 s)."""
        path = f"/api/v1/runs/{run_id}/events"
        timeout = httpx.Timeout(60, read=idle_timeout)
        with self._c.http.stream("GET", path, timeout=timeout) as reply:
            if not reply.is_success:
                reply.read()
                check(reply)
            parser = EventParser()
            for line in reply.iter_lines():
                event = parser.feed(line)
                if event is not None:
                    yield event
                    if isinstance(event, EndEvent):
                        return
        raise StreamError(f"The event stream of run {run_id} ended before the run did.")

    def wait(self, run_id: str, *, timeout: float = 300.0) -> RunDetail:
        """The run once it has ended (with its steps), following its events."""
        deadline = time.monotonic() + timeout
        for event in self.stream(run_id, idle_timeout=timeout):
            if isinstance(event, EndEvent):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"Run {run_id} did not end within {timeout:g} s.")
        return self.get(run_id)
