"""Form pieces the marketplace's pages share: a labelled field (the publish dialog and the
seller's edit dialog), and the one-line "type, then send" row (a reply to a review, a report
of a review or of a listing). Layout only."""

from __future__ import annotations

from typing import Any

import reflex as rx

from state.marketplace_listing import ListingState

# The field a form shows the price in; the service reports its errors under `price_cents`.
ERROR_KEYS = {"price": "price_cents"}


def labelled_field(
    label: str,
    control: rx.Component,
    *,
    field_id: str,
    errors: rx.Var | None = None,
    error_key: str = "",
) -> rx.Component:
    """A label tied to its control by `field_id`, the control, and under it the field's
    message from `errors` (a dict var of field → message) when it has one."""
    parts = [
        rx.text(label, as_="label", size="2", weight="medium", html_for=field_id),
        control,
    ]
    if errors is not None:
        parts.append(
            rx.cond(
                errors.contains(error_key),
                rx.text(errors[error_key], color_scheme="red", size="1"),
            )
        )
    return rx.vstack(*parts, spacing="1", width="100%")


def listing_field(
    label: str,
    name: str,
    *,
    values: rx.Var,
    set_value: Any,
    errors: rx.Var,
    prefix: str,
    multiline: bool = False,
    **props: Any,
) -> rx.Component:
    """One text field of a listing form: its value is `values[name]`, a change calls
    `set_value(name, text)`, and its element id is `<prefix>-<name>`."""
    field_id = f"{prefix}-{name}"
    control = rx.text_area if multiline else rx.input
    return labelled_field(
        label,
        control(
            value=values[name],
            on_change=lambda v: set_value(name, v),
            id=field_id,
            width="100%",
            **props,
        ),
        field_id=field_id,
        errors=errors,
        error_key=ERROR_KEYS.get(name, name),
    )


def send_row(
    field: str,
    placeholder: str,
    input_id: str,
    send: tuple[str, Any],
    *,
    button_id: str | None = None,
) -> rx.Component:
    """A listing page's one-line text entry and its send button (a reply to a review, a
    report of a review or of the listing): the text is `ListingState.<field>`."""
    label, on_send = send
    return rx.hstack(
        rx.input(
            value=getattr(ListingState, field),
            on_change=lambda v: ListingState.set_value(field, v),
            placeholder=placeholder,
            id=input_id,
            width="100%",
        ),
        rx.button(label, on_click=on_send, id=button_id),
        width="100%",
    )
