"""Agent editor page: header with publish, publish problems, the config form, versions and
recent runs, and the comparison of two versions. Layout only."""

from __future__ import annotations

import reflex as rx

from pages.agent_config_form import config_form
from pages.agent_versions import compare_versions, version_row
from pages.components import empty_state, error_callout, shell
from pages.webhooks import triggers_section
from state.agent_editor import AgentEditorState


def _side() -> rx.Component:
    return rx.vstack(
        rx.heading("Versions", size="3"),
        rx.vstack(
            rx.foreach(AgentEditorState.versions, version_row),
            spacing="2",
            width="100%",
            max_height="420px",
            overflow_y="auto",
            id="versions",
        ),
        rx.heading("Recent runs", size="3", margin_top="16px"),
        rx.cond(
            AgentEditorState.recent_runs.length() == 0,
            rx.text("No runs yet.", size="2", color_scheme="gray"),
            rx.foreach(
                AgentEditorState.recent_runs,
                lambda r: rx.link(
                    rx.hstack(rx.badge(r["status"]), rx.text(r["when"], size="1")),
                    href="/run?id=" + r["id"],
                ),
            ),
        ),
        min_width="240px",
        max_width=rx.breakpoints(initial="100%", md="280px"),
        spacing="2",
    )


def editor_page() -> rx.Component:
    return shell(
        rx.cond(
            ~AgentEditorState.loaded,
            rx.center(rx.spinner(size="3"), padding="48px"),
            rx.cond(
                AgentEditorState.not_found,
                empty_state(
                    "bot-off",
                    "Agent not found",
                    "It may have been deleted, or belongs to another organization.",
                ),
                rx.vstack(
                    _header(),
                    _problems(),
                    error_callout(AgentEditorState.error, id_="agent-error"),
                    rx.flex(
                        rx.box(config_form(), flex="1", min_width="0"),
                        _side(),
                        spacing="6",
                        direction=rx.breakpoints(initial="column", md="row"),
                        width="100%",
                    ),
                    compare_versions(),
                    triggers_section(),
                    spacing="4",
                    width="100%",
                ),
            ),
        ),
        title="Agent",
    )


def _header() -> rx.Component:
    published = AgentEditorState.status == "published"
    return rx.flex(
        rx.heading(AgentEditorState.name, size="5", id="agent-name"),
        rx.badge(AgentEditorState.status, id="agent-status"),
        rx.cond(
            AgentEditorState.current_version != "",
            rx.badge("version ", AgentEditorState.current_version, variant="outline"),
        ),
        rx.spacer(),
        rx.link(
            rx.button("Open canvas", variant="soft", size="2", tab_index=-1),
            href="/builder?id=" + AgentEditorState.agent_id,
            id="open-builder",
        ),
        rx.link(
            rx.button("Dashboard", variant="soft", size="2", tab_index=-1),
            href="/dashboard?agent=" + AgentEditorState.agent_id,
            id="open-dashboard",
        ),
        rx.link(
            rx.button("Schedules", variant="soft", size="2", tab_index=-1),
            href="/schedules?agent=" + AgentEditorState.agent_id,
            id="open-schedules",
        ),
        rx.link(
            rx.button("Tests", variant="soft", size="2", tab_index=-1),
            href="/tests?agent=" + AgentEditorState.agent_id,
            id="open-tests",
        ),
        rx.cond(
            published,
            rx.button(
                "Unpublish",
                variant="soft",
                size="2",
                on_click=AgentEditorState.unpublish,
                id="unpublish-agent",
            ),
            rx.cond(
                AgentEditorState.status != "archived",
                rx.button(
                    rx.icon("rocket", size=14),
                    "Publish",
                    size="2",
                    on_click=AgentEditorState.publish,
                    disabled=AgentEditorState.problems.length() > 0,
                    id="publish-agent",
                ),
            ),
        ),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


def _problems() -> rx.Component:
    return rx.cond(
        AgentEditorState.problems.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert")),
            rx.vstack(
                rx.text(
                    rx.cond(
                        AgentEditorState.status == "published",
                        "Published, but it would not pass the publish check now:",
                        "Not ready to publish:",
                    ),
                    weight="medium",
                ),
                rx.unordered_list(rx.foreach(AgentEditorState.problems, lambda p: rx.list_item(p))),
                spacing="1",
            ),
            color_scheme="amber",
            width="100%",
            id="publish-problems",
        ),
    )
