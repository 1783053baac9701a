"""The reviews part of a listing's page: the list, the org's own review, replies, reports."""

from __future__ import annotations

import reflex as rx

from pages.marketplace_fields import send_row
from state.base import SessionState
from state.marketplace_listing import ListingState


def _review(r: rx.Var) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(r["stars"], color=rx.color("amber", 9)),
                rx.text(r["org"], weight="bold", size="2"),
                rx.text(r["when"], size="1", color_scheme="gray"),
                wrap="wrap",
            ),
            rx.text(r["body"], size="2", white_space="pre-wrap"),
            rx.cond(
                r["reply"] != "",
                rx.box(
                    rx.text("Seller: ", r["reply"], size="2"),
                    padding_left="12px",
                    border_left=f"2px solid {rx.color('gray', 6)}",
                ),  # noqa: E501
            ),
            rx.cond(
                SessionState.signed_in,
                rx.hstack(
                    rx.cond(
                        ListingState.is_seller,
                        rx.button(
                            "Reply",
                            size="1",
                            variant="ghost",
                            on_click=ListingState.open_reply(r["id"]),
                        ),
                    ),  # noqa: E501
                    rx.button(
                        "Report",
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        on_click=ListingState.open_report(r["id"]),
                    ),  # noqa: E501
                ),
            ),
            rx.cond(
                ListingState.reply_to == r["id"],
                send_row(
                    "reply_text",
                    "Your reply",
                    "review-reply-text",
                    ("Post", ListingState.send_reply),
                    button_id="review-reply-send",
                ),
            ),
            rx.cond(
                ListingState.report_review == r["id"],
                send_row(
                    "report_reason",
                    "What is wrong?",
                    "review-report-reason",
                    ("Send report", ListingState.send_report),
                    button_id="review-report-send",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def _form() -> rx.Component:
    return rx.cond(
        SessionState.signed_in & (ListingState.installed_agent != "") & ~ListingState.is_seller,
        rx.vstack(
            rx.text("Your organization's review", weight="bold", size="2"),
            rx.select.root(
                rx.select.trigger(id="review-rating", aria_label="Rating"),
                rx.select.content(
                    *[rx.select.item("★" * n, value=str(n)) for n in range(5, 0, -1)]
                ),  # noqa: E501
                value=ListingState.rating_input,
                on_change=lambda v: ListingState.set_value("rating_input", v),
            ),
            rx.text_area(
                value=ListingState.review_body,
                on_change=lambda v: ListingState.set_value("review_body", v),
                placeholder="What did it do for you?",
                id="review-body",
                width="100%",
            ),  # noqa: E501
            rx.button("Save review", on_click=ListingState.submit_review, id="review-submit"),
            width="100%",
        ),
    )


def reviews_section() -> rx.Component:
    return rx.vstack(
        rx.heading("Reviews", size="4"),
        _form(),
        rx.cond(
            ListingState.review_rows.length() > 0,
            rx.vstack(
                rx.foreach(ListingState.review_rows, _review), width="100%", id="listing-reviews"
            ),
            rx.text(
                "No reviews yet. Organizations that installed it can review it.",
                size="2",
                color_scheme="gray",
            ),  # noqa: E501
        ),
        spacing="3",
        width="100%",
    )
