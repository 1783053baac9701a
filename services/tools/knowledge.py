"""knowledge_search: the agent searches its own knowledge collections (and only those)."""

from __future__ import annotations

import asyncio
from typing import Any

from agent_platform.models import Role
from services.access import Actor
from services.errors import DomainError
from services.tools.base import ToolContext, ToolError, ToolSpec


class KnowledgeSearch:
    spec = ToolSpec(
        name="knowledge_search",
        description="Search the agent's knowledge base; returns the most relevant passages.",
        parameters={
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to look for"},
                "top_k": {"type": "integer", "minimum": 1, "maximum": 10, "default": 4},
            },
            "required": ["query"],
        },
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        query = str(args.get("query", "")).strip()
        if not query:
            raise ToolError("query is required")
        if not ctx.knowledge_collections:
            raise ToolError("this agent has no knowledge collections")
        top_k = int(args.get("top_k") or 4)
        return await asyncio.to_thread(self._search, ctx, query, max(1, min(top_k, 10)))

    def _search(self, ctx: ToolContext, query: str, top_k: int) -> dict[str, Any]:
        from services.memory import collections

        actor = Actor(user_id=None, org_id=ctx.org_id, role=Role.VIEWER)
        try:
            with ctx.begin() as session:
                hits = collections.search(
                    session,
                    actor,
                    collection_names=ctx.knowledge_collections,
                    query=query,
                    top_k=top_k,
                )
        except DomainError as exc:
            raise ToolError(exc.message) from None
        return {
            "results": [
                {"text": h.text, "source": h.filename, "score": round(h.score, 3)} for h in hits
            ]
        }
