"""The Triggers section of the agent page: webhook URLs that start this agent. Layout only."""

from __future__ import annotations

import reflex as rx

from pages.components import confirm_dialog, error_callout, field
from state.webhooks import WebhooksState

CAN_WRITE = WebhooksState.permissions.contains("agents.write")


def _copy_line(label: str, value: rx.Var, id_: str) -> rx.Component:
    return rx.cond(
        value != "",
        rx.vstack(
            rx.text(label, weight="bold", size="2"),
            rx.hstack(
                rx.code(value, id=id_, word_break="break-all"),
                rx.icon_button(
                    rx.icon("copy", size=14),
                    size="1",
                    variant="soft",
                    on_click=rx.set_clipboard(value),
                    id=f"{id_}-copy",
                ),
                align="center",
            ),
            spacing="1",
        ),
    )


def _shown_once() -> rx.Component:
    return rx.cond(
        (WebhooksState.shown_url != "") | (WebhooksState.shown_secret != ""),
        rx.callout(
            rx.vstack(
                rx.text("Shown only once: copy them now.", size="2"),
                _copy_line("URL (POST JSON to it)", WebhooksState.shown_url, "trigger-url"),
                _copy_line("Signing secret", WebhooksState.shown_secret, "trigger-secret"),
                rx.text(
                    "Sign with X-Timestamp (Unix seconds) and X-Signature: sha256=<hex "
                    "HMAC-SHA256 of '<timestamp>.<body>'>. Add ?wait=N to get the answer.",
                    size="1",
                    color_scheme="gray",
                ),
                rx.button(
                    "Done, hide it",
                    size="1",
                    variant="soft",
                    on_click=WebhooksState.forget_shown,
                    id="trigger-shown-dismiss",
                ),
                spacing="2",
            ),
            icon="key-round",
            color_scheme="green",
            width="100%",
        ),
    )


def _create_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            field("Name", "trigger_name", WebhooksState.field_errors, placeholder="Shop orders"),
            field(
                "Message (a payload path or a template)",
                "message_mapping",
                WebhooksState.field_errors,
                placeholder="New order {{payload.order.id}} — empty: the whole payload",
            ),
            rx.text("Variables (name = payload.path, one per line)", size="2", weight="medium"),
            rx.text_area(name="variables", id="variables", placeholder="email = payload.email"),
            rx.hstack(
                field(
                    "Calls a minute",
                    "rate_limit_per_minute",
                    WebhooksState.field_errors,
                    type_="number",
                ),
                field(
                    "Longest wait (s)",
                    "max_wait_seconds",
                    WebhooksState.field_errors,
                    type_="number",
                ),
                width="100%",
            ),
            rx.hstack(
                rx.checkbox(name="require_signature", id="require_signature", default_checked=True),
                rx.text("Require an HMAC signature", size="2"),
                align="center",
            ),
            rx.hstack(
                rx.button("Create trigger", type="submit", id="create-trigger-submit"),
                rx.button(
                    "Cancel",
                    variant="soft",
                    type="button",
                    on_click=WebhooksState.set_creating(False),
                ),
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=WebhooksState.create,
        reset_on_submit=False,
        id="create-trigger-form",
        width="100%",
    )


def _row(t: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(t["name"], weight="medium", size="2"),
            rx.text(t["hint"], " · ", t["signed"], " · ", t["limits"], size="1"),
            rx.text("Last called: ", t["last_called"], size="1", color_scheme="gray"),
            spacing="0",
            flex="1",
            min_width="0",
        ),
        rx.cond(
            CAN_WRITE,
            rx.hstack(
                rx.switch(
                    checked=t["enabled"] == "yes",
                    on_change=lambda on: WebhooksState.set_enabled(t["id"], on),
                    class_name="trigger-enabled",
                ),
                rx.button(
                    "Rotate",
                    size="1",
                    variant="soft",
                    on_click=WebhooksState.rotate(t["id"]),
                    class_name="trigger-rotate",
                ),
                confirm_dialog(
                    rx.icon_button(rx.icon("trash-2", size=14), size="1", variant="soft"),
                    "Delete this trigger?",
                    "Calls to its URL will be refused. Its runs stay.",
                    WebhooksState.delete(t["id"]),
                    confirm_id="trigger-delete-confirm",
                ),
                align="center",
            ),
            rx.badge(rx.cond(t["enabled"] == "yes", "enabled", "disabled")),
        ),
        width="100%",
        align="center",
        padding="8px",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="8px",
        class_name="trigger-row",
    )


def triggers_section() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading("Triggers", size="3"),
            rx.spacer(),
            rx.cond(
                CAN_WRITE & ~WebhooksState.creating,
                rx.button(
                    rx.icon("webhook", size=14),
                    "New webhook",
                    size="2",
                    variant="soft",
                    on_click=WebhooksState.set_creating(True),
                    id="new-trigger",
                ),
            ),
            width="100%",
            align="center",
        ),
        error_callout(WebhooksState.error, id_="trigger-error"),
        _shown_once(),
        rx.cond(WebhooksState.creating, _create_form()),
        rx.cond(
            WebhooksState.triggers.length() == 0,
            rx.text("No webhook triggers yet.", size="2", color_scheme="gray"),
            rx.vstack(
                rx.foreach(WebhooksState.triggers, _row), spacing="2", width="100%", id="triggers"
            ),
        ),
        rx.cond(
            WebhooksState.deliveries.length() > 0,
            rx.vstack(
                rx.text("Recent deliveries", weight="medium", size="2"),
                rx.foreach(
                    WebhooksState.deliveries,
                    lambda d: rx.link(
                        rx.hstack(
                            rx.badge(d["status"]),
                            rx.text(d["trigger"], size="1"),
                            rx.text(d["when"], size="1", color_scheme="gray"),
                        ),
                        href="/run?id=" + d["run_id"],
                        class_name="trigger-delivery",
                    ),
                ),
                spacing="1",
                id="trigger-deliveries",
            ),
        ),
        spacing="3",
        width="100%",
        id="triggers-section",
    )
