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
    target_type: NotRequired[str | None]
    target_id: NotRequired[uuid.UUID | str | None]
    client_ip: NotRequired[str | None]


class DomainError(Exception):
    status: int = 400

    def __init__(
        self,
        message: str,
        *,
        fields: dict[str, str] | None = None,
        audit: AuditPayload | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        # The one way a refusal or failure is remembered although the caller's work rolls
        # back (a failed sign-in, a sealed Vault): the scope rolls back, then writes only this
        # entry and commits it (services.audit.for_error builds it).
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
