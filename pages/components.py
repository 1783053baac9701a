"""Reusable layout pieces: the app shell with navigation, form fields with inline errors."""

from __future__ import annotations

from typing import Any

import reflex as rx

from state.base import SessionState

NAV = [
    ("Dashboard", "/", "layout-dashboard"),
    ("Agents", "/agents", "bot"),
    ("Runs", "/runs", "list"),
    ("Knowledge", "/knowledge", "book-open"),
    ("Marketplace", "/marketplace", "store"),
    ("Integrations", "/integrations", "plug"),
    ("Tests", "/tests", "flask-conical"),
    ("Schedules", "/schedules", "calendar-clock"),
    ("Usage", "/usage", "gauge"),
    ("Billing", "/billing", "credit-card"),
    ("Settings", "/settings", "settings"),
]


def nav_link(label: str, href: str, icon: str) -> rx.Component:
    active = SessionState.router.url.path == href
    return rx.link(
        rx.hstack(rx.icon(icon, size=18), rx.text(label, size="3"), align="center", spacing="3"),
        href=href,
        id=f"nav-{label.lower()}",
        underline="none",
        padding_x="12px",
        padding_y="8px",
        border_radius="8px",
        width="100%",
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 12)),
        background=rx.cond(active, rx.color("accent", 3), "transparent"),
        _hover={"background": rx.color("gray", 3)},
    )


def org_switcher() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder="Organization", width="100%", id="org-switcher"),
        rx.select.content(
            rx.foreach(
                SessionState.orgs,
                lambda o: rx.select.item(o["name"], value=o["id"]),
            )
        ),
        value=SessionState.org_id,
        on_change=SessionState.switch_org,
    )


def color_mode_toggle(id_: str) -> rx.Component:
    """Light or dark, remembered by the browser (Reflex keeps the choice in localStorage)."""
    return rx.button(
        rx.color_mode_cond(rx.icon("moon", size=16), rx.icon("sun", size=16)),
        rx.color_mode_cond("Dark mode", "Light mode"),
        variant="ghost",
        size="2",
        on_click=rx.toggle_color_mode,
        id=id_,
        aria_label="Switch between light and dark mode",
    )


def user_box() -> rx.Component:
    return rx.vstack(
        rx.text(SessionState.user_name, weight="bold", size="2", id="current-user-name"),
        rx.text(SessionState.user_email, size="1", color_scheme="gray"),
        rx.badge(SessionState.role, id="current-role"),
        color_mode_toggle("color-mode-toggle"),
        rx.button(
            rx.icon("log-out", size=16),
            "Log out",
            variant="soft",
            size="2",
            on_click=SessionState.logout,
            id="logout-button",
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def sidebar() -> rx.Component:
    return rx.vstack(
        rx.heading("Agent Platform", size="5", padding_x="12px"),
        org_switcher(),
        rx.vstack(*[nav_link(*item) for item in NAV], spacing="1", width="100%"),
        rx.cond(SessionState.is_instance_admin, nav_link("Admin", "/admin", "shield")),
        rx.spacer(),
        user_box(),
        width="240px",
        min_width="240px",
        height="100vh",
        padding="16px",
        border_right=f"1px solid {rx.color('gray', 5)}",
        display=["none", "none", "flex"],
        position="sticky",
        top="0",
    )


def mobile_bar() -> rx.Component:
    return rx.hstack(
        rx.heading("Agent Platform", size="4"),
        rx.spacer(),
        rx.box(org_switcher(), max_width="45vw"),
        rx.menu.root(
            rx.menu.trigger(rx.icon_button(rx.icon("menu"), variant="soft", id="mobile-menu")),
            rx.menu.content(
                *[rx.menu.item(label, on_click=rx.redirect(href)) for label, href, _ in NAV],
                rx.menu.separator(),
                rx.menu.item(
                    rx.color_mode_cond("Dark mode", "Light mode"),
                    on_click=rx.toggle_color_mode,
                    id="mobile-color-mode",
                ),
                rx.menu.item("Log out", on_click=SessionState.logout),
            ),
        ),
        padding="12px",
        width="100%",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        display=["flex", "flex", "none"],
    )


def loading_screen() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh", id="loading")


def shell(*content: rx.Component, title: str) -> rx.Component:
    """The signed-in frame around every app page; shows a spinner until the session is known."""
    return rx.cond(
        SessionState.signed_in,
        rx.flex(
            sidebar(),
            rx.box(
                mobile_bar(),
                rx.box(
                    rx.heading(title, size="7", margin_bottom="16px", id="page-title"),
                    *content,
                    padding=["16px", "24px", "32px"],
                    max_width="1200px",
                ),
                flex="1",
                min_width="0",
            ),
            width="100%",
        ),
        loading_screen(),
    )


def field(
    label: str,
    name: str,
    errors: rx.Var,
    *,
    type_: str = "text",
    placeholder: str = "",
    auto_complete: str = "",
    suggestions: str = "",
) -> rx.Component:
    """`suggestions`: the id of a <datalist> whose options the field offers as you type."""
    error = errors[name].to(str)
    return rx.vstack(
        rx.text(label, as_="label", size="2", weight="medium", html_for=name),
        rx.input(
            name=name,
            id=name,
            type=type_,
            placeholder=placeholder,
            auto_complete=auto_complete or None,
            width="100%",
            size="3",
            color_scheme=rx.cond(errors.contains(name), "red", "gray"),
            custom_attrs={"list": suggestions} if suggestions else {},
        ),
        rx.cond(
            errors.contains(name),
            rx.text(error, color_scheme="red", size="1", id=f"{name}-error"),
        ),
        spacing="1",
        width="100%",
    )


def error_callout(message: rx.Var, *, id_: str = "form-error") -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(message, icon="triangle-alert", color_scheme="red", role="alert", id=id_),
    )


def empty_state(icon: str, title: str, body: str) -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=40, color=rx.color("gray", 9)),
            rx.heading(title, size="4"),
            rx.text(body, color_scheme="gray", text_align="center", max_width="420px"),
            align="center",
            spacing="3",
        ),
        padding="64px 16px",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="12px",
        width="100%",
    )


