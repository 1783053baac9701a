"""The Schedules page: list, editor with the next fire times, fire history. Layout only."""

from __future__ import annotations

import reflex as rx

from pages.components import confirm_dialog, data_table, empty_state, error_callout, shell
from state.schedules import KINDS, MISFIRE, OVERLAP, SchedulesState

CAN_WRITE = SchedulesState.permissions.contains("agents.write")
ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
]


def _input(label: str, name: str, **props: object) -> rx.Component:
    return rx.vstack(
        rx.text(label, as_="label", size="2", weight="medium", html_for=f"schedule-{name}"),
        rx.input(
            value=SchedulesState.form[name],
            on_change=lambda v: SchedulesState.set_field(name, v),
            id=f"schedule-{name}",
            width="100%",
            color_scheme=rx.cond(SchedulesState.field_errors.contains(name), "red", "gray"),
            **props,
        ),
        rx.cond(
            SchedulesState.field_errors.contains(name),
            rx.text(SchedulesState.field_errors[name], color_scheme="red", size="1"),
        ),
        spacing="1",
        width="100%",
    )


def _choice(label: str, name: str, options: dict[str, str]) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(id=f"schedule-{name}", width="100%"),
            rx.select.content(*[rx.select.item(text, value=key) for key, text in options.items()]),
            value=SchedulesState.form[name],
            on_change=lambda v: SchedulesState.set_field(name, v),
        ),
        spacing="1",
        width="100%",
    )


def _when_fields() -> rx.Component:
    return rx.match(
        SchedulesState.form["kind"],
        ("interval", _input("Every (seconds, at least 60)", "interval_seconds", type="number")),
        (
            "once",
            _input("Run at (in the time zone below)", "run_at", type="datetime-local", step="1"),
        ),
        _input(
            "Cron expression (minute hour day month weekday)", "cron", placeholder="0 9 * * 1-5"
        ),
    )


def _preview() -> rx.Component:
    return rx.vstack(
        rx.text("Next fire times", size="2", weight="bold"),
        rx.cond(
            SchedulesState.preview_error != "",
            rx.text(
                SchedulesState.preview_error,
                color_scheme="orange",
                size="1",
                id="schedule-preview-error",
            ),
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell(SchedulesState.form["timezone"]),
                            rx.table.column_header_cell(
                                "Your time (" + SchedulesState.viewer_tz + ")"
                            ),
                        )
                    ),
                    rx.table.body(
                        rx.foreach(
                            SchedulesState.preview,
                            lambda p: rx.table.row(
                                rx.table.cell(p["zone"]), rx.table.cell(p["viewer"])
                            ),
                        )
                    ),
                    size="1",
                    id="schedule-preview",
                ),
                overflow_x="auto",
                width="100%",
            ),
        ),
        width="100%",
        spacing="1",
    )


def _editor() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(SchedulesState.edit_id == "", "New schedule", "Edit schedule")),
            rx.vstack(
                error_callout(SchedulesState.form_error, id_="schedule-error"),
                rx.cond(
                    SchedulesState.edit_id == "",
                    rx.vstack(
                        rx.text("Agent", size="2", weight="medium"),
                        rx.select.root(
                            rx.select.trigger(id="schedule-agent", width="100%"),
                            rx.select.content(
                                rx.foreach(
                                    SchedulesState.agent_options,
                                    lambda a: rx.select.item(a["name"], value=a["id"]),
                                )
                            ),
                            value=SchedulesState.form["agent_id"],
                            on_change=lambda v: SchedulesState.set_field("agent_id", v),
                        ),
                        spacing="1",
                        width="100%",
                    ),
                ),
                _input("Name", "name", debounce_timeout=300),
                _choice("Kind", "kind", {k: k.capitalize() for k in KINDS}),
                _when_fields(),
                _input(
                    "Time zone",
                    "timezone",
                    custom_attrs={"list": "schedule-zones"},
                    debounce_timeout=300,
                ),
                rx.el.datalist(*[rx.el.option(value=z) for z in ZONES], id="schedule-zones"),
                _preview(),
                rx.text("Message", size="2", weight="medium"),
                rx.text_area(
                    value=SchedulesState.form["message"],
                    on_change=lambda v: SchedulesState.set_field("message", v),
                    id="schedule-message",
                    width="100%",
                    debounce_timeout=300,
                ),
                rx.text("Variables (name = value, one per line)", size="2", weight="medium"),
                rx.text_area(
                    value=SchedulesState.form["variables"],
                    on_change=lambda v: SchedulesState.set_field("variables", v),
                    id="schedule-variables",
                    width="100%",
                    debounce_timeout=300,
                ),
                rx.flex(
                    _choice("After downtime", "misfire_policy", MISFIRE),
                    _choice("While the previous run is going", "overlap_policy", OVERLAP),
                    direction=rx.breakpoints(initial="column", sm="row"),
                    spacing="3",
                    width="100%",
                ),
                rx.hstack(
                    rx.button("Cancel", variant="soft", on_click=SchedulesState.close_editor),
                    rx.button("Save", on_click=SchedulesState.save, id="schedule-save"),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="640px",
        ),
        open=SchedulesState.editing,
        on_open_change=lambda open_: rx.cond(open_, rx.noop(), SchedulesState.close_editor()),
    )


