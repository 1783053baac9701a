"""A service listing's Run box: subscribe with a maximum spend per run, then run it. Layout
only (state/marketplace_service.py)."""

from __future__ import annotations

import reflex as rx

from state.marketplace_service import ServiceState


def _max_spend_input() -> rx.Component:
    return rx.input(
        placeholder="Maximum spend per run, e.g. 0.50",
        value=ServiceState.max_spend_input,
        on_change=ServiceState.set_max_spend_input,
        id="service-max-spend",
        width="220px",
    )


def _subscribe() -> rx.Component:
    return rx.vstack(
        rx.text(
            "A service runs on the seller's own version in your organization, without showing "
            "you its instructions or tools' settings. Price per run: ",
            ServiceState.listing["price"],
            ". A run stops cleanly when its cost reaches the most you allow.",
            size="2",
        ),
        rx.hstack(
            _max_spend_input(),
            rx.button("Subscribe", on_click=ServiceState.subscribe, id="service-subscribe"),
            wrap="wrap",
            align="center",
        ),
        spacing="2",
        width="100%",
    )


def _run_box() -> rx.Component:
    return rx.vstack(
        rx.heading("Run this service", size="4"),
        rx.text(
            "Each run may spend at most ",
            ServiceState.max_spend,
            "; its run page follows it.",
            size="2",
        ),
        rx.text_area(
            placeholder="Your message",
            value=ServiceState.run_message,
            on_change=ServiceState.set_run_message,
            id="service-run-message",
            width="100%",
        ),
        rx.button("Run", on_click=ServiceState.run_service, id="service-run", size="3"),
        rx.hstack(
            _max_spend_input(),
            rx.button(
                "Save maximum",
                variant="soft",
                on_click=ServiceState.save_max_spend,
                id="service-save-max-spend",
            ),
            rx.button(
                "Unsubscribe",
                variant="ghost",
                color_scheme="red",
                on_click=ServiceState.unsubscribe,
                id="service-unsubscribe",
            ),
            wrap="wrap",
            align="center",
        ),
        spacing="2",
        width="100%",
        id="service-run-box",
    )


def service_box() -> rx.Component:
    return rx.cond(ServiceState.subscribed, _run_box(), _subscribe())
