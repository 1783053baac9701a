"""Parts of a listing's page: what it needs, the tests behind the badge, versions and
changelog (with the seller's "new version"), reporting the listing. Layout only."""

from __future__ import annotations

from functools import partial

import reflex as rx

from pages.marketplace_fields import listing_field, send_row
from state.base import SessionState
from state.marketplace_listing import IMAGE_UPLOAD, ListingState


def report_listing() -> rx.Component:
    return rx.cond(
        SessionState.signed_in & ~ListingState.is_seller,
        rx.vstack(
            rx.button(
                "Report this listing",
                variant="ghost",
                size="1",
                color_scheme="gray",
                on_click=ListingState.open_report("listing"),
                id="listing-report",
            ),
            rx.cond(
                ListingState.report_review == "listing",
                send_row(
                    "report_reason",
                    "What is wrong with it?",
                    "listing-report-reason",
                    ("Send report", ListingState.send_report),
                ),
            ),
            width="100%",
        ),
    )


def needs() -> rx.Component:
    return rx.vstack(
        rx.heading("What it needs", size="4"),
        rx.text(
            "Models: ",
            rx.foreach(ListingState.needs_models, lambda m: rx.code(m, margin_right="6px")),
            size="2",
        ),  # noqa: E501
        rx.cond(
            ListingState.needs_integrations.length() > 0,
            rx.text(
                "Integrations: ",
                rx.foreach(
                    ListingState.needs_integrations, lambda i: rx.code(i, margin_right="6px")
                ),
                size="2",
            ),  # noqa: E501
            rx.text("No integrations.", size="2", color_scheme="gray"),
        ),
        rx.cond(
            ListingState.placeholders.length() > 0,
            rx.callout(
                rx.vstack(
                    rx.text("Set these up on your copy's page:", weight="bold"),
                    rx.foreach(ListingState.placeholders, lambda p: rx.text("• ", p)),
                ),
                id="listing-placeholders",
            ),
        ),
        spacing="2",
        width="100%",
    )


def badge() -> rx.Component:
    return rx.vstack(
        rx.heading("Tests", size="4"),
        rx.cond(
            ListingState.badge["verified"] != "",
            rx.badge(
                rx.icon("badge-check", size=14),
                "Verified",
                color_scheme="green",
                size="2",
                id="listing-verified",
            ),  # noqa: E501
            rx.text("Not verified.", size="2", color_scheme="gray"),
        ),
        rx.text(ListingState.badge["basis"], size="1", color_scheme="gray", id="listing-basis"),
        rx.foreach(
            ListingState.scores,
            lambda s: rx.text(
                s["suite"], ": ", s["status"], " ", s["score"], " — ", s["cases"], size="2"
            ),  # noqa: E501
        ),
        rx.foreach(
            ListingState.badge_reasons, lambda r: rx.text("• ", r, size="1", color_scheme="gray")
        ),
        spacing="1",
        width="100%",
    )


def versions() -> rx.Component:
    return rx.vstack(
        rx.heading("Versions", size="4"),
        rx.foreach(
            ListingState.versions,
            lambda v: rx.box(
                rx.text("Version ", v["version"], " · ", v["when"], weight="bold", size="2"),
                rx.text(v["changelog"], size="2", white_space="pre-wrap"),
            ),
        ),
        rx.cond(
            ListingState.is_seller,
            rx.vstack(
                rx.text_area(
                    placeholder="What changed (shown to everyone who installed)",
                    value=ListingState.changelog,
                    on_change=lambda v: ListingState.set_value("changelog", v),
                    id="listing-changelog",
                    width="100%",
                ),  # noqa: E501
                rx.button(
                    "List the agent's current version",
                    on_click=ListingState.add_version,
                    id="listing-add-version",
                    variant="soft",
                ),  # noqa: E501
                width="100%",
            ),
        ),
        spacing="2",
        width="100%",
    )


def images() -> rx.Component:
    """Screenshots for everyone; for the seller, an upload zone for the icon and screenshots
    (PNG, JPEG, WebP or GIF, up to 2 MB; the server checks the bytes, not the name)."""
    gallery = rx.flex(
        rx.foreach(
            ListingState.screenshots,
            lambda url: rx.image(src=url, max_width="100%", width="360px", border_radius="8px"),
        ),
        wrap="wrap",
        gap="8px",
        id="listing-screenshots",
    )
    uploader = rx.vstack(
        rx.upload(
            rx.text(
                "Drop an image here or click to choose (PNG, JPEG, WebP, GIF ≤ 2 MB)", size="2"
            ),
            id=IMAGE_UPLOAD,
            accept={
                "image/png": [".png"],
                "image/jpeg": [".jpg", ".jpeg"],
                "image/webp": [".webp"],
                "image/gif": [".gif"],
            },  # noqa: E501
            max_files=1,
            padding="16px",
            width="100%",
            border=f"1px dashed {rx.color('gray', 7)}",
            border_radius="12px",
            cursor="pointer",
        ),
        rx.hstack(
            rx.button(
                "Set as icon",
                variant="soft",
                on_click=ListingState.upload_icon(rx.upload_files(upload_id=IMAGE_UPLOAD)),
                id="listing-set-icon",
            ),
            rx.button(
                "Add as screenshot",
                variant="soft",
                on_click=ListingState.upload_screenshot(rx.upload_files(upload_id=IMAGE_UPLOAD)),
                id="listing-add-screenshot",
            ),
            wrap="wrap",
        ),
        width="100%",
    )
    return rx.vstack(
        rx.cond(ListingState.screenshots.length() > 0, gallery),
        rx.cond(ListingState.is_seller, uploader),
        width="100%",
    )


# A text field of the seller's edit form.
_edit_input = partial(
    listing_field,
    values=ListingState.edit_form,
    set_value=ListingState.set_edit_field,
    errors=ListingState.edit_errors,
    prefix="edit",
)


def edit_dialog() -> rx.Component:
    """The seller's edit of the listing's text, category, tags and price."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Edit listing"),
            rx.vstack(
                rx.cond(
                    ListingState.edit_errors.contains("form"),
                    rx.callout(ListingState.edit_errors["form"], color_scheme="red"),
                ),
                _edit_input("Title", "title"),
                _edit_input("Summary", "summary"),
                _edit_input("Description (Markdown)", "description", multiline=True, rows="6"),
                _edit_input("Category", "category"),
                _edit_input("Tags (comma separated)", "tags"),
                _edit_input("Price in US dollars (0 = free)", "price"),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button("Save", on_click=ListingState.save_listing, id="edit-save"),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="560px",
        ),
        open=ListingState.editing,
        on_open_change=ListingState.set_editing,
    )
