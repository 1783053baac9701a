"""The Reflex app: pages and the REST API mounted beside them. Wiring only."""

import reflex as rx

from agent_platform.api import create_api
from pages import auth, invite, sections, settings
from state.auth import AuthFormState
from state.base import SessionState
from state.invite import InviteState
from state.settings import SettingsState

app = rx.App(api_transformer=create_api())

guard = SessionState.require_login
app.add_page(
    auth.login_page, route="/login", title="Sign in", on_load=AuthFormState.redirect_if_signed_in
)
app.add_page(
    auth.register_page,
    route="/register",
    title="Create account",
    on_load=AuthFormState.redirect_if_signed_in,
)
app.add_page(sections.dashboard_page, route="/", title="Dashboard", on_load=guard)
app.add_page(sections.agents_page, route="/agents", title="Agents", on_load=guard)
app.add_page(sections.marketplace_page, route="/marketplace", title="Marketplace", on_load=guard)
app.add_page(sections.integrations_page, route="/integrations", title="Integrations", on_load=guard)
app.add_page(sections.tests_page, route="/tests", title="Tests", on_load=guard)
app.add_page(sections.schedules_page, route="/schedules", title="Schedules", on_load=guard)
app.add_page(
    settings.settings_page, route="/settings", title="Settings", on_load=SettingsState.load
)
app.add_page(invite.invite_page, route="/invite", title="Invitation", on_load=InviteState.load)
