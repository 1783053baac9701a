"""The Schedules page: the org's schedules (search, paging), the editor with the next five fire
times in the schedule's zone and the viewer's, pause/resume/delete, and each one's fire history
with links to its runs. Rules live in services.schedules; this fills plain rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import reflex as rx

from services import agents, schedules
from services.errors import DomainError
from services.schedule_times import zone
from state.base import SessionState, parse_id

PAGE_SIZE = 20
FIRES_PAGE = 10
KINDS = ["cron", "interval", "once"]
MISFIRE = {"run_once": "Run once", "skip": "Skip missed times"}
OVERLAP = {"skip": "Skip", "queue": "Wait for it", "allow": "Run both"}
BLANK = {
    "agent_id": "",
    "name": "",
    "kind": "cron",
    "cron": "0 9 * * 1-5",
    "timezone": "UTC",
    "interval_seconds": "3600",
    "run_at": "",
    "message": "",
    "variables": "",
    "misfire_policy": "run_once",
    "overlap_policy": "skip",
}


def _variables(text: str) -> dict[str, str]:
    """`name = value`, one per line, into the run's variables."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise DomainError(
                f"Write each variable as name = value (got {line.strip()!r}).",
                fields={"variables": "name = value, one per line"},
            )
        pairs[name.strip()] = value.strip()
    return pairs


def _payload(form: dict[str, str]) -> dict[str, Any]:
    interval = form["interval_seconds"].strip()
    return {
        "name": form["name"].strip(),
        "kind": form["kind"],
        "cron": form["cron"],
        "timezone": form["timezone"].strip() or "UTC",
        "interval_seconds": int(interval) if interval.isdigit() else (interval or None),
        "run_at": form["run_at"] or None,
        "message": form["message"],
        "variables": _variables(form["variables"]),
        "misfire_policy": form["misfire_policy"],
        "overlap_policy": form["overlap_policy"],
    }


def _when(moment: datetime | None, tz: str) -> str:
    if moment is None:
        return ""
    try:
        return moment.astimezone(zone(tz)).strftime("%a %Y-%m-%d %H:%M %Z")
    except ValueError:
        return moment.strftime("%Y-%m-%d %H:%M UTC")


