"""The model picker shared by the builder's model node and the "New agent" dialog: the
models the org's providers list, and on request what each provider says it serves."""

from __future__ import annotations

import reflex as rx

from services.errors import DomainError
from services.llm import model_catalog


class ModelPicker(rx.State, mixin=True):
    """Mixed into a page state that also derives from SessionState, whose `acting` it uses:
    `class PageState(ModelPicker, SessionState)`."""

    model_choices: list[str] = []
    models_note: str = ""
    fetching_models: bool = False

    def _configured_models(self) -> None:
        """The picker starts from the models the org's providers list (no network)."""
        try:
            with self.acting() as (session, _u, actor):
                self.model_choices = model_catalog.configured(session, actor)
        except DomainError as exc:
            self.models_note = exc.message

    @rx.event(background=True)
    async def fetch_models(self) -> None:
        """Ask every provider what it serves (its `/models`), outside the state lock."""
        async with self:
            self.fetching_models, self.models_note = True, ""
            try:
                with self.acting() as (session, _u, actor):
                    targets = model_catalog.listing_targets(session, actor)
                    listed = model_catalog.configured(session, actor)
            except DomainError as exc:
                self.fetching_models, self.models_note = False, exc.message
                return
        found = await model_catalog.fetch_all(targets)
        async with self:
            self.model_choices = model_catalog.merged(listed, found)
            notes = [f.note for f in found if f.note]
            self.models_note = "; ".join(notes) if notes else f"{len(self.model_choices)} models."
            self.fetching_models = False


__all__ = ["ModelPicker"]
