"""Web search through a configured provider (SearXNG, Brave or Tavily), via the guard.

Why only when configured: there is no keyless public search API we want to depend on, so the
tool is offered to agents only when WEB_SEARCH_PROVIDER is set (`available()`). A self-hosted
SearXNG on a private address needs its host in OUTBOUND_ALLOW_HOSTS like any other.
"""

from __future__ import annotations

import html
import re
from typing import Any, TypedDict

from agent_platform.settings import get_settings
from services.outbound import OutboundError, OutboundGuard, OutboundResponse, default_guard
from services.tools.base import ToolContext, ToolError, ToolSpec

MAX_RESULTS = 5
MAX_QUERY_CHARS = 400
MAX_SNIPPET_CHARS = 500
BRAVE_URL = "https://api.search.brave.com/res/v1/web/search"
TAVILY_URL = "https://api.tavily.com/search"
PROVIDERS = ("searxng", "brave", "tavily")


class SearchResult(TypedDict):
    title: str
    url: str
    snippet: str


def available() -> bool:
    """Whether agents may be offered `web_search` (a provider is configured)."""
    return bool(get_settings().web_search_provider)


class WebSearch:
    spec = ToolSpec(
        name="web_search",
        description=f"Search the web; returns up to {MAX_RESULTS} results (title, url, snippet).",
        parameters={
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to search for."},
                "max_results": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    )

    def __init__(
        self,
        *,
        guard: OutboundGuard | None = None,
        provider: str | None = None,
        url: str | None = None,
        api_key: str | None = None,
    ) -> None:
        """Arguments left as None come from settings (WEB_SEARCH_*)."""
        settings = get_settings()
        self._guard = guard
        self.provider = settings.web_search_provider if provider is None else provider
        self.url = settings.web_search_url if url is None else url
        self.api_key = settings.web_search_api_key if api_key is None else api_key

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        query = args.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolError("'query' is required: what to search for")
        if len(query) > MAX_QUERY_CHARS:
            raise ToolError(f"The query is too long (limit {MAX_QUERY_CHARS} characters)")
        limit = args.get("max_results", MAX_RESULTS)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_RESULTS:
            raise ToolError(f"'max_results' must be a whole number from 1 to {MAX_RESULTS}")
        try:
            results = await self._search(query.strip(), limit)
        except OutboundError as exc:
            raise ToolError(f"Web search failed: {exc.message}") from None
        return {"query": query, "results": results[:limit]}

    async def _search(self, query: str, limit: int) -> list[SearchResult]:
        guard = self._guard or default_guard()
        if self.provider == "searxng":
            if not self.url:
                raise ToolError("Web search is misconfigured: WEB_SEARCH_URL is empty")
            response = await guard.request(
                "GET",
                self.url.rstrip("/") + "/search",
                params={"q": query, "format": "json"},
                headers={"accept": "application/json"},
            )
            return _results(_payload(response).get("results"), "content")
        if self.provider == "brave":
            response = await guard.request(
                "GET",
                BRAVE_URL,
                params={"q": query, "count": limit},
                headers={"accept": "application/json", "x-subscription-token": self._key()},
            )
            return _results((_payload(response).get("web") or {}).get("results"), "description")
        if self.provider == "tavily":
            response = await guard.request(
                "POST",
                TAVILY_URL,
                json={"api_key": self._key(), "query": query, "max_results": limit},
            )
            return _results(_payload(response).get("results"), "content")
        raise ToolError("Web search is not configured on this platform")

    def _key(self) -> str:
        if not self.api_key:
            raise ToolError("Web search is misconfigured: WEB_SEARCH_API_KEY is empty")
        return self.api_key


def _payload(response: OutboundResponse) -> dict[str, Any]:
    if response.status >= 400:
        raise ToolError(f"The search provider answered HTTP {response.status}")
    try:
        payload = response.json()
    except ValueError:
        raise ToolError("The search provider did not answer with JSON") from None
    if not isinstance(payload, dict):
        raise ToolError("The search provider answered with unexpected JSON")
    return payload


def _results(raw: Any, snippet_field: str) -> list[SearchResult]:
    if not isinstance(raw, list):
        return []
    results: list[SearchResult] = []
    for item in raw:
        if not isinstance(item, dict) or not item.get("url"):
            continue
        results.append(
            SearchResult(
                title=_plain(item.get("title")),
                url=str(item["url"]),
                snippet=_plain(item.get(snippet_field))[:MAX_SNIPPET_CHARS],
            )
        )
        if len(results) == MAX_RESULTS:
            break
    return results


def _plain(value: Any) -> str:
    """Provider snippets carry <strong> highlighting and entities; the model wants text."""
    return html.unescape(re.sub(r"<[^>]+>", "", str(value or ""))).strip()
