"""The asynchronous client: the same methods as `Client`, awaited; lists and streams are async
iterators.

    async with AsyncClient(url, api_key="ap_…") as client:
        run = await client.runs.create(agent_id, "Hello")
        async for event in client.runs.stream(run.id):
            ...
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from ._core import TOKEN_PATH, USER_AGENT, EventParser, KeyAuth, check, clean
from .client import YAML, env_settings
from .errors import StreamError
from .models import AgentDetail, AgentInfo, EndEvent, Page, Run, RunDetail, RunEvent, Version

M = TypeVar("M", bound=BaseModel)


class AsyncClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        self.http = httpx.AsyncClient(
            base_url=base,
            auth=KeyAuth(api_key, base + TOKEN_PATH),
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
        )
        self.agents = AsyncAgents(self)
        self.runs = AsyncRuns(self)

    @classmethod
    def from_env(cls, **kwargs: Any) -> AsyncClient:
        """AGENT_PLATFORM_URL and AGENT_PLATFORM_API_KEY, as CI jobs set them."""
        return cls(*env_settings(), **kwargs)

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any API call (path under /api/v1); a refusal raises `ApiError`."""
        return check(await self.http.request(method, "/api/v1" + path, **kwargs))

    async def send_as(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate((await self.request(method, path, **kwargs)).json())

    async def pages(self, model: type[M], path: str, params: dict[str, Any]) -> AsyncIterator[M]:
        cursor: str | None = None
        while True:
            reply = await self.request("GET", path, params=clean({**params, "cursor": cursor}))
            page = Page[Any].model_validate(reply.json())
            for item in page.data:
                yield model.model_validate(item)
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncAgents:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    def list(
        self, *, search: str = "", status: str | None = None, page_size: int = 50
    ) -> AsyncIterator[AgentInfo]:
        params = {"search": search, "status": status, "limit": page_size}
        return self._c.pages(AgentInfo, "/agents", params)

    async def get(self, agent_id: str) -> AgentDetail:
        return await self._c.send_as(AgentDetail, "GET", f"/agents/{agent_id}")

    async def find(self, name: str) -> AgentDetail | None:
        async for info in self.list(search=name):
            if info.name == name:
                return await self.get(info.id)
        return None

    async def create(
        self, name: str, *, description: str = "", config: dict[str, Any] | None = None
    ) -> AgentDetail:
        body = {"name": name, "description": description, "config": config or {}}
        return await self._c.send_as(AgentDetail, "POST", "/agents", json=body)

    async def update(
        self,
        agent_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        config: dict[str, Any] | None = None,
        based_on_version: int | None = None,
    ) -> AgentDetail:
        body = clean(
            {
                "name": name,
                "description": description,
                "config": config,
                "based_on_version": based_on_version,
            }
        )
        return await self._c.send_as(AgentDetail, "PATCH", f"/agents/{agent_id}", json=body)

    async def publish(self, agent_id: str) -> AgentDetail:
        return await self._c.send_as(AgentDetail, "POST", f"/agents/{agent_id}/publish")

    async def unpublish(self, agent_id: str) -> AgentDetail:
        return await self._c.send_as(AgentDetail, "POST", f"/agents/{agent_id}/unpublish")

    async def delete(self, agent_id: str) -> None:
        await self._c.request("DELETE", f"/agents/{agent_id}")

    def versions(self, agent_id: str) -> AsyncIterator[Version]:
        return self._c.pages(Version, f"/agents/{agent_id}/versions", {})

    async def export_yaml(self, agent_id: str) -> str:
        return (await self._c.request("GET", f"/agents/{agent_id}/export")).text

    async def import_yaml(self, text: str, *, agent_id: str | None = None) -> AgentDetail:
        headers = {"Content-Type": YAML}
        data = text.encode()
        if agent_id is None:
            return await self._c.send_as(
                AgentDetail, "POST", "/agents/import", content=data, headers=headers
            )
        return await self._c.send_as(
            AgentDetail, "PUT", f"/agents/{agent_id}/import", content=data, headers=headers
        )


class AsyncRuns:
    def __init__(self, client: AsyncClient) -> None:
        self._c = client

    async def create(
        self,
        agent_id: str,
        message: str,
        *,
        variables: dict[str, str] | None = None,
        thread_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Run:
        body = clean({"message": message, "variables": variables, "thread_id": thread_id})
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return await self._c.send_as(
            Run, "POST", f"/agents/{agent_id}/runs", json=body, headers=headers
        )

    async def get(self, run_id: str) -> RunDetail:
        return await self._c.send_as(RunDetail, "GET", f"/runs/{run_id}")

    def list(
        self,
        *,
        agent_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = 50,
    ) -> AsyncIterator[Run]:
        params = {
            "agent_id": agent_id,
            "status": status,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "limit": page_size,
        }
        return self._c.pages(Run, "/runs", params)

    async def cancel(self, run_id: str) -> Run:
        return await self._c.send_as(Run, "POST", f"/runs/{run_id}/cancel")

    async def stream(
        self, run_id: str, *, idle_timeout: float | None = None
    ) -> AsyncIterator[RunEvent]:
        path = f"/api/v1/runs/{run_id}/events"
        timeout = httpx.Timeout(60, read=idle_timeout)
        async with self._c.http.stream("GET", path, timeout=timeout) as reply:
            if not reply.is_success:
                await reply.aread()
                check(reply)
            parser = EventParser()
            async for line in reply.aiter_lines():
                event = parser.feed(line)
                if event is not None:
                    yield event
                    if isinstance(event, EndEvent):
                        return
        raise StreamError(f"The event stream of run {run_id} ended before the run did.")

    async def wait(self, run_id: str, *, timeout: float = 300.0) -> RunDetail:
        deadline = time.monotonic() + timeout
        async for event in self.stream(run_id, idle_timeout=timeout):
            if isinstance(event, EndEvent):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"Run {run_id} did not end within {timeout:g} s.")
        return await self.get(run_id)
