"""App pages that later issues fill; each shows an honest empty state for now."""

from __future__ import annotations

import reflex as rx

from pages.components import empty_state, shell
from state.base import SessionState


def dashboard_page() -> rx.Component:
    return shell(
        rx.text("Welcome, ", SessionState.user_name, ".", size="4", id="welcome"),
        rx.box(height="16px"),
        empty_state(
            "activity",
            "No runs yet",
            "Runs, success rate, latency and cost appear here once your agents start working.",
        ),
        title="Dashboard",
    )


def placeholder(title: str, icon: str, body: str) -> rx.Component:
    return shell(empty_state(icon, f"No {title.lower()} yet", body), title=title)


def marketplace_page() -> rx.Component:
    return placeholder(
        "Marketplace", "store", "Published agents from the community will be listed here."
    )


def tests_page() -> rx.Component:
    return placeholder(
        "Tests", "flask-conical", "Test suites and their scores will be listed here."
    )


def schedules_page() -> rx.Component:
    return placeholder("Schedules", "calendar-clock", "Scheduled agent runs will be listed here.")
