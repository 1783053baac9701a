"""Integrations: connections, their health, connecting and approvals (layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import confirm_dialog, data_table, empty_state, error_callout, field, shell
from state.integrations import IntegrationsState


def _status(c: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.match(
            c["status"],
            ("active", rx.badge("Active", color_scheme="green")),
            ("pending", rx.badge("Sign-in pending", color_scheme="amber")),
            ("revoked", rx.badge("Revoked", color_scheme="gray")),
            rx.badge("Error", color_scheme="red"),
        ),
        rx.cond(
            c["last_error"] != "",
            rx.text(c["last_error"], size="1", color_scheme="red", max_width="280px"),
        ),
        rx.cond(c["expiry"] != "", rx.text(c["expiry"], size="1", color_scheme="gray")),
        rx.cond(
            c["checked"] != "", rx.text("checked " + c["checked"], size="1", color_scheme="gray")
        ),
        spacing="1",
        id=f"conn-status-{c['name']}",
    )


def _remove_button(c: rx.Var) -> rx.Component:
    return confirm_dialog(
        rx.button(
            "Remove", color_scheme="red", variant="soft", size="1", id=f"conn-remove-{c['name']}"
        ),
        "Remove connection",
        rx.fragment(
            "Remove ",
            rx.code(c["name"]),
            "? Its access is revoked at the provider where possible, and agents granted "
            "its actions get a clear error until you grant another connection.",
        ),
        IntegrationsState.remove(c["id"]),
        confirm_id="conn-remove-confirm",
        confirm_label="Remove",
    )


def _builders_may_use(c: rx.Var) -> rx.Component:
    """Who may give agents this connection: admins always; builders when an admin says so."""
    return rx.cond(
        IntegrationsState.is_admin,
        rx.text(
            rx.hstack(
                rx.switch(
                    checked=c["builders"] != "",
                    on_change=lambda on: IntegrationsState.set_builders_may_use(c["id"], on),
                    size="1",
                    id=f"conn-builders-{c['name']}",
                ),
                "Builders may grant it",
                spacing="1",
                align="center",
            ),
            as_="label",
            size="1",
            color_scheme="gray",
        ),
        rx.cond(
            c["builders"] != "",
            rx.text("Builders may grant it", size="1", color_scheme="gray"),
            rx.text("Only admins grant it", size="1", color_scheme="gray"),
        ),
    )


def _row(c: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(c["name"], weight="medium"),
            rx.text(c["provider_label"], size="1", color_scheme="gray"),
            rx.cond(c["account"] != "", rx.text(c["account"], size="1")),
            _builders_may_use(c),
        ),
        rx.table.cell(_status(c)),
        rx.table.cell(rx.text(c["scopes"], size="1", word_break="break-all", max_width="240px")),
        rx.table.cell(rx.text(c["last_used"], size="2")),
        rx.table.cell(
            rx.cond(
                IntegrationsState.is_admin,
                rx.hstack(
                    rx.button(
                        "Test",
                        size="1",
                        variant="soft",
                        loading=IntegrationsState.busy_id == c["id"],
                        disabled=IntegrationsState.busy_id != "",
                        on_click=IntegrationsState.test(c["id"]),
                        id=f"conn-test-{c['name']}",
                    ),
                    rx.cond(
                        c["oauth"] != "",
                        rx.button(
                            "Reconnect",
                            size="1",
                            variant="soft",
                            on_click=IntegrationsState.reconnect(c["id"]),
                            id=f"conn-reconnect-{c['name']}",
                        ),
                    ),
                    _remove_button(c),
                    spacing="2",
                    wrap="wrap",
                ),
            )
        ),
        id=f"conn-row-{c['name']}",
    )


def connections_table() -> rx.Component:
    headers = ["Connection", "Health", "Scopes", "Last used", ""]
    return data_table(headers, IntegrationsState.connections, _row, id_="connections-table")


def _provider_card(p: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(p["label"], weight="medium"),
            rx.text(p["actions"], size="1", color_scheme="gray"),
            rx.cond(
                p["ready"] != "",
                rx.button(
                    "Connect",
                    size="2",
                    on_click=IntegrationsState.connect(p["key"]),
                    disabled=~IntegrationsState.is_admin,
                    id=f"connect-{p['key']}",
                ),
                rx.text(
                    "Not set up on this instance (the administrator sets its OAuth app).",
                    size="1",
                    color_scheme="amber",
                ),
            ),
            spacing="2",
        ),
        width="240px",
    )


def _approval(a: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.badge("waiting", color_scheme="amber"),
                rx.text(a["action"], weight="medium"),
                rx.text("on ", a["connection"], size="2", color_scheme="gray"),
                wrap="wrap",
            ),
            rx.code_block(a["arguments"], language="json", width="100%"),
            rx.hstack(
                rx.link("Open the run", href="/run?id=" + a["run_id"], size="2"),
                rx.text("expires " + a["expires"], size="1", color_scheme="gray"),
                rx.spacer(),
                rx.button(
                    "Decline",
                    color_scheme="red",
                    variant="soft",
                    on_click=IntegrationsState.decide(a["id"], False),
                    id=f"deny-{a['id']}",
                ),
                rx.button(
                    "Approve",
                    on_click=IntegrationsState.decide(a["id"], True),
                    id=f"approve-{a['id']}",
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="approval-card",
    )


def _connection_form() -> rx.Component:
    errors = IntegrationsState.field_errors
    http = rx.vstack(
        rx.text("Authentication", as_="label", size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(id="conn_auth", width="100%"),
            rx.select.content(
                rx.select.item("Bearer token", value="bearer"),
                rx.select.item("API key header", value="api_key"),
                rx.select.item("Basic auth", value="basic"),
            ),
            value=IntegrationsState.form_auth,
            on_change=IntegrationsState.set_form_auth,
        ),
        rx.match(
            IntegrationsState.form_auth,
            ("bearer", field("Token", "conn_token", errors, type_="password")),
            (
                "api_key",
                rx.vstack(
                    field("Header name", "conn_header_name", errors, placeholder="X-API-Key"),
                    field("API key", "conn_api_key", errors, type_="password"),
                    width="100%",
                ),
            ),
            rx.vstack(
                field("Username", "conn_username", errors),
                field("Password", "conn_password", errors, type_="password"),
                width="100%",
            ),
        ),
        width="100%",
    )
    custom = rx.vstack(
        field("Authorize URL", "conn_authorize_url", errors, placeholder="https://…/authorize"),
        field("Token URL", "conn_token_url", errors, placeholder="https://…/token"),
        field("Revoke URL (optional)", "conn_revoke_url", errors),
        field("Client id", "conn_client_id", errors),
        field("Client secret", "conn_client_secret", errors, type_="password"),
        field("Scopes (space-separated)", "conn_scopes", errors),
        width="100%",
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.cond(
                    IntegrationsState.form_provider == "oauth2",
                    "Connect an OAuth 2.0 API",
                    "Connect an HTTP API",
                )
            ),
            rx.dialog.description(
                "Credentials are stored in the secret store; agents never see them.",
                size="2",
                color_scheme="gray",
            ),
            rx.form(
                rx.vstack(
                    field("Name", "conn_name", errors, placeholder="billing-api"),
                    field(
                        "Base URL", "conn_base_url", errors, placeholder="https://api.example.com"
                    ),
                    rx.cond(IntegrationsState.form_provider == "oauth2", custom, http),
                    error_callout(IntegrationsState.error, id_="conn-form-error"),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", type="button")),
                        rx.button(
                            rx.cond(
                                IntegrationsState.form_provider == "oauth2",
                                "Save and sign in",
                                "Save",
                            ),
                            type="submit",
                            id="conn-save",
                        ),
                        justify="end",
                        spacing="3",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=IntegrationsState.save,
                reset_on_submit=False,
            ),
            max_width="520px",
        ),
        open=IntegrationsState.form_open,
        on_open_change=IntegrationsState.set_form_open,
    )


def integrations_content() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Connect a service once; agents use only the actions you grant them in the agent "
            "editor, through a proxy that adds the credential. No agent, prompt, log or trace "
            "ever contains it.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            ~IntegrationsState.form_open,
            error_callout(IntegrationsState.error, id_="integrations-error"),
        ),
        rx.cond(
            IntegrationsState.finishing,
            rx.callout(
                "Finishing the sign-in…", icon="loader", color_scheme="blue", id="finishing"
            ),
        ),
        rx.cond(
            IntegrationsState.approvals.length() > 0,
            rx.vstack(
                rx.hstack(
                    rx.heading("Waiting for approval", size="4"),
                    rx.button(
                        "Refresh", size="1", variant="soft", on_click=IntegrationsState.refresh
                    ),
                    align="center",
                ),
                rx.foreach(IntegrationsState.approvals, _approval),
                width="100%",
                id="approvals",
            ),
        ),
        rx.heading("Connections", size="4"),
        rx.cond(
            IntegrationsState.loading,
            rx.center(rx.spinner(size="3"), padding="32px", width="100%"),
            rx.cond(
                IntegrationsState.connections.length() == 0,
                empty_state(
                    "plug",
                    "No connections yet",
                    "Connect Slack, Google, GitHub, LinkedIn or any HTTP API below.",
                ),
                connections_table(),
            ),
        ),
        rx.heading("Connect", size="4"),
        rx.cond(
            ~IntegrationsState.is_admin,
            rx.text("Only owners and admins can add connections.", size="2", color_scheme="gray"),
        ),
        rx.flex(
            rx.foreach(IntegrationsState.catalog, _provider_card),
            spacing="3",
            wrap="wrap",
            width="100%",
        ),
        _connection_form(),
        spacing="4",
        width="100%",
    )


def integrations_page() -> rx.Component:
    return shell(integrations_content(), title="Integrations")
