"""The FastAPI app that Reflex mounts itself inside (`rx.App(api_transformer=...)`)."""

from __future__ import annotations

from fastapi import FastAPI

from agent_platform.api import errors, health, integrations, v1


def create_api() -> FastAPI:
    api = FastAPI(title="Agent Platform API", docs_url="/api/docs", openapi_url="/api/openapi.json")
    errors.install(api)
    api.include_router(health.router)
    api.include_router(v1.router)
    api.include_router(integrations.router)
    return api
