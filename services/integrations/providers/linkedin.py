"""LinkedIn: Sign In with LinkedIn (OpenID) + Share on LinkedIn (Posts API)."""

from __future__ import annotations

from typing import Any

from services.integrations.catalog import (
    Action,
    ApiRequest,
    OAuthSpec,
    Provider,
    default_error,
    object_schema,
)


def _post(args: dict[str, Any], settings: dict[str, Any]) -> ApiRequest:
    author = settings.get("account_id")
    if not author:
        raise ValueError("this connection does not know its LinkedIn member; reconnect it")
    return ApiRequest(
        "POST",
        "/rest/posts",
        json={
            "author": f"urn:li:person:{author}",
            "commentary": args["text"],
            "visibility": args.get("visibility") or "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        },
        headers={"LinkedIn-Version": "202410", "X-Restli-Protocol-Version": "2.0.0"},
    )


PROVIDER = Provider(
    key="linkedin",
    label="LinkedIn",
    auth_kinds=("oauth2",),
    hosts={"api": "https://api.linkedin.com"},
    oauth=OAuthSpec(
        authorize_url="https://www.linkedin.com/oauth/v2/authorization",
        token_url="https://www.linkedin.com/oauth/v2/accessToken",
        scopes=("openid", "profile", "w_member_social"),
        revoke="linkedin",
    ),
    check=ApiRequest("GET", "/v2/userinfo"),
    error_of=default_error,
    auth_failed=lambda status, _body: status == 401,
    account_of=lambda body: str(body.get("name") or body.get("sub") or ""),
    actions=(
        Action(
            name="linkedin.create_post",
            description="Publish a text post on the connected member's LinkedIn feed.",
            parameters=object_schema(
                {
                    "text": {"type": "string", "minLength": 1, "maxLength": 3000},
                    "visibility": {"type": "string", "enum": ["PUBLIC", "CONNECTIONS"]},
                },
                ["text"],
            ),
            build=_post,
            scopes=("w_member_social",),
            side_effect=True,
            shape=lambda body: {"created": True} if body in (None, "", {}) else body,
        ),
    ),
)
