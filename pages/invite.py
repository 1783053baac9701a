"""The page behind an invitation link."""

from __future__ import annotations

import reflex as rx

from pages.components import error_callout
from state.invite import InviteState


def invite_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.cond(
                ~InviteState.invite_checked,
                rx.center(rx.spinner(size="3"), padding="32px"),
                rx.cond(
                    InviteState.invite_error != "",
                    rx.vstack(
                        rx.heading("Invitation", size="6"),
                        error_callout(InviteState.invite_error, id_="invite-error"),
                        rx.link("Go to the app", href="/"),
                        spacing="4",
                    ),
                    rx.vstack(
                        rx.heading("You are invited", size="6"),
                        rx.text(
                            "Join ",
                            rx.text.strong(InviteState.invite_org, id="invite-org"),
                            " as ",
                            rx.badge(InviteState.invite_role, id="invite-role"),
                            ".",
                        ),
                        rx.cond(
                            InviteState.signed_in,
                            rx.vstack(
                                rx.text(
                                    "Signed in as ",
                                    InviteState.user_email,
                                    size="2",
                                    color_scheme="gray",
                                ),
                                rx.button(
                                    "Accept invitation",
                                    on_click=InviteState.accept,
                                    size="3",
                                    id="accept-invite",
                                ),
                                spacing="3",
                            ),
                            rx.hstack(
                                rx.link(
                                    rx.button("Create an account", size="3"),
                                    href="/register?next=" + InviteState.invite_next,
                                    id="invite-register",
                                ),
                                rx.link(
                                    rx.button("Sign in", variant="soft", size="3"),
                                    href="/login?next=" + InviteState.invite_next,
                                    id="invite-login",
                                ),
                                spacing="3",
                            ),
                        ),
                        spacing="4",
                    ),
                ),
            ),
            width="100%",
            max_width="460px",
            padding="24px",
        ),
        min_height="100vh",
        padding="16px",
    )
