"""The model picker's layout: a <datalist> of suggestions for a model field, and a button that
asks the providers what they serve (state: `state.model_picker.ModelPicker`)."""

from __future__ import annotations

import reflex as rx

from state.model_picker import ModelPicker


def model_picker(state: type[ModelPicker], *, list_id: str, prefix: str = "") -> rx.Component:
    """Pair with a model input carrying `custom_attrs={"list": list_id}`; the field stays free
    text (any `<provider>/<model>`)."""
    return rx.fragment(
        rx.el.datalist(
            rx.foreach(state.model_choices, lambda m: rx.el.option(value=m)),
            id=list_id,
        ),
        rx.hstack(
            rx.button(
                rx.icon("refresh-cw", size=14),
                "Fetch models from providers",
                type="button",
                size="1",
                variant="soft",
                loading=state.fetching_models,
                on_click=state.fetch_models,
                id=f"{prefix}fetch-models",
            ),
            rx.text(state.models_note, size="1", color_scheme="gray", id=f"{prefix}models-note"),
            wrap="wrap",
            align="center",
            width="100%",
        ),
    )
