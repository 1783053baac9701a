"""The providers page's "Private hosts this organization may reach" section (layout only)."""

from __future__ import annotations

import reflex as rx

from state.providers import ProvidersState

HELP = (
    "Your own servers on a private network or this machine (for example an Ollama at "
    "127.0.0.1 or ollama.internal) are refused unless listed here. One host name, IP address "
    "or network (like 10.0.0.0/24) per line; they open only for this organization's models "
    "and tools."
)


def private_hosts_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Private hosts this organization may reach", size="3"),
            rx.text(HELP, size="2", color_scheme="gray"),
            rx.cond(
                ProvidersState.hosts_enabled,
                rx.form(
                    rx.vstack(
                        rx.text_area(
                            name="private_hosts",
                            id="private_hosts",
                            default_value=ProvidersState.hosts_text,
                            key=ProvidersState.hosts_text,
                            placeholder="127.0.0.1\nollama.internal\n10.0.0.0/24",
                            rows="4",
                            width="100%",
                            color_scheme=rx.cond(ProvidersState.hosts_error != "", "red", "gray"),
                        ),
                        rx.cond(
                            ProvidersState.hosts_error != "",
                            rx.text(
                                ProvidersState.hosts_error,
                                color_scheme="red",
                                size="1",
                                id="private-hosts-error",
                            ),
                        ),
                        rx.button("Save private hosts", type="submit", id="private-hosts-save"),
                        spacing="2",
                        width="100%",
                    ),
                    on_submit=ProvidersState.save_hosts,
                    width="100%",
                ),
                rx.text(
                    "Switched off on this instance: ask its admin to allow the host instead.",
                    size="2",
                    id="private-hosts-off",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        id="private-hosts",
    )
