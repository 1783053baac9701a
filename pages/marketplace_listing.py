"""A listing's page: what it does, what it needs, its versions, the badge's evidence, reviews;
install / update / review / reply / report / new version. Layout only."""

from __future__ import annotations

import reflex as rx

from pages.components import empty_state, error_callout
from pages.marketplace import public_frame
from pages.marketplace_listing_parts import (
    badge,
    edit_dialog,
    images,
    needs,
    report_listing,
    versions,
)
from pages.marketplace_reviews import reviews_section
from pages.marketplace_service import service_box
from state.base import SessionState
from state.marketplace_listing import ListingState


def _header() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.cond(
                ListingState.listing["icon"] != "",
                rx.image(
                    src=ListingState.listing["icon"],
                    width="56px",
                    height="56px",
                    border_radius="12px",
                ),
                rx.icon("bot", size=40),
            ),
            rx.vstack(
                rx.heading(ListingState.listing["title"], size="6", id="listing-title"),
                rx.text(
                    "by ",
                    ListingState.listing["publisher"],
                    " · ",
                    ListingState.listing["category"],
                    size="2",
                ),
                spacing="1",
                min_width="0",
            ),
            wrap="wrap",
        ),
        rx.text(ListingState.listing["summary"]),
        rx.hstack(
            rx.badge(ListingState.listing["price"], size="2", id="listing-price"),
            rx.badge(ListingState.listing["kind"], variant="soft"),
            rx.text(
                "★ ",
                ListingState.listing["rating"],
                " (",
                ListingState.listing["reviews"],
                " reviews)",
                size="2",
            ),
            rx.text(
                ListingState.listing["downloads"], " installs", size="2", id="listing-downloads"
            ),
            rx.cond(
                ListingState.listing["status"] != "live",
                rx.badge(
                    ListingState.listing["status"], color_scheme="orange", id="listing-status"
                ),
            ),  # noqa: E501
            wrap="wrap",
            align="center",
        ),
        rx.cond(
            ListingState.listing["note"] != "",
            rx.callout(ListingState.listing["note"], color_scheme="orange"),
        ),
        rx.cond(
            ListingState.sale_note != "",
            rx.callout(ListingState.sale_note, color_scheme="orange", id="listing-sale-note"),
        ),
        spacing="2",
        width="100%",
    )


def _actions() -> rx.Component:
    install = rx.cond(
        ListingState.installed_agent != "",
        rx.hstack(
            rx.link(
                rx.button("Open your copy", variant="soft"),
                href="/agent?id=" + ListingState.installed_agent,
                id="listing-open-copy",
            ),  # noqa: E501
            rx.cond(
                ListingState.update_available != "",
                rx.button(
                    "Update to version ",
                    ListingState.update_available,
                    on_click=ListingState.update_install,
                    id="listing-update",
                ),  # noqa: E501
            ),
            wrap="wrap",
        ),
        rx.cond(
            ListingState.listing["kind"] == "service",
            service_box(),
            rx.cond(
                (ListingState.listing["paid"] != "") & ~ListingState.licensed,
                rx.vstack(
                    rx.button(
                        "Buy for ",
                        ListingState.listing["price"],
                        on_click=ListingState.buy,
                        id="listing-buy",
                        size="3",
                    ),
                    rx.cond(
                        ListingState.purchase_note != "",
                        rx.callout(
                            ListingState.purchase_note, icon="info", id="listing-purchase-note"
                        ),
                    ),
                ),
                rx.button("Install", on_click=ListingState.install, id="listing-install", size="3"),
            ),
        ),
    )
    seller = rx.hstack(
        rx.button(
            "Edit listing",
            variant="soft",
            on_click=ListingState.set_editing(True),
            id="listing-edit",
        ),
        edit_dialog(),
    )
    return rx.cond(
        SessionState.signed_in,
        rx.cond(ListingState.is_seller, seller, install),
        rx.link(
            rx.button("Sign in to install"),
            href="/login?next=/marketplace/listing?id=" + ListingState.listing_id,
        ),  # noqa: E501
    )


def listing_page() -> rx.Component:
    body = rx.cond(
        ListingState.loading,
        rx.center(rx.spinner(size="3"), padding="48px"),
        rx.cond(
            ListingState.found,
            rx.vstack(
                _header(),
                _actions(),
                rx.box(
                    rx.html(ListingState.description_html),
                    class_name="listing-description",
                    width="100%",
                    id="listing-description-html",
                ),  # noqa: E501
                images(),
                needs(),
                badge(),
                versions(),
                reviews_section(),
                report_listing(),
                spacing="5",
                width="100%",
                max_width="820px",
            ),
            rx.vstack(
                error_callout(ListingState.error),
                empty_state(
                    "store",
                    "Listing not found",
                    "It may have been taken down, or it waits for approval.",
                ),
            ),  # noqa: E501
        ),
    )
    return public_frame(body, title="Marketplace")