def _row(r: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(r["name"], weight="medium"),
                rx.link(r["agent"], href="/agent?id=" + r["agent_id"], size="1"),
                spacing="0",
            )
        ),
        rx.table.cell(rx.code(r["when"], size="1")),
        rx.table.cell(rx.text(r["next"], size="1", class_name="schedule-next")),
        rx.table.cell(rx.text(r["last"], size="1")),
        rx.table.cell(
            rx.flex(
                rx.button(
                    "History",
                    size="1",
                    variant="soft",
                    on_click=SchedulesState.show_fires(r["id"], r["name"]),
                    class_name="schedule-history",
                ),
                rx.cond(
                    CAN_WRITE,
                    rx.fragment(
                        rx.button(
                            "Edit",
                            size="1",
                            variant="soft",
                            on_click=SchedulesState.open_edit(r["id"]),
                            class_name="schedule-edit",
                        ),
                        rx.cond(
                            r["enabled"] == "yes",
                            rx.button(
                                "Pause",
                                size="1",
                                variant="soft",
                                on_click=SchedulesState.set_enabled(r["id"], False),
                                class_name="schedule-pause",
                            ),
                            rx.button(
                                "Resume",
                                size="1",
                                variant="soft",
                                on_click=SchedulesState.set_enabled(r["id"], True),
                                class_name="schedule-resume",
                            ),
                        ),
                        confirm_dialog(
                            rx.button("Delete", size="1", variant="soft", color_scheme="red"),
                            "Delete this schedule?",
                            "Its fire history goes too; the runs it started stay.",
                            SchedulesState.delete(r["id"]),
                            confirm_id="schedule-delete-confirm",
                        ),
                    ),
                ),
                spacing="2",
                wrap="wrap",
            )
        ),
    )


def _history() -> rx.Component:
    fire_row = lambda f: rx.table.row(  # noqa: E731 - a row layout, used once
        rx.table.cell(f["when"]),
        rx.table.cell(
            rx.badge(
                f["outcome"],
                color_scheme=rx.match(
                    f["outcome"],
                    ("started", "green"),
                    ("failed", "red"),
                    ("skipped", "orange"),
                    "gray",
                ),
            )
        ),
        rx.table.cell(
            rx.cond(
                f["run_id"] != "",
                rx.link("Open run", href="/run?id=" + f["run_id"], class_name="fire-run-link"),
            )
        ),
        rx.table.cell(rx.text(f["note"], size="1")),
    )
    return rx.cond(
        SchedulesState.history_id != "",
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.heading("Fires of " + SchedulesState.history_name, size="4"),
                    rx.spacer(),
                    rx.button(
                        "Refresh",
                        size="1",
                        variant="soft",
                        on_click=SchedulesState.refresh_fires,
                        id="fires-refresh",
                    ),
                    width="100%",
                ),
                rx.cond(
                    SchedulesState.fires.length() == 0,
                    rx.text("It has not fired yet.", color_scheme="gray", id="fires-empty"),
                    data_table(
                        ["When", "Outcome", "Run", "Note"],
                        SchedulesState.fires,
                        fire_row,
                        id_="fires-table",
                        size="1",
                    ),
                ),
                _pager(
                    SchedulesState.fires_page,
                    SchedulesState.fires_pages,
                    SchedulesState.move_fires,
                    "fires",
                ),
                width="100%",
            ),
            width="100%",
            id="fires-card",
        ),
    )


def _pager(page: rx.Var, pages: rx.Var, move: object, id_: str) -> rx.Component:
    return rx.cond(
        pages > 1,
        rx.hstack(
            rx.button(
                "Previous",
                size="1",
                variant="soft",
                on_click=move(-1),
                disabled=page == 0,
                id=f"{id_}-prev",
            ),
            rx.text("Page ", page + 1, " of ", pages, size="1"),
            rx.button(
                "Next",
                size="1",
                variant="soft",
                on_click=move(1),
                disabled=page + 1 >= pages,
                id=f"{id_}-next",
            ),
            align="center",
        ),
    )


def _list() -> rx.Component:
    return rx.cond(
        SchedulesState.loading,
        rx.center(rx.spinner(), padding="32px"),
        rx.cond(
            SchedulesState.error != "",
            error_callout(SchedulesState.error, id_="schedules-error"),
            rx.cond(
                SchedulesState.rows.length() == 0,
                empty_state(
                    "calendar-clock",
                    rx.cond(SchedulesState.search != "", "No schedules match", "No schedules yet"),
                    "A schedule starts an agent's run at cron times, at an interval, or once.",
                ),
                data_table(
                    ["Schedule", "When", "Next", "Last fired", ""],
                    SchedulesState.rows,
                    _row,
                    id_="schedules-table",
                ),
            ),
        ),
    )


def schedules_page() -> rx.Component:
    return shell(
        rx.vstack(
            rx.flex(
                rx.input(
                    placeholder="Search schedules or agents",
                    value=SchedulesState.search,
                    on_change=SchedulesState.set_search,
                    debounce_timeout=300,
                    id="schedules-search",
                    width=rx.breakpoints(initial="100%", sm="280px"),
                ),
                rx.cond(
                    SchedulesState.agent_filter != "",
                    rx.link("Show every agent's schedules", href="/schedules", size="2"),
                ),
                rx.spacer(),
                rx.cond(
                    CAN_WRITE,
                    rx.button(
                        rx.icon("plus", size=16),
                        "New schedule",
                        on_click=SchedulesState.open_new,
                        id="schedule-new",
                    ),
                ),
                spacing="3",
                wrap="wrap",
                align="center",
                width="100%",
            ),
            _list(),
            _pager(SchedulesState.page, SchedulesState.pages, SchedulesState.move, "schedules"),
            _history(),
            _editor(),
            spacing="4",
            width="100%",
        ),
        title="Schedules",
    )
