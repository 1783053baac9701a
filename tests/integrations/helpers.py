"""Shared set-up for integration tests: fake providers wired in through the real settings,
and a connect helper that goes through the real OAuth callback route."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from agent_platform.api import create_api
from agent_platform.models import AuditEntry, Integration
from agent_platform.redis_client import get_redis
from services.access import Actor
from services.integrations import connections

CLIENTS = {
    "slack": ("slack-client-id", "slack-client-secret"),
    "github": ("github-client-id", "github-client-secret"),
    "google": ("google-client-id", "google-client-secret"),
}


def provider_env(monkeypatch: Any, fakes: dict[str, Any]) -> None:
    from agent_platform.settings import get_settings

    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    for key, fake in fakes.items():
        client_id, secret = CLIENTS[key]
        monkeypatch.setenv(f"OAUTH_{key.upper()}_CLIENT_ID", client_id)
        monkeypatch.setenv(f"OAUTH_{key.upper()}_CLIENT_SECRET", secret)
        monkeypatch.setenv(f"OAUTH_{key.upper()}_BASE_URL", fake.base_url)
    get_settings.cache_clear()


def callback(fake: Any, authorize_url: str) -> tuple[int, str]:
    """Click Allow at the fake provider, then follow its redirect into our real callback
    route; returns (status, Location)."""
    back = urlsplit(fake.approve(authorize_url))
    client = TestClient(create_api())
    response = client.get(f"{back.path}?{back.query}", follow_redirects=False)
    return response.status_code, response.headers.get("location", "")


def connect(session: Session, actor: Actor, fake: Any, provider: str) -> Integration:
    url = connections.start_sign_in(session, actor, get_redis(), provider_key=provider)
    status, location = callback(fake, url)
    assert status == 303 and "connected=" in location, location
    session.expire_all()
    row = session.exec(
        select(Integration).where(
            Integration.org_id == actor.org_id, Integration.provider == provider
        )
    ).one()
    return row


def grant(row: Integration, action: str, *, approval: bool = False) -> dict[str, Any]:
    return {
        "kind": "integration",
        "name": action,
        "settings": {"connection": str(row.id), "approval": approval},
    }


def audit_calls(session: Session, org_id: uuid.UUID) -> list[AuditEntry]:
    session.expire_all()
    return list(
        session.exec(
            select(AuditEntry).where(
                AuditEntry.org_id == org_id, AuditEntry.action == "integration.call"
            )
        ).all()
    )