def confirm_dialog(
    trigger: rx.Component,
    title: str,
    body: rx.Component | str,
    on_confirm: Any,
    *,
    confirm_id: str,
    confirm_label: str = "Delete",
) -> rx.Component:
    """A destructive action behind a trigger: it happens only after an explicit confirm."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(body),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft")),
                rx.alert_dialog.action(
                    rx.button(confirm_label, color_scheme="red", on_click=on_confirm, id=confirm_id)
                ),
                justify="end",
                spacing="3",
                margin_top="16px",
            ),
        ),
    )


PHONE = "@media (max-width: 767px)"


def _cards_at_phone_width(headers: list[str]) -> dict[str, Any]:
    """At phone width every row becomes a card and every cell a labelled block (the label is
    the column header, drawn by CSS), so no button is pushed off screen by a wide table and
    the callers' row functions stay plain table rows."""
    labels = {
        f"& tbody > tr > *:nth-child({i})::before": {
            "content": '"' + h.replace('"', "") + '"',
            "display": "block",
            "font_size": "12px",
            "color": rx.color("gray", 11),
        }
        for i, h in enumerate(headers, start=1)
        if h
    }
    return {
        PHONE: {
            "border": "none",
            "box_shadow": "none",
            "background": "transparent",
            # Radix gives the table `height: 0` (a table grows anyway; a block does not) and,
            # in the surface variant, `overflow: hidden`: both would hide every card.
            "& table, & tbody, & tbody > tr": {
                "display": "block",
                "width": "100%",
                "height": "auto",
                "overflow": "visible",
                "box_sizing": "border-box",
            },
            "& thead": {"display": "none"},
            "& tbody > tr": {
                "border": f"1px solid {rx.color('gray', 6)}",
                "border_radius": "8px",
                "padding": "8px 12px",
                "margin_bottom": "8px",
            },
            "& tbody > tr > *": {
                "display": "block",
                "height": "auto",  # Radix's min row height would fix a block's height
                "box_shadow": "none",
                "padding": "4px 0",
                "max_width": "none",
                "overflow_wrap": "anywhere",
            },
            **labels,
        }
    }


def data_table(
    headers: list[str], rows: rx.Var, render, *, id_: str, size: str = "2"
) -> rx.Component:
    """The one table of the app: scrolls sideways inside itself at medium widths and turns
    into a list of cards at phone width, never widening the page."""
    return rx.box(
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(rows, render)),
            width="100%",
            variant="surface",
            size=size,
            id=id_,
            style=_cards_at_phone_width(headers),
        ),
        overflow_x="auto",
        width="100%",
        max_width="100%",
    )