class SchedulesState(SessionState):
    rows: list[dict[str, str]] = []
    total: int = 0
    page: int = 0
    search: str = ""
    agent_filter: str = ""  # ?agent=<id>: the agent page's link shows that agent's schedules
    agent_options: list[dict[str, str]] = []
    loading: bool = True
    error: str = ""
    viewer_tz: str = "UTC"

    editing: bool = False
    edit_id: str = ""  # empty: a new schedule
    form: dict[str, str] = dict(BLANK)
    preview: list[dict[str, str]] = []
    preview_error: str = ""
    form_error: str = ""
    field_errors: dict[str, str] = {}

    history_id: str = ""
    history_name: str = ""
    fires: list[dict[str, str]] = []
    fires_total: int = 0
    fires_page: int = 0

    @rx.var
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def fires_pages(self) -> int:
        return max(1, -(-self.fires_total // FIRES_PAGE))

    @rx.event
    def load(self) -> Any:
        if not self._load_identity():
            return rx.redirect("/login?next=/schedules")
        self.agent_filter = self.router.url.query_parameters.get("agent", "")
        self.page, self.search, self.editing, self.history_id = 0, "", False, ""
        self._refresh()
        # The viewer's own zone, for the second column of the preview.
        return rx.call_script(
            "Intl.DateTimeFormat().resolvedOptions().timeZone",
            callback=SchedulesState.set_viewer_tz,
        )

    @rx.event
    def set_viewer_tz(self, tz: str) -> None:
        try:
            zone(str(tz))
            self.viewer_tz = str(tz)
        except ValueError:
            self.viewer_tz = "UTC"
        self._preview()

    def _refresh(self) -> None:
        self.error, self.loading = "", True
        try:
            with self.acting() as (session, _u, actor):
                agent = parse_id(self.agent_filter, "Agent") if self.agent_filter else None
                found, self.total = schedules.list_schedules(
                    session,
                    actor,
                    agent_id=agent,
                    search=self.search,
                    offset=self.page * PAGE_SIZE,
                    limit=PAGE_SIZE,
                )
                self.rows = [self._row(s, name) for s, name in found]
                listed, _ = agents.list_agents(session, actor, limit=200)
                self.agent_options = [{"id": str(a.id), "name": a.name} for a in listed]
        except DomainError as exc:
            self.error, self.rows, self.total = exc.message, [], 0
        self.loading = False

    def _row(self, s: Any, agent_name: str) -> dict[str, str]:
        what = {"cron": s.cron, "interval": f"every {s.interval_seconds} s", "once": "once"}
        return {
            "id": str(s.id),
            "name": s.name,
            "agent": agent_name,
            "agent_id": str(s.agent_id),
            "when": f"{what[s.kind.value]} · {s.timezone}",
            "next": _when(s.next_fire_at, s.timezone) or "paused",
            "last": _when(s.last_fire_at, s.timezone),
            "enabled": "yes" if s.enabled else "",
        }

    @rx.event
    def set_search(self, value: str) -> None:
        self.search, self.page = value, 0
        self._refresh()

    @rx.event
    def move(self, delta: int) -> None:
        self.page = min(max(0, self.page + delta), self.pages - 1)
        self._refresh()

    @rx.event
    def open_new(self) -> None:
        self.form = dict(BLANK)
        self.form["agent_id"] = self.agent_filter or (
            self.agent_options[0]["id"] if self.agent_options else ""
        )
        self.form["timezone"] = self.viewer_tz
        self.edit_id, self.editing = "", True
        self.form_error, self.field_errors = "", {}
        self._preview()

    @rx.event
    def open_edit(self, schedule_id: str) -> None:
        self.form_error, self.field_errors = "", {}
        try:
            with self.acting() as (session, _u, actor):
                s = schedules.get_schedule(session, actor, parse_id(schedule_id, "Schedule"))
                self.form = {
                    "agent_id": str(s.agent_id),
                    "name": s.name,
                    "kind": s.kind.value,
                    "cron": s.cron or BLANK["cron"],
                    "timezone": s.timezone,
                    "interval_seconds": str(s.interval_seconds or BLANK["interval_seconds"]),
                    "run_at": _local_input(s.run_at, s.timezone),
                    "message": str(s.input.get("message", "")),
                    "variables": "\n".join(
                        f"{k} = {v}" for k, v in (s.input.get("variables") or {}).items()
                    ),
                    "misfire_policy": s.misfire_policy.value,
                    "overlap_policy": s.overlap_policy.value,
                }
        except DomainError as exc:
            self.error = exc.message
            return
        self.edit_id, self.editing = schedule_id, True
        self._preview()

    @rx.event
    def close_editor(self) -> None:
        self.editing = False

    @rx.event
    def set_field(self, name: str, value: str) -> None:
        if name in BLANK:
            self.form = {**self.form, name: str(value)}
            self._preview()

    def _preview(self) -> None:
        """The next five fire times of the form as it stands, or why there are none."""
        self.preview, self.preview_error = [], ""
        if not self.editing:
            return
        try:
            data = _payload(self.form)
            data["message"] = data["message"] or "-"  # the preview needs no message yet
            data["name"] = data["name"] or "-"
            times = schedules.preview(data)
        except DomainError as exc:
            self.preview_error = exc.message
            return
        tz = self.form["timezone"].strip() or "UTC"
        self.preview = [{"zone": _when(t, tz), "viewer": _when(t, self.viewer_tz)} for t in times]

    @rx.event
    def save(self) -> Any:
        self.form_error, self.field_errors = "", {}
        try:
            data = _payload(self.form)
            with self.acting() as (session, _u, actor):
                if self.edit_id:
                    schedules.update_schedule(
                        session, actor, parse_id(self.edit_id, "Schedule"), data
                    )
                else:
                    agent_id = parse_id(self.form["agent_id"], "Agent")
                    schedules.create_schedule(session, actor, agent_id, data)
        except DomainError as exc:
            self.form_error, self.field_errors = exc.message, exc.fields
            return None
        self.editing = False
        self._refresh()
        return rx.toast.success("Schedule saved.")

    @rx.event
    def set_enabled(self, schedule_id: str, enabled: bool) -> Any:
        return self._act(
            lambda session, actor: schedules.set_enabled(
                session, actor, parse_id(schedule_id, "Schedule"), enabled=enabled
            ),
            "Resumed." if enabled else "Paused.",
        )

    @rx.event
    def delete(self, schedule_id: str) -> Any:
        if schedule_id == self.history_id:
            self.history_id = ""
        return self._act(
            lambda session, actor: schedules.delete_schedule(
                session, actor, parse_id(schedule_id, "Schedule")
            ),
            "Schedule deleted.",
        )

    def _act(self, change: Any, done: str) -> Any:
        try:
            with self.acting() as (session, _u, actor):
                change(session, actor)
        except DomainError as exc:
            return rx.toast.error(exc.message)
        self._refresh()
        return rx.toast.success(done)

    @rx.event
    def show_fires(self, schedule_id: str, name: str) -> None:
        self.history_id, self.history_name, self.fires_page = schedule_id, name, 0
        self._fires()

    @rx.event
    def move_fires(self, delta: int) -> None:
        self.fires_page = min(max(0, self.fires_page + delta), self.fires_pages - 1)
        self._fires()

    @rx.event
    def refresh_fires(self) -> None:
        self._fires()
        self._refresh()

    def _fires(self) -> None:
        try:
            with self.acting() as (session, _u, actor):
                schedule_id = parse_id(self.history_id, "Schedule")
                tz = schedules.get_schedule(session, actor, schedule_id).timezone
                found, self.fires_total = schedules.list_fires(
                    session,
                    actor,
                    schedule_id,
                    offset=self.fires_page * FIRES_PAGE,
                    limit=FIRES_PAGE,
                )
        except DomainError as exc:
            self.error, self.history_id = exc.message, ""
            return
        self.fires = [
            {
                "when": _when(f.fire_at, tz),
                "outcome": f.outcome.value,
                "run_id": str(f.execution_id) if f.execution_id else "",
                "note": f.note or "",
            }
            for f in found
        ]


def _local_input(moment: datetime | None, tz: str) -> str:
    """A one-off time as the date-time field shows it: wall time in the schedule's zone."""
    if moment is None:
        return ""
    return moment.astimezone(zone(tz)).strftime("%Y-%m-%dT%H:%M:%S")
