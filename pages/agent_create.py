"""The "New agent" dialog of the agents list: pick a template, name it, optionally override
the model and instructions. Layout only; `AgentsState.create` makes the agent."""

from __future__ import annotations

import reflex as rx

from pages.components import error_callout, field
from pages.model_picker import model_picker
from state.agents import AgentsState as A


def _template_card(t: rx.Var) -> rx.Component:
    return rx.radio_cards.item(
        rx.hstack(
            rx.icon(t["icon"], size=20),
            rx.vstack(
                rx.text(t["name"], weight="medium", size="2"),
                rx.text(t["description"], size="1", color_scheme="gray"),
                spacing="0",
                align="start",
            ),
            align="center",
            spacing="3",
            width="100%",
        ),
        value=t["key"],
        id="template-" + t["key"],
    )


def create_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button(rx.icon("plus", size=16), "New agent", id="new-agent")),
        rx.dialog.content(
            rx.dialog.title("New agent"),
            error_callout(A.create_error, id_="create-agent-error"),
            rx.form(
                rx.vstack(
                    rx.text("Start from", size="2", weight="medium"),
                    rx.radio_cards.root(
                        rx.foreach(A.templates, _template_card),
                        value=A.template,
                        on_value_change=A.set_template,
                        columns=rx.breakpoints(initial="1", sm="2"),
                        width="100%",
                    ),
                    field("Name", "name", A.create_fields, placeholder="Support assistant"),
                    field("Description", "description", A.create_fields),
                    field(
                        "Model (<provider>/<model>; empty: your first configured model)",
                        "model",
                        A.create_fields,
                        placeholder="openai/gpt-4o-mini",
                        suggestions="create-model-choices",
                    ),
                    model_picker(A, list_id="create-model-choices", prefix="create-"),
                    rx.text(
                        rx.cond(
                            A.template == "blank",
                            "Instructions",
                            "Instructions (empty: the template's)",
                        ),
                        as_="label",
                        html_for="instructions",
                        size="2",
                        weight="medium",
                    ),
                    rx.text_area(name="instructions", id="instructions", rows="4", width="100%"),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", type="button")),
                        rx.button("Create", type="submit", id="create-agent-submit"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=A.create,
                reset_on_submit=False,
            ),
            max_width="640px",
        ),
        open=A.create_open,
        on_open_change=A.set_create_open,
    )
