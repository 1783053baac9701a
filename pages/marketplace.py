"""The Marketplace page: search, filters, sorts, cards, paging; publish; the admin's queue.
Layout only. Works signed out: a plain top bar instead of the app's shell."""

from __future__ import annotations

import reflex as rx

from pages.components import empty_state, error_callout, shell
from pages.marketplace_forms import (
    installed_listings,
    moderation_panel,
    my_listings,
    publish_dialog,
)
from state.base import SessionState
from state.marketplace import CATEGORY_OPTIONS, PRICES, RATINGS, SORTS, MarketplaceState


def public_frame(*content: rx.Component, title: str) -> rx.Component:
    """The app's shell when signed in; a top bar with "Sign in" for visitors."""
    visitor = rx.box(
        rx.hstack(
            rx.link(rx.heading("Agent Platform", size="4"), href="/marketplace"),
            rx.spacer(),
            rx.link(rx.button("Sign in", variant="soft"), href="/login?next=/marketplace"),
            padding="12px",
            border_bottom=f"1px solid {rx.color('gray', 5)}",
            width="100%",
        ),
        rx.box(
            rx.heading(title, size="7", margin_bottom="16px", id="page-title"),
            *content,
            padding=["16px", "24px", "32px"],
            max_width="1200px",
        ),
        width="100%",
    )
    return rx.cond(
        SessionState.signed_in,
        shell(*content, title=title),
        rx.cond(MarketplaceState.checked, visitor),
    )


def _select(name: str, options: dict[str, str], value: rx.Var, label: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label=label, id=f"market-{name}"),
        rx.select.content(*[rx.select.item(text, value=key) for key, text in options.items()]),
        value=value,
        on_change=lambda v: MarketplaceState.set_filter(name, v),
    )


def _toolbar() -> rx.Component:
    return rx.flex(
        rx.form(
            rx.hstack(
                rx.input(
                    name="q",
                    placeholder="Search agents",
                    id="market-search",
                    default_value=MarketplaceState.search,
                    aria_label="Search the marketplace",
                ),
                rx.button(rx.icon("search", size=14), "Search", type="submit", variant="soft"),
            ),
            on_submit=MarketplaceState.apply_search,
            reset_on_submit=False,
        ),
        _select("category", CATEGORY_OPTIONS, MarketplaceState.category, "Category"),
        _select("price", PRICES, MarketplaceState.price, "Price"),
        _select("min_rating", RATINGS, MarketplaceState.min_rating, "Rating"),
        _select("sort", SORTS, MarketplaceState.sort, "Sort"),
        rx.checkbox(
            "Verified only",
            checked=MarketplaceState.verified,
            on_change=MarketplaceState.set_verified,
            id="market-verified",
        ),  # noqa: E501
        rx.cond(
            SessionState.signed_in,
            rx.button(
                "List an agent", on_click=MarketplaceState.open_publish, id="market-publish-open"
            ),
        ),
        gap="8px",
        wrap="wrap",
        align="center",
        margin_bottom="16px",
    )


def _card(c: rx.Var) -> rx.Component:
    return rx.link(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.cond(
                        c["icon"] != "",
                        rx.image(src=c["icon"], width="40px", height="40px", border_radius="8px"),
                        rx.icon("bot", size=32),
                    ),
                    rx.vstack(
                        rx.text(c["title"], weight="bold", class_name="market-card-title"),
                        rx.text(c["publisher"], size="1", color_scheme="gray"),
                        spacing="0",
                        min_width="0",
                    ),
                    rx.spacer(),
                    rx.cond(
                        c["verified"] != "",
                        rx.badge(rx.icon("badge-check", size=12), "Verified", color_scheme="green"),
                    ),
                    width="100%",
                ),
                rx.text(c["summary"], size="2", color_scheme="gray"),
                rx.hstack(
                    rx.badge(c["price"], variant="soft"),
                    rx.text("★ ", c["rating"], " (", c["reviews"], ")", size="1"),
                    rx.text(c["downloads"], " installs", size="1", color_scheme="gray"),
                    wrap="wrap",
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
            height="100%",
        ),
        href="/marketplace/listing?id=" + c["id"],
        underline="none",
        class_name="market-card",
        min_width="0",
    )


def _results() -> rx.Component:
    return rx.cond(
        MarketplaceState.loading,
        rx.center(rx.spinner(size="3"), padding="48px", id="market-loading"),
        rx.cond(
            MarketplaceState.error != "",
            error_callout(MarketplaceState.error, id_="market-error"),
            rx.cond(
                MarketplaceState.total == 0,
                empty_state("store", "No listings found", "Try other words or fewer filters."),
                rx.vstack(
                    rx.grid(
                        rx.foreach(MarketplaceState.cards, _card),
                        columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                        spacing="3",
                        width="100%",
                        id="market-cards",
                    ),
                    rx.hstack(
                        rx.button(
                            "Previous",
                            on_click=MarketplaceState.move(-1),
                            disabled=MarketplaceState.page <= 1,
                            variant="soft",
                        ),  # noqa: E501
                        rx.text(
                            "Page ",
                            MarketplaceState.page,
                            " of ",
                            MarketplaceState.pages,
                            " · ",
                            MarketplaceState.total_label,
                            size="2",
                        ),  # noqa: E501
                        rx.button(
                            "Next",
                            on_click=MarketplaceState.move(1),
                            disabled=MarketplaceState.page >= MarketplaceState.pages,
                            variant="soft",
                        ),  # noqa: E501
                        align="center",
                        wrap="wrap",
                    ),
                    width="100%",
                ),
            ),
        ),
    )


def marketplace_page() -> rx.Component:
    return public_frame(
        _toolbar(),
        _results(),
        installed_listings(),
        my_listings(),
        moderation_panel(),
        publish_dialog(),
        title="Marketplace",
    )
