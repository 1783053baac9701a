"""Domain errors: services raise these; the UI shows `message`, the API maps `status`."""

from __future__ import annotations

import uuid
from typing import Any, NotRequired, TypedDict


class AuditPayload(TypedDict):
    """An audit entry that must outlive the failed transaction (agent_platform.db writes it).

    Plain data, not a model: `agent_platform` may not import `services`, so the session scope
    reads these keys and builds the `AuditEntry` itself after rolling the caller's work back.
    """

    action: str
    org_id: uuid.UUID | None
    details: dict[str, Any]
    actor_id: NotRequired[uuid.UUID | None]


class DomainError(Exception):
    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        keep_changes: bool = False,
        audit: AuditPayload | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        # A refusal that wrote its own audit entry: the caller's scope commits before re-raising.
        self.keep_changes = keep_changes
        # A failure to remember although the caller's work rolls back (e.g. Vault was sealed):
        # the scope rolls back, then writes only this entry and commits it.
        self.audit = audit


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Invalid(DomainError):
    status = 422


class Conflict(DomainError):
    status = 409


class RateLimited(DomainError):
    status = 429


class Unavailable(DomainError):
    status = 503


class Unauthenticated(DomainError):
    status = 401
