"""GitHub: REST API v3 at api.github.com, OAuth apps at github.com/login/oauth."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from services.integrations.catalog import (
    Action,
    ApiRequest,
    OAuthSpec,
    Provider,
    default_error,
    object_schema,
)

REPO_PART = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,100}$"}


def _issue(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "number": body.get("number"),
        "title": body.get("title"),
        "state": body.get("state"),
        "url": body.get("html_url"),
    }


def _create(args: dict[str, Any], _settings: dict[str, Any]) -> ApiRequest:
    payload: dict[str, Any] = {"title": args["title"]}
    if args.get("body"):
        payload["body"] = args["body"]
    if args.get("labels"):
        payload["labels"] = list(args["labels"])
    path = f"/repos/{quote(args['owner'], safe='')}/{quote(args['repo'], safe='')}/issues"
    return ApiRequest("POST", path, json=payload)


def _search(args: dict[str, Any], _settings: dict[str, Any]) -> ApiRequest:
    per_page = max(1, min(int(args.get("per_page") or 10), 50))
    return ApiRequest("GET", "/search/issues", params={"q": args["query"], "per_page": per_page})


PROVIDER = Provider(
    key="github",
    label="GitHub",
    auth_kinds=("oauth2",),
    hosts={"api": "https://api.github.com"},
    oauth=OAuthSpec(
        authorize_url="https://github.com/login/oauth/authorize",
        token_url="https://github.com/login/oauth/access_token",
        scopes=("repo",),
        revoke="github",
    ),
    check=ApiRequest("GET", "/user"),
    default_headers={
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    },
    error_of=default_error,
    auth_failed=lambda status, _body: status == 401,
    account_of=lambda body: str(body.get("login") or ""),
    actions=(
        Action(
            name="github.create_issue",
            description="Open an issue in a GitHub repository.",
            parameters=object_schema(
                {
                    "owner": REPO_PART,
                    "repo": REPO_PART,
                    "title": {"type": "string", "minLength": 1},
                    "body": {"type": "string"},
                    "labels": {"type": "array", "items": {"type": "string"}},
                },
                ["owner", "repo", "title"],
            ),
            build=_create,
            scopes=("repo",),
            side_effect=True,
            shape=_issue,
        ),
        Action(
            name="github.search_issues",
            description="Search GitHub issues and pull requests (GitHub search syntax).",
            parameters=object_schema(
                {
                    "query": {"type": "string", "description": "e.g. repo:owner/name is:open bug"},
                    "per_page": {"type": "integer", "minimum": 1, "maximum": 50},
                },
                ["query"],
            ),
            build=_search,
            shape=lambda body: {
                "total_count": body.get("total_count"),
                "items": [_issue(item) for item in body.get("items", [])],
            },
        ),
    ),
)
