"""A connection's credential: one JSON document in the secret store, never in the database.

Shapes by auth kind — oauth2: access_token, refresh_token?, expires_at?; oauth2_custom: the
same plus client_secret; api_key: api_key; bearer: token; basic: username, password.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlmodel import Session

from agent_platform.models import Integration
from services import secrets
from services.errors import Unavailable

SECRET_FIELDS = ("access_token", "refresh_token", "client_secret", "api_key", "token", "password")


def load(session: Session, integration: Integration) -> dict[str, Any]:
    raw = secrets.get(session, integration.credential_ref)
    try:
        blob = json.loads(raw)
    except ValueError:
        raise Unavailable(f"The credential of {integration.name!r} is unreadable.") from None
    return blob if isinstance(blob, dict) else {}


def save(session: Session, integration: Integration, blob: dict[str, Any]) -> None:
    secrets.put(session, integration.credential_ref, json.dumps(blob), org_id=integration.org_id)


def secret_values(blob: dict[str, Any]) -> list[str]:
    """What must never leave the proxy: every secret field, and the basic-auth pair."""
    values = [str(blob[k]) for k in SECRET_FIELDS if blob.get(k)]
    if blob.get("username") and blob.get("password"):
        values.append(f"{blob['username']}:{blob['password']}")
    return values


def auth_headers(auth_kind: str, settings: dict[str, Any], blob: dict[str, Any]) -> dict[str, str]:
    if auth_kind in ("oauth2", "oauth2_custom"):
        return {"Authorization": f"Bearer {blob.get('access_token', '')}"}
    if auth_kind == "bearer":
        return {"Authorization": f"Bearer {blob.get('token', '')}"}
    if auth_kind == "api_key":
        return {str(settings.get("header_name") or "X-API-Key"): str(blob.get("api_key", ""))}
    if auth_kind == "basic":
        pair = f"{blob.get('username', '')}:{blob.get('password', '')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {}
