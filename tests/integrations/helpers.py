"""Shared set-up for integration tests: fake providers wired in through the real settings,
and a connect helper that goes through the real OAuth callback route."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import AuditEntry, Integration
from agent_platform.redis_client import get_redis
from services.access import Actor
from services.integrations import connections, sign_in

CLIENTS = {
    "slack": ("slack-client-id", "slack-client-secret"),
    "github": ("github-client-id", "github-client-secret"),
    "google": ("google-client-id", "google-client-secret"),
    "linkedin": ("linkedin-client-id", "linkedin-client-secret"),
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


def callback(fake: Any, authorize_url: str, actor: Actor, *, deny: bool = False) -> str:
    """Click Allow (or Deny) at the fake provider, follow its redirect into our real callback
    route, then finish on the Integrations page's behalf as `actor`; returns the connection
    name. Raises the DomainError the page would show."""
    back = urlsplit(fake.deny(authorize_url) if deny else fake.approve(authorize_url))
    response = TestClient(create_api()).get(f"{back.path}?{back.query}", follow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/integrations"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    return asyncio.run(
        sign_in.complete(
            session_scope,
            actor,
            get_redis(),
            state=query.get("oauth_state", ""),
            code=query.get("oauth_code", ""),
            error=query.get("oauth_error", ""),
        )
    )


def connect(session: Session, actor: Actor, fake: Any, provider: str) -> Integration:
    url = connections.start_sign_in(session, actor, get_redis(), provider_key=provider)
    callback(fake, url, actor)
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
