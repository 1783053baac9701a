"""The Marketplace page's panels: the publish dialog, the seller's listings, the instance
admin's moderation queue. Layout only."""

from __future__ import annotations

from functools import partial

import reflex as rx

from pages.components import error_callout
from pages.marketplace_fields import labelled_field, listing_field
from state.marketplace import CATEGORY_OPTIONS, MarketplaceState

CATEGORIES = {k: v for k, v in CATEGORY_OPTIONS.items() if k != "all"}


# A text field of the publish form (typing is sent after 300 ms of quiet).
_input = partial(
    listing_field,
    values=MarketplaceState.form,
    set_value=MarketplaceState.set_field,
    errors=MarketplaceState.field_errors,
    prefix="listing",
    debounce_timeout=300,
)


def _choice(label: str, name: str, options: rx.Var | dict[str, str]) -> rx.Component:
    items = (
        [rx.select.item(text, value=key) for key, text in options.items()]
        if isinstance(options, dict)
        else [rx.foreach(options, lambda o: rx.select.item(o["name"], value=o["id"]))]
    )
    return labelled_field(
        label,
        rx.select.root(
            rx.select.trigger(id=f"listing-{name}", width="100%", placeholder="Choose"),
            rx.select.content(*items),
            value=MarketplaceState.form[name],
            on_change=lambda v: MarketplaceState.set_field(name, v),
        ),
        field_id=f"listing-{name}",
    )


def _nothing_to_list() -> rx.Component:
    """Why the agent list is empty (no published agent yet), and where to publish one."""
    return rx.cond(
        MarketplaceState.nothing_to_list != "",
        rx.callout(
            rx.text(
                MarketplaceState.nothing_to_list,
                " ",
                rx.link("Open your agents", href="/agents", id="listing-agents-link"),
            ),
            icon="info",
            color_scheme="blue",
            id="listing-nothing-to-list",
        ),
    )


def publish_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("List an agent"),
            rx.dialog.description(
                "A published agent's current version becomes version 1 of the listing. "
                "Your organization's first listing waits for the instance admin.",
                size="2",
            ),
            rx.vstack(
                error_callout(MarketplaceState.form_error, id_="listing-error"),
                _nothing_to_list(),
                _choice("Published agent", "agent_id", MarketplaceState.agent_options),
                _input("Title", "title"),
                _input("Summary (one line)", "summary"),
                _input("Description (Markdown)", "description", multiline=True, rows="6"),
                _choice("Category", "category", CATEGORIES),
                _input("Tags (comma separated)", "tags"),
                _input("Price in US dollars (0 = free)", "price"),
                _choice(
                    "Kind",
                    "kind",
                    {"template": "Template: buyers get a copy", "service": "Service (billing)"},
                ),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button(
                        "List it",
                        on_click=MarketplaceState.publish,
                        disabled=MarketplaceState.agent_options.length() == 0,
                        id="listing-submit",
                    ),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="560px",
        ),
        open=MarketplaceState.publishing,
        on_open_change=MarketplaceState.set_publishing,
    )


def my_listings() -> rx.Component:
    return rx.cond(
        MarketplaceState.mine.length() > 0,
        rx.vstack(
            rx.heading("Your listings", size="4"),
            rx.foreach(
                MarketplaceState.mine,
                lambda m: rx.hstack(
                    rx.link(m["title"], href="/marketplace/listing?id=" + m["id"]),
                    rx.badge(m["status"]),
                ),
            ),
            margin_top="32px",
            id="market-mine",
        ),
    )


def installed_listings() -> rx.Component:
    return rx.cond(
        MarketplaceState.installed.length() > 0,
        rx.vstack(
            rx.heading("Installed", size="4"),
            rx.foreach(
                MarketplaceState.installed,
                lambda i: rx.hstack(
                    rx.link(i["title"], href="/marketplace/listing?id=" + i["id"]),
                    rx.text("version ", i["version"], size="2", color_scheme="gray"),
                    rx.cond(
                        i["update"] != "",
                        rx.badge("Update available: version ", i["update"], color_scheme="blue"),
                    ),
                    wrap="wrap",
                ),
            ),
            margin_top="32px",
            id="market-installed",
        ),
    )


def _pending(p: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.link(p["title"], href="/marketplace/listing?id=" + p["id"]),
        rx.text("by ", p["publisher"], size="2", color_scheme="gray"),
        rx.button(
            "Approve",
            size="1",
            on_click=MarketplaceState.approve(p["id"]),
            class_name="market-approve",
        ),
        rx.button(
            "Take down",
            size="1",
            color_scheme="red",
            variant="soft",
            on_click=MarketplaceState.take_down(p["id"]),
        ),  # noqa: E501
        wrap="wrap",
        align="center",
    )


def _report(r: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.link(r["listing"], href="/marketplace/listing?id=" + r["listing_id"]),
            rx.text("reported by ", r["by"], ": ", r["reason"], size="2"),
            wrap="wrap",
        ),
        rx.cond(r["review"] != "", rx.text("Review: ", r["review"], size="1", color_scheme="gray")),
        rx.hstack(
            rx.button(
                "Dismiss",
                size="1",
                variant="soft",
                on_click=MarketplaceState.resolve(r["id"], "dismiss"),
            ),
            rx.cond(
                r["review"] != "",
                rx.button(
                    "Hide review",
                    size="1",
                    on_click=MarketplaceState.resolve(r["id"], "hide_review"),
                ),
            ),
            rx.button(
                "Take listing down",
                size="1",
                color_scheme="red",
                variant="soft",
                on_click=MarketplaceState.resolve(r["id"], "take_down"),
            ),  # noqa: E501
            wrap="wrap",
        ),
        spacing="1",
    )


def moderation_panel() -> rx.Component:
    return rx.cond(
        MarketplaceState.is_instance_admin,
        rx.vstack(
            rx.heading("Moderation", size="4"),
            rx.text("Waiting for approval", weight="bold", size="2"),
            rx.cond(
                MarketplaceState.pending.length() > 0,
                rx.vstack(rx.foreach(MarketplaceState.pending, _pending), id="market-pending"),
                rx.text("Nothing waits.", size="2", color_scheme="gray"),
            ),
            rx.text("Reports", weight="bold", size="2"),
            rx.cond(
                MarketplaceState.reports.length() > 0,
                rx.vstack(rx.foreach(MarketplaceState.reports, _report), id="market-reports"),
                rx.text("No open reports.", size="2", color_scheme="gray"),
            ),
            margin_top="32px",
            padding="16px",
            border=f"1px solid {rx.color('gray', 6)}",
            border_radius="12px",
            width="100%",
            id="market-moderation",
        ),
    )
