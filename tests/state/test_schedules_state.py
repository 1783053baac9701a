"""The Schedules page's state: the editor previews the next fire times in the schedule's zone
and the viewer's, saves through the service with errors in words, and the list pages,
searches, pauses and shows a schedule's fires with their runs."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.models import Schedule
from services import agents, schedule_tick
from state.schedules import SchedulesState
from tests.factories import make_user, personal_actor
from tests.state.helpers import signed_in


def test_edit_preview_save_pause_and_history(session: Session) -> None:
    user = make_user(session)
    actor = personal_actor(session, user)
    agent = agents.create_agent(session, actor, name="Digest", config={"model": "openai/gpt-4o"})
    session.commit()
    state = signed_in(session, SchedulesState, user)
    state.load()
    assert (state.rows, state.loading, state.error) == ([], False, "")
    state.set_viewer_tz("Europe/Berlin")

    state.open_new()
    assert state.form["agent_id"] == str(agent.id) and state.form["timezone"] == "Europe/Berlin"
    state.set_field("timezone", "America/New_York")
    state.set_field("cron", "30 9 * * *")
    assert len(state.preview) == 5
    assert "09:30" in state.preview[0]["zone"] and "15:30" in state.preview[0]["viewer"]
    state.set_field("cron", "nonsense")
    assert state.preview == [] and "five fields" in state.preview_error

    state.set_field("cron", "30 9 * * *")
    state.set_field("name", "Morning")
    state.set_field("variables", "team ops")
    state.save()
    assert "name = value" in state.form_error and state.editing
    state.set_field("variables", "team = ops")
    state.save()
    assert "Message is required" in state.form_error
    state.set_field("message", "Write it")
    state.save()
    assert state.form_error == "" and not state.editing
    [row] = state.rows
    assert row["name"] == "Morning" and row["agent"] == "Digest"
    assert row["next"].endswith(("EDT", "EST")) and "09:30" in row["next"]

    state.set_search("nothing like it")
    assert state.rows == [] and state.total == 0
    state.set_search("digest")
    assert state.total == 1

    state.set_enabled(row["id"], False)
    assert state.rows[0]["next"] == "paused"
    state.set_enabled(row["id"], True)
    assert state.rows[0]["enabled"] == "yes"

    state.show_fires(row["id"], row["name"])
    assert state.fires == []
    with session_scope() as s:
        due = s.get(Schedule, uuid.UUID(row["id"])).next_fire_at
        schedule_tick.tick(s, now=due)
    state.refresh_fires()
    [fire] = state.fires
    assert fire["outcome"] == "started" and fire["run_id"]
