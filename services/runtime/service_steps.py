"""A run of a service listing, as its buyer may read it: the seller's instructions, model
choice and tools' settings never reach the buyer's steps or live events.

Why the engine stores the steps this way instead of filtering them on read: the steps are read
by the run page, the REST API, the live stream, exports and the dashboard; what is never
written cannot leak through one of them forgotten. What stays: the input (on the run), the
answer, status, tokens, cost, latency, and the names of the tools the model called.

Whose resources: a service run is in the buyer's organization (the buyer reads it and it
counts against the buyer's plan and spend cap), but its models, private hosts and knowledge
are the seller's, the owner of the version it runs.
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sqlmodel import Session

from agent_platform.models import Agent, AgentVersion
from services.errors import DomainError

MODEL_FAILED = "The service's model call failed; try again later."
TOOL_FAILED = "The tool failed."


class RunOfVersion(Protocol):
    """What `owner_org` reads of a run: an Execution, or the columns its claim returned."""

    @property
    def org_id(self) -> uuid.UUID: ...

    @property
    def agent_version_id(self) -> uuid.UUID | None: ...

    @property
    def service_listing_id(self) -> uuid.UUID | None: ...


def owner_org(session: Session, run: RunOfVersion) -> uuid.UUID:
    """The organization whose models and knowledge the run uses: its own, or for a service
    run the organization owning the version it runs."""
    if run.service_listing_id is None:
        return run.org_id
    version = session.get(AgentVersion, run.agent_version_id) if run.agent_version_id else None
    agent = session.get(Agent, version.agent_id) if version is not None else None
    if agent is None:
        raise DomainError("The seller's agent of this service no longer exists.")
    return agent.org_id


def _call_names(calls: Any) -> list[dict[str, Any]]:
    return [{"id": c.get("id"), "name": c.get("name")} for c in calls or [] if isinstance(c, dict)]


def step_for_buyer(step: dict[str, Any]) -> dict[str, Any]:
    """A step row's columns with the seller's side left out."""
    shown = dict(step)
    if step.get("kind") == "model":
        response = step.get("response") or {}
        shown.update(
            model=None,
            messages=None,
            error=MODEL_FAILED if step.get("error") else None,
            response={
                "text": response.get("text", ""),
                "tool_calls": _call_names(response.get("tool_calls")),
                "finish_reason": response.get("finish_reason"),
                "attempts": [],
                "prompt_tokens": response.get("prompt_tokens", 0),
                "completion_tokens": response.get("completion_tokens", 0),
                "cost_unknown": bool(response.get("cost_unknown", False)),
            },
        )
    else:
        shown.update(arguments=None, result=None, error=TOOL_FAILED if step.get("error") else None)
    return shown


def event_for_buyer(fields: dict[str, Any]) -> dict[str, Any]:
    """A live `step` event's fields with the seller's side left out."""
    shown = dict(fields)
    if fields.get("kind") == "model":
        shown.update(
            model=None,
            attempts=[],
            tool_calls=_call_names(fields.get("tool_calls")),
            **({"error": MODEL_FAILED} if fields.get("error") else {}),
        )
    else:
        shown.update(
            arguments=None, result=None, error=TOOL_FAILED if fields.get("error") else None
        )
    return shown
