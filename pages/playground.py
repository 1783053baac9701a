"""Playground page: threads, chat with live tokens, and the trace panel (layout only)."""

from __future__ import annotations

import reflex as rx

from pages.components import empty_state, error_callout, shell
from pages.live_log import live_log
from pages.trace import trace_step
from state.playground import LIVE_ID, PlaygroundState


def _bubble(m: rx.Var) -> rx.Component:
    mine = m["role"] == "user"
    return rx.box(
        rx.text(m["text"], white_space="pre-wrap", size="2"),
        rx.cond(m["status"] == "failed", rx.badge("failed", color_scheme="red", margin_top="4px")),
        align_self=rx.cond(mine, "flex-end", "flex-start"),
        background=rx.cond(mine, rx.color("accent", 3), rx.color("gray", 3)),
        padding="10px 14px",
        border_radius="12px",
        max_width="85%",
        class_name=rx.cond(mine, "msg-user", "msg-assistant"),
    )


def _thread_button(t: rx.Var) -> rx.Component:
    return rx.button(
        rx.vstack(
            rx.text(t["title"], size="1", trim="both", truncate=True, width="100%"),
            rx.text(t["updated"], size="1", color_scheme="gray", class_name="thread-time"),
            spacing="0",
            align="start",
            width="100%",
            min_width="0",
        ),
        size="1",
        width="100%",
        height="auto",
        padding_y="4px",
        justify="start",
        on_click=PlaygroundState.select_thread(t["id"]),
        variant=rx.cond(PlaygroundState.thread_id == t["id"], "soft", "ghost"),
        class_name="thread-item",
    )


def _thread_list() -> rx.Component:
    """The agent's conversations and a button for a new one."""
    return rx.vstack(
        rx.button(
            rx.icon("plus", size=14),
            "New conversation",
            size="1",
            variant="soft",
            on_click=PlaygroundState.new_thread,
            width="100%",
        ),
        rx.foreach(PlaygroundState.threads, _thread_button),
        width=["100%", "100%", "200px"],
        min_width="160px",
        spacing="1",
    )


def _chat_log() -> rx.Component:
    """What was said, the answer arriving, and a notice when a draft was discarded."""
    return rx.vstack(
        rx.cond(
            (PlaygroundState.messages.length() == 0) & ~PlaygroundState.started,
            rx.text("Say something to start a conversation.", color_scheme="gray", size="2"),
        ),
        rx.foreach(PlaygroundState.messages, _bubble),
        # what is said on this page: the server sends only what is new (state/live.py)
        live_log(id=LIVE_ID, stream_id="streaming-text", on_gap=PlaygroundState.resync_live),
        rx.cond(PlaygroundState.running, rx.spinner(size="1")),
        rx.cond(
            PlaygroundState.notice != "",
            rx.callout(
                PlaygroundState.notice,
                icon="refresh-cw",
                color_scheme="amber",
                size="1",
                id="discard-notice",
            ),
        ),
        spacing="3",
        width="100%",
        min_height="300px",
        max_height="60vh",
        overflow_y="auto",
        id="chat-log",
    )


def _message_form() -> rx.Component:
    """The message box, with Send, or Stop while the agent answers."""
    return rx.form(
        rx.hstack(
            rx.text_area(
                name="message",
                placeholder="Message the agent…",
                id="chat-input",
                width="100%",
                rows="2",
                disabled=PlaygroundState.running,
            ),
            rx.input(
                name="budget_usd",
                placeholder="Budget $",
                title="The most this run may spend, in USD (empty: the agent's setting)",
                input_mode="decimal",
                width="96px",
                flex_shrink="0",
                id="chat-budget",
            ),
            rx.cond(
                PlaygroundState.running,
                rx.button(
                    "Stop",
                    color_scheme="red",
                    type="button",
                    on_click=PlaygroundState.cancel,
                    id="chat-stop",
                ),
                rx.button("Send", type="submit", id="chat-send"),
            ),
            width="100%",
            align="end",
        ),
        on_submit=PlaygroundState.send,
        reset_on_submit=False,  # a refused start keeps what was typed; `send` clears the message
        width="100%",
    )


def _chat() -> rx.Component:
    return rx.vstack(
        _chat_log(),
        error_callout(PlaygroundState.error, id_="playground-error"),
        _message_form(),
        flex="1",
        min_width="0",
        spacing="3",
    )


def _approval_request() -> rx.Component:
    """An action waiting for the person at the keyboard: approve or decline it here."""
    return rx.callout(
        rx.vstack(
            rx.text(
                "Run ",
                rx.code(PlaygroundState.approval["action"]),
                " on ",
                PlaygroundState.approval["connection"],
                "?",
            ),
            rx.hstack(
                rx.button(
                    "Decline",
                    size="1",
                    color_scheme="red",
                    variant="soft",
                    on_click=PlaygroundState.decide(False),
                    id="playground-deny",
                ),
                rx.button(
                    "Approve",
                    size="1",
                    on_click=PlaygroundState.decide(True),
                    id="playground-approve",
                ),
                spacing="2",
            ),
        ),
        icon="hand",
        color_scheme="amber",
        id="playground-approval",
    )


def _trace_panel() -> rx.Component:
    """The run's steps as the agent works, their totals, and a pending approval."""
    return rx.vstack(
        rx.hstack(
            rx.heading("Trace", size="3"),
            rx.spacer(),
            rx.text(PlaygroundState.totals, size="1", id="trace-totals"),
        ),
        rx.cond(
            PlaygroundState.trace.length() == 0,
            rx.text("Steps appear here as the agent works.", size="1", color_scheme="gray"),
        ),
        rx.foreach(PlaygroundState.trace, trace_step),
        rx.cond(PlaygroundState.approval.contains("id"), _approval_request()),
        rx.cond(
            PlaygroundState.run_id != "",
            rx.link("Open run", href="/run?id=" + PlaygroundState.run_id, size="1"),
        ),
        width=["100%", "100%", "300px"],
        spacing="2",
        id="trace-panel",
    )


def _workspace() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading(PlaygroundState.agent_name, size="5"),
            rx.link("Edit agent", href="/agent?id=" + PlaygroundState.agent_id, size="2"),
            align="center",
        ),
        rx.flex(
            _thread_list(),
            _chat(),
            _trace_panel(),
            spacing="5",
            width="100%",
            direction=rx.breakpoints(initial="column", md="row"),
        ),
        width="100%",
    )


def playground_page() -> rx.Component:
    return shell(
        rx.cond(
            ~PlaygroundState.loaded,
            rx.center(rx.spinner(size="3"), padding="48px"),
            rx.cond(
                PlaygroundState.agent_id == "",
                empty_state("bot-off", "Agent not found", "Open the playground from an agent."),
                _workspace(),
            ),
        ),
        title="Playground",
    )
