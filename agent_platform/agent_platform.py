"""The Reflex app: pages and the REST API mounted beside them. Wiring only."""

import reflex as rx

from agent_platform.api import create_api
from agent_platform.api.security_headers import with_security_headers
from agent_platform.observability import process
from pages import (
    admin,
    agent_editor,
    agents,
    auth,
    billing,
    builder,
    dashboard,
    integrations,
    invite,
    knowledge,
    marketplace,
    marketplace_listing,
    playground,
    providers,
    runs,
    schedules,
    settings,
    tests,
    usage,
)
from pages.frame_guard import frame_guard_script
from state.admin import AdminState
from state.agent_editor import AgentEditorState
from state.agents import AgentsState
from state.auth import AuthFormState
from state.billing import BillingState
from state.builder import BuilderState
from state.dashboard import DashboardState
from state.integrations import IntegrationsState
from state.invite import InviteState
from state.knowledge import KnowledgeState
from state.marketplace import MarketplaceState
from state.marketplace_listing import ListingState
from state.marketplace_service import ServiceState
from state.page_scope import PageScope
from state.playground import PlaygroundState
from state.providers import ProvidersState
from state.runs import RunDetailState, RunsState
from state.schedules import SchedulesState
from state.settings import SettingsState
from state.tests import TestsState
from state.usage import UsageState
from state.webhooks import WebhooksState

process.configure()  # the web server's workers import this module: their logs and traces
# The headers wrapper goes last: it sees every response, the frontend's and Reflex's too.
app = rx.App(
    api_transformer=[create_api(), with_security_headers],
    head_components=[frame_guard_script()],
)
app.add_middleware(PageScope())  # a page load carries only its own page's state

app.add_page(
    auth.login_page, route="/login", title="Sign in", on_load=AuthFormState.redirect_if_signed_in
)
app.add_page(
    auth.register_page,
    route="/register",
    title="Create account",
    on_load=AuthFormState.redirect_if_signed_in,
)
app.add_page(dashboard.dashboard_page, route="/", title="Dashboard", on_load=DashboardState.load)
app.add_page(
    dashboard.dashboard_page, route="/dashboard", title="Dashboard", on_load=DashboardState.load
)
app.add_page(agents.agents_page, route="/agents", title="Agents", on_load=AgentsState.load)
app.add_page(
    agent_editor.editor_page,
    route="/agent",
    title="Agent",
    on_load=[AgentEditorState.load, WebhooksState.load],
)
app.add_page(builder.builder_page, route="/builder", title="Builder", on_load=BuilderState.load)
app.add_page(
    playground.playground_page,
    route="/playground",
    title="Playground",
    on_load=PlaygroundState.load,
)
app.add_page(runs.runs_page, route="/runs", title="Runs", on_load=RunsState.load)
app.add_page(runs.run_page, route="/run", title="Run", on_load=RunDetailState.load)
app.add_page(
    marketplace.marketplace_page,
    route="/marketplace",
    title="Marketplace",
    on_load=MarketplaceState.load,  # no guard: browsing works signed out
)
app.add_page(
    marketplace_listing.listing_page,
    route="/marketplace/listing",
    title="Marketplace listing",
    on_load=[ListingState.load, ServiceState.load_service],
)
app.add_page(
    integrations.integrations_page,
    route="/integrations",
    title="Integrations",
    on_load=IntegrationsState.load,
)
app.add_page(tests.tests_page, route="/tests", title="Tests", on_load=TestsState.load)
app.add_page(
    schedules.schedules_page, route="/schedules", title="Schedules", on_load=SchedulesState.load
)
app.add_page(
    settings.settings_page, route="/settings", title="Settings", on_load=SettingsState.load
)
app.add_page(usage.usage_page, route="/usage", title="Usage", on_load=UsageState.load)
app.add_page(billing.billing_page, route="/billing", title="Billing", on_load=BillingState.load)
app.add_page(invite.invite_page, route="/invite", title="Invitation", on_load=InviteState.load)
app.add_page(
    providers.providers_page,
    route="/settings/providers",
    title="Model providers",
    on_load=ProvidersState.load,
)
app.add_page(
    knowledge.knowledge_page, route="/knowledge", title="Knowledge", on_load=KnowledgeState.load
)
app.add_page(admin.admin_page, route="/admin", title="Instance admin", on_load=AdminState.load)
