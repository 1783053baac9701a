"""Slack: Web API methods under slack.com/api, OAuth v2 (bot token)."""

from __future__ import annotations

from typing import Any

from services.integrations.catalog import Action, ApiRequest, OAuthSpec, Provider, object_schema

AUTH_ERRORS = {"invalid_auth", "token_expired", "token_revoked", "not_authed", "account_inactive"}


def _error(status: int, body: Any) -> str | None:
    """Slack answers HTTP 200 with {"ok": false, "error": "..."} for most failures."""
    if isinstance(body, dict) and body.get("ok") is False:
        return f"Slack error: {body.get('error', 'unknown')}"
    if not 200 <= status < 300:
        return f"Slack answered HTTP {status}"
    return None


def _auth_failed(status: int, body: Any) -> bool:
    return status == 401 or (isinstance(body, dict) and body.get("error") in AUTH_ERRORS)


def _post(args: dict[str, Any], _settings: dict[str, Any]) -> ApiRequest:
    return ApiRequest(
        "POST", "/api/chat.postMessage", json={"channel": args["channel"], "text": args["text"]}
    )


def _list(args: dict[str, Any], _settings: dict[str, Any]) -> ApiRequest:
    limit = int(args.get("limit") or 100)
    return ApiRequest(
        "GET",
        "/api/conversations.list",
        params={"limit": max(1, min(limit, 1000)), "exclude_archived": "true"},
    )


def _shape_post(body: Any) -> Any:
    return {"channel": body.get("channel"), "ts": body.get("ts")}


def _shape_list(body: Any) -> Any:
    return {
        "channels": [
            {"id": c.get("id"), "name": c.get("name"), "is_private": c.get("is_private", False)}
            for c in body.get("channels", [])
        ]
    }


PROVIDER = Provider(
    key="slack",
    label="Slack",
    auth_kinds=("oauth2",),
    hosts={"api": "https://slack.com"},
    oauth=OAuthSpec(
        authorize_url="https://slack.com/oauth/v2/authorize",
        token_url="https://slack.com/api/oauth.v2.access",
        scopes=("chat:write", "channels:read"),
        scope_separator=",",
        revoke="slack",
    ),
    check=ApiRequest("POST", "/api/auth.test"),
    error_of=_error,
    auth_failed=_auth_failed,
    account_of=lambda body: str(body.get("team") or body.get("team_id") or ""),
    actions=(
        Action(
            name="slack.post_message",
            description="Post a message to a Slack channel.",
            parameters=object_schema(
                {
                    "channel": {"type": "string", "description": "Channel id or #name"},
                    "text": {"type": "string", "description": "Message text (mrkdwn)"},
                },
                ["channel", "text"],
            ),
            build=_post,
            scopes=("chat:write",),
            side_effect=True,
            shape=_shape_post,
        ),
        Action(
            name="slack.list_channels",
            description="List the public channels of the Slack workspace.",
            parameters=object_schema(
                {"limit": {"type": "integer", "minimum": 1, "maximum": 1000}}, []
            ),
            build=_list,
            scopes=("channels:read",),
            shape=_shape_list,
        ),
    ),
)
