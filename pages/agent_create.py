"""The "New agent" dialog of the agents list: pick a template, name it, optionally override
the model and instructions. Layout only; `AgentsState.create` makes the agent."""

from __future__ import annotations

import reflex as rx

from pages.components import error_callout, field
from pages.model_picker import model_picker
from state.agents import AgentsState


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
            error_callout(AgentsState.create_error, id_="create-agent-error"),
            rx.form(
                rx.vstack(
                    rx.text("Start from", size="2", weight="medium"),
                    rx.radio_cards.root(
                        rx.foreach(AgentsState.templates, _template_card),
                        value=AgentsState.template,
                        on_value_change=AgentsState.set_template,
                        columns=rx.breakpoints(initial="1", sm="2"),
                        width="100%",
                    ),
                    field(
                        "Name", "name", AgentsState.create_fields, placeholder="Support assistant"
                    ),
                    field("Description", "description", AgentsState.create_fields),
                    field(
                        "Model (<provider>/<model>; empty: your first configured model)",
                        "model",
                        AgentsState.create_fields,
                        placeholder="openai/gpt-4o-mini",
                        suggestions="create-model-choices",
                    ),
                    model_picker(AgentsState, list_id="create-model-choices", prefix="create-"),
                    rx.text(
                        rx.cond(
                            AgentsState.template == "blank",
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
                on_submit=AgentsState.create,
                reset_on_submit=False,
            ),
            max_width="640px",
        ),
        open=AgentsState.create_open,
        on_open_change=AgentsState.set_create_open,
    )
