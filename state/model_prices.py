"""The org's own model prices (a section of the Model providers page)."""

from __future__ import annotations

import reflex as rx

from services import model_prices
from services.errors import DomainError
from services.money import format_money
from state.base import SessionState, form_text, format_utc, parse_id


class ModelPricesState(SessionState):
    prices: list[dict[str, str]] = []
    error: str = ""
    field_errors: dict[str, str] = {}

    @rx.event
    def load(self) -> None:
        self.error, self.field_errors = "", {}
        if not self._load_identity():
            return
        try:
            self._refresh()
        except DomainError as exc:
            self.error = exc.message

    def _refresh(self) -> None:
        with self.acting() as (session, _user, actor):
            self.prices = [
                {
                    "id": str(p.id),
                    "model": p.model,
                    "input": format_money(p.input_per_million),
                    "output": format_money(p.output_per_million),
                    "updated": format_utc(p.updated_at),
                }
                for p in model_prices.list_prices(session, actor)
            ]

    @rx.event
    def save(self, form: dict[str, str]) -> rx.event.EventSpec | None:
        self.error, self.field_errors = "", {}
        try:
            with self.acting() as (session, _user, actor):
                row = model_prices.set_price(
                    session,
                    actor,
                    model=form_text(form, "price_model"),
                    input_per_million=form_text(form, "price_input"),
                    output_per_million=form_text(form, "price_output"),
                )
                model = row.model
            self._refresh()
        except DomainError as exc:
            self.error = exc.message
            self.field_errors = {f"price_{k.split('_')[0]}": v for k, v in exc.fields.items()}
            return rx.toast.error(exc.message)
        return rx.toast.success(f"Price of {model} saved; later runs use it.")

    @rx.event
    def delete(self, price_id: str) -> rx.event.EventSpec | None:
        try:
            with self.acting() as (session, _user, actor):
                model_prices.delete_price(session, actor, parse_id(price_id, "Price"))
            self._refresh()
        except DomainError as exc:
            return rx.toast.error(exc.message)
        return rx.toast.success("Price removed.")
