"""App pages that later issues fill; each shows an honest empty state for now."""

from __future__ import annotations

import reflex as rx

from pages.components import empty_state, shell


def placeholder(title: str, icon: str, body: str) -> rx.Component:
    return shell(empty_state(icon, f"No {title.lower()} yet", body), title=title)


def marketplace_page() -> rx.Component:
    return placeholder(
        "Marketplace", "store", "Published agents from the community will be listed here."
    )
