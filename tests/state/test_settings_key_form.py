"""Settings → API keys: a refusal is said once, where it belongs; revoking asks first (in the
page) and a revoked key's shown-once secret disappears with it."""

from __future__ import annotations

from sqlmodel import Session

from state.settings import SettingsState
from tests.state.helpers import signed_in


def _keys_tab(session: Session) -> SettingsState:
    state = signed_in(session, SettingsState)
    state.load()
    state.set_tab("keys")
    assert state.error == "", state.error
    return state


def _refusal(state: SettingsState) -> tuple[str, str, dict[str, str]]:
    return state.error, state.form_error, dict(state.field_errors)


def test_an_empty_key_name_is_refused_once_under_the_field(session: Session) -> None:
    state = _keys_tab(session)
    assert state.create_key({"key_name": "  ", "key_role": "builder"}) is None
    error, form_error, fields = _refusal(state)
    assert error == "" and form_error == ""  # not at the top of the page, not below the form
    assert list(fields) == ["key_name"] and fields["key_name"] != ""
    assert state.create_key({"key_name": "x" * 500, "key_role": "builder"}) is None
    assert list(state.field_errors) == ["key_name"] and state.form_error == ""


def test_a_refusal_of_no_field_is_said_below_the_form(session: Session) -> None:
    state = _keys_tab(session)
    assert state.create_key({"key_name": "Boss", "key_role": "owner"}) is None
    error, form_error, fields = _refusal(state)
    assert error == "" and fields == {} and "owner" in form_error


def test_a_created_key_clears_the_name_box_and_the_errors(session: Session) -> None:
    state = _keys_tab(session)
    state.create_key({"key_name": "", "key_role": "builder"})
    events = state.create_key({"key_name": "CI", "key_role": "builder"})
    assert _refusal(state) == ("", "", {})
    assert events is not None and "ref_key_name" in str(events[0].args)


def test_revoking_the_shown_key_forgets_its_secret_and_another_revoke_does_not(
    session: Session,
) -> None:
    state = _keys_tab(session)
    state.create_key({"key_name": "old", "key_role": "builder"})
    state.create_key({"key_name": "new", "key_role": "builder"})
    shown = state.new_key_secret
    by_name = {k["name"]: k["id"] for k in state.keys}
    state.revoke_key(by_name["old"])
    assert state.new_key_secret == shown  # still the one to copy
    state.revoke_key(by_name["new"])
    assert state.new_key_secret == ""
    assert state.keys == []
