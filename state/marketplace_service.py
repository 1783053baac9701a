"""A service listing's Run box: subscribe with a maximum spend per run, change it, run the
seller's version. The run is the organization's own: the Run button opens its run page, which
follows it live (its steps show the answer, cost and tool names, never the seller's
instructions). Every rule is in services/marketplace/service_runs.py.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from services.errors import DomainError
from services.marketplace import service_runs
from services.money import format_money
from state.base import parse_id
from state.marketplace_listing import ListingState


class ServiceState(ListingState):
    subscribed: bool = False
    max_spend: str = ""  # the subscription's, for people ("$0.50")
    max_spend_input: str = ""
    run_message: str = ""

    @rx.event
    def load_service(self) -> None:
        self._fill_service()

    def _fill_service(self) -> None:
        self.subscribed, self.max_spend = False, ""
        if not self.signed_in or not self.found:
            return
        try:
            with self.acting() as (session, _u, actor):
                row = service_runs.subscription_of(
                    session, actor, parse_id(self.listing_id, "Listing")
                )
                if row is not None:
                    self.subscribed = True
                    self.max_spend = format_money(row.max_spend_per_run_usd)
                    self.max_spend_input = f"{row.max_spend_per_run_usd.normalize():f}"
        except DomainError:
            return

    @rx.event
    def set_max_spend_input(self, value: str) -> None:
        self.max_spend_input = value

    @rx.event
    def set_run_message(self, value: str) -> None:
        self.run_message = value

    def _service_act(self, work: Any, done: str) -> Any:
        try:
            with self.acting() as (session, _u, actor):
                work(session, actor)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        self._fill_service()
        return rx.toast.success(done)

    @rx.event
    def subscribe(self) -> Any:
        def work(session: Any, actor: Any) -> None:
            service_runs.subscribe(
                session,
                actor,
                parse_id(self.listing_id, "Listing"),
                max_spend_per_run_usd=self.max_spend_input,
            )

        return self._service_act(work, "Subscribed: run it below.")

    @rx.event
    def save_max_spend(self) -> Any:
        def work(session: Any, actor: Any) -> None:
            service_runs.set_max_spend(
                session, actor, parse_id(self.listing_id, "Listing"), self.max_spend_input
            )

        return self._service_act(work, "Maximum spend per run saved.")

    @rx.event
    def unsubscribe(self) -> Any:
        def work(session: Any, actor: Any) -> None:
            service_runs.unsubscribe(session, actor, parse_id(self.listing_id, "Listing"))

        return self._service_act(work, "Unsubscribed.")

    @rx.event
    def run_service(self) -> Any:
        """Start a run and open its page, which follows it live."""
        try:
            with self.acting() as (session, _u, actor):
                run = service_runs.start_service_run(
                    session, actor, parse_id(self.listing_id, "Listing"), message=self.run_message
                )
                run_id = str(run.id)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        self.run_message = ""
        return rx.redirect(f"/run?id={run_id}")
