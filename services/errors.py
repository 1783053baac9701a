"""Domain errors: services raise these; the UI shows `message`, the API maps `status`."""

from __future__ import annotations


class DomainError(Exception):
    status: int = 400

    def __init__(
        self, message: str, *, fields: dict[str, str] | None = None, keep_changes: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        # A refusal that wrote its own audit entry: the caller's scope commits before re-raising.
        self.keep_changes = keep_changes


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
