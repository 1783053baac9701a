"""An integration action granted to an agent, offered to the model as a tool.

The tool only knows the grant (action + connection); everything else — credential, scopes,
rate limit, approval, redaction — happens in `services.integrations.proxy`.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

from agent_platform.settings import get_settings
from services.integrations.catalog import Action
from services.integrations.proxy import Grant, call_action
from services.tools.base import ToolContext, ToolSpec

_NOT_NAME = re.compile(r"[^a-zA-Z0-9_-]+")


def tool_name(action: str, connection_name: str, connection_id: str, *, qualify: bool) -> str:
    """OpenAI-style function names allow [a-zA-Z0-9_-]{1,64}. The plain action name is used
    unless it would clash (the same action on two connections, or a built-in tool of that
    name); then the connection's name and a short hash of its id keep every name distinct."""
    base = action.replace(".", "_")
    if not qualify:
        return base
    tag = hashlib.sha256(connection_id.encode()).hexdigest()[:6]
    slug = _NOT_NAME.sub("_", connection_name.lower()).strip("_")[:30]
    return f"{base}__{slug}_{tag}"[:64]


class IntegrationAction:
    def __init__(
        self, action: Action, connection_id: str, connection_name: str, *, name: str, approval: bool
    ) -> None:
        self.grant = Grant(uuid.UUID(connection_id), action.name, approval)
        self.action = action  # what it does outside (side_effect): the safety probes ask
        self.spec = ToolSpec(
            name=name,
            description=f"{action.description} (connection “{connection_name}”)",
            parameters=action.parameters,
        )
        # a person may take a while to approve; without approval the usual tool limit holds
        self.timeout = get_settings().approval_timeout_seconds + 60 if approval else 60

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        return await call_action(ctx, self.grant, args)
