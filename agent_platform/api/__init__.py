"""The FastAPI app that Reflex mounts itself inside (`rx.App(api_transformer=...)`)."""

from __future__ import annotations

from fastapi import FastAPI

from agent_platform.api import (
    admin,
    agents,
    audit_log,
    auth,
    billing,
    dashboard,
    docs,
    errors,
    fallback,
    health,
    integrations,
    knowledge,
    marketplace,
    marketplace_services,
    members,
    metrics,
    openai_compat,
    providers,
    ratelimits,
    runs,
    schedules,
    testing,
    usage,
    v1,
    webhooks,
)
from agent_platform.api.request_context import RequestContext


def create_api() -> FastAPI:
    api = FastAPI(
        title="Agent Platform API",
        docs_url=None,
        openapi_url="/api/openapi.json",
        responses=errors.PROBLEM_RESPONSES,  # every error is application/problem+json
    )
    errors.install(api)
    api.add_middleware(ratelimits.RateLimitHeaders)  # RateLimit-* on counted responses
    docs.install(api)  # /api/docs with Swagger UI served locally (no CDN)
    api.include_router(health.router)
    api.include_router(v1.router)
    api.include_router(auth.router)  # /api/v1/auth/token and /api/v1/api-keys
    api.include_router(agents.router)  # /api/v1/agents: versions, diffs, YAML
    api.include_router(members.router)  # /api/v1/members and /api/v1/invitations
    api.include_router(audit_log.router)  # /api/v1/audit-log
    api.include_router(dashboard.router)  # /api/v1/dashboard figures
    api.include_router(providers.router)  # /api/v1/providers (keys write-only)
    api.include_router(knowledge.router)  # /api/v1/knowledge: collections, documents, search
    api.include_router(integrations.router)
    api.include_router(admin.router)  # /api/v1/admin/*: the instance admin
    api.include_router(webhooks.router)  # /api/v1/hooks/{token} and trigger management
    api.include_router(schedules.router)  # /api/v1/schedules and /agents/{id}/schedules
    api.include_router(testing.router)  # /api/v1 suites, cases and suite runs
    api.include_router(runs.router)  # /api/v1 runs, their live events, threads
    api.include_router(openai_compat.router)  # /api/v1/openai: agents as OpenAI models
    api.include_router(marketplace.router)  # /api/v1/marketplace: browse, publish, install
    api.include_router(marketplace_services.router)  # service listings: subscribe, run
    api.include_router(usage.router)  # /api/v1/usage and the org's spend cap
    api.include_router(billing.router)  # /api/v1/stripe/webhook, /api/v1/billing: money
    api.include_router(metrics.router)  # /metrics for Prometheus
    fallback.install(api)  # keep last: unknown /api/* paths are a JSON 404, not the web app
    api.add_middleware(RequestContext)  # request id, log context and HTTP metrics
    return api
