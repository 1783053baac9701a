"""Model prices section of the Model providers page (layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import data_table, error_callout, field
from state.model_prices import ModelPricesState


def _price_row(p: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(p["model"])),
        rx.table.cell(p["input"]),
        rx.table.cell(p["output"]),
        rx.table.cell(p["updated"]),
        rx.table.cell(
            rx.button(
                "Remove",
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=ModelPricesState.delete(p["id"]),
                id="price-remove-" + p["model"].to(str),
            )
        ),
    )


def _price_form() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.box(
                field(
                    "Model",
                    "price_model",
                    ModelPricesState.field_errors,
                    placeholder="ollama/llama3",
                ),
                min_width="200px",
                flex="2",
            ),
            rx.box(
                field(
                    "Input $ / 1M tokens",
                    "price_input",
                    ModelPricesState.field_errors,
                    placeholder="0.15",
                ),
                min_width="140px",
                flex="1",
            ),
            rx.box(
                field(
                    "Output $ / 1M tokens",
                    "price_output",
                    ModelPricesState.field_errors,
                    placeholder="0.60",
                ),
                min_width="140px",
                flex="1",
            ),
            rx.button("Save price", type="submit", id="price-save", align_self="end"),
            spacing="3",
            wrap="wrap",
            width="100%",
        ),
        on_submit=ModelPricesState.save,
        reset_on_submit=False,
    )


def model_prices_section() -> rx.Component:
    return rx.vstack(
        rx.heading("Model prices", size="4"),
        rx.text(
            "Costs of models LiteLLM has no price for (self-hosted, fine-tuned, new) show as "
            "“unknown”. Enter what you pay per million tokens, as agents name the model "
            "(<provider>/<model>); your price also replaces a known list price. Later runs use it.",
            size="2",
            color_scheme="gray",
        ),
        error_callout(ModelPricesState.error, id_="prices-error"),
        rx.cond(
            ModelPricesState.prices.length() > 0,
            data_table(
                ["Model", "Input / 1M", "Output / 1M", "Updated", ""],
                ModelPricesState.prices,
                _price_row,
                id_="prices-table",
            ),
        ),
        _price_form(),
        spacing="3",
        width="100%",
        id="model-prices",
        on_mount=ModelPricesState.load,
    )
