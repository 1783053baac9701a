"""One step of a run's trace, as the playground's trace panel and the run page show it."""

from __future__ import annotations

import reflex as rx


def trace_step(t: rx.Var) -> rx.Component:
    """One step: its kind, title and latency, retried attempts, detail, tokens and cost."""
    return rx.card(
        rx.hstack(
            rx.icon(rx.cond(t["kind"] == "tool", "wrench", "sparkles"), size=14),
            rx.text(t["title"], weight="bold", size="1"),
            rx.spacer(),
            rx.text(t["latency"], size="1", color_scheme="gray"),
            align="center",
        ),
        rx.cond(
            t["attempts"] != "",
            rx.text(
                t["attempts"],
                size="1",
                white_space="pre-wrap",
                color=rx.color("amber", 11),
                class_name="trace-attempts",
            ),
        ),
        rx.text(
            t["detail"],
            size="1",
            white_space="pre-wrap",
            word_break="break-word",
            color=rx.cond(t["error"] == "yes", rx.color("red", 11), rx.color("gray", 12)),
        ),
        rx.cond(
            t["tokens"] != "",
            rx.text(t["tokens"], " tokens · ", t["cost"], size="1", color_scheme="gray"),
        ),
        size="1",
        class_name="trace-step",
    )
