"""Sign-in and sign-up pages (layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import error_callout, field
from state.auth import AuthFormState


def _card(*children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(*children, spacing="4", width="100%"),
            width="100%",
            max_width="420px",
            padding="24px",
        ),
        min_height="100vh",
        padding="16px",
    )


def login_page() -> rx.Component:
    return _card(
        rx.heading("Sign in", size="6"),
        error_callout(AuthFormState.error, id_="login-error"),
        rx.form(
            rx.vstack(
                field(
                    "Email",
                    "email",
                    AuthFormState.field_errors,
                    type_="email",
                    auto_complete="email",
                ),
                field(
                    "Password",
                    "password",
                    AuthFormState.field_errors,
                    type_="password",
                    auto_complete="current-password",
                ),
                rx.button("Sign in", type="submit", size="3", width="100%", id="login-submit"),
                spacing="3",
            ),
            on_submit=AuthFormState.login,
            reset_on_submit=False,
            id="login-form",
        ),
        rx.text(
            "No account yet? ",
            rx.link("Create one", href="/register", id="to-register"),
            size="2",
        ),
    )


def register_page() -> rx.Component:
    return _card(
        rx.heading("Create your account", size="6"),
        rx.text(
            "You get a personal organization; invite your team later.",
            color_scheme="gray",
            size="2",
        ),
        error_callout(AuthFormState.error, id_="register-error"),
        rx.form(
            rx.vstack(
                field("Name", "name", AuthFormState.field_errors, auto_complete="name"),
                field(
                    "Email",
                    "email",
                    AuthFormState.field_errors,
                    type_="email",
                    auto_complete="email",
                ),
                field(
                    "Password (10+ characters)",
                    "password",
                    AuthFormState.field_errors,
                    type_="password",
                    auto_complete="new-password",
                ),
                field(
                    "Confirm password",
                    "confirm",
                    AuthFormState.field_errors,
                    type_="password",
                    auto_complete="new-password",
                ),
                rx.button(
                    "Create account", type="submit", size="3", width="100%", id="register-submit"
                ),
                spacing="3",
            ),
            on_submit=AuthFormState.register,
            reset_on_submit=False,
            id="register-form",
        ),
        rx.text("Already registered? ", rx.link("Sign in", href="/login", id="to-login"), size="2"),
    )
