"""Sign-in and sign-up forms."""

from __future__ import annotations

import reflex as rx

from agent_platform.db import session_scope
from agent_platform.redis_client import get_redis
from agent_platform.settings import get_settings
from services import accounts
from services.errors import DomainError
from services.ratelimit import LoginLimiter
from state.base import SessionState, form_text


def _safe_next(target: str) -> str:
    """Only same-site paths: an open redirect after login would be a phishing aid."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


class AuthFormState(SessionState):
    error: str = ""
    field_errors: dict[str, str] = {}
    busy: bool = False

    def _next(self) -> str:
        return _safe_next(self.router.url.query_parameters.get("next", "/"))

    def _limiter(self) -> LoginLimiter:
        return LoginLimiter.from_settings(get_redis(), get_settings())

    def _open_session(self, email: str, password: str) -> None:
        settings = get_settings()
        with session_scope() as session:
            result = accounts.login(
                session,
                self._limiter(),
                email=email,
                password=password,
                client_ip=self._client_ip(),
                user_agent=self.router.headers.user_agent,
                session_days=settings.session_days,
                replace_token=self.auth_token or None,
            )
        self.auth_token = result.token

    @rx.event
    def redirect_if_signed_in(self) -> rx.event.EventSpec | None:
        self.error, self.field_errors = "", {}
        if self._load_identity():
            return rx.redirect(self._next())
        return None

    @rx.event
    def login(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        self.error, self.field_errors = "", {}
        email, password = form_text(form, "email", ""), form_text(form, "password", "")
        if not email.strip() or not password:
            self.field_errors = {
                k: "Required"
                for k, v in (("email", email.strip()), ("password", password))
                if not v
            }
            self.error = "Enter your email and password."
            return None
        try:
            self._open_session(email, password)
        except DomainError as exc:
            self.error = exc.message
            return None
        self._load_identity()
        return rx.redirect(self._next())

    @rx.event
    def register(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        self.error, self.field_errors = "", {}
        if form_text(form, "password", "") != form_text(form, "confirm", ""):
            self.field_errors = {"confirm": "Passwords do not match"}
            self.error = "Please correct the highlighted fields."
            return None
        try:
            with session_scope() as session:
                result = accounts.sign_up(
                    session,
                    self._limiter(),
                    email=form_text(form, "email", ""),
                    name=form_text(form, "name", ""),
                    password=form_text(form, "password", ""),
                    client_ip=self._client_ip(),
                    user_agent=self.router.headers.user_agent,
                    session_days=get_settings().session_days,
                    replace_token=self.auth_token or None,
                )
            self.auth_token = result.token
        except DomainError as exc:
            self.error = exc.message if not exc.fields else "Please correct the highlighted fields."
            self.field_errors = exc.fields
            return None
        self._load_identity()
        return rx.redirect(self._next())
