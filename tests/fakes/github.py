"""Fake GitHub: OAuth app flow and the REST endpoints the platform calls, on one local origin."""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

from tests.fakes.http_fake import RecordedRequest, Response, json_response, now_iso
from tests.fakes.oauth import OAuthFake, Token, TokenFailure

_GH_DOCS = "https://docs.github.com/rest"
_GH_TOKEN_ERROR_DOCS = (
    "https://docs.github.com/apps/managing-oauth-apps/"
    "troubleshooting-oauth-app-access-token-request-errors/"
)
GITHUB_API_VERSIONS = ("2022-11-28", "2026-03-10")


class FakeGitHub(OAuthFake):
    """GitHub REST API (api.github.com paths) + OAuth app flow (github.com/login/oauth/*).

    ``issues`` holds every issue (seeded ones first) as the API returns it; ``created`` only
    those created through the API. ``repos`` are the repositories that exist ("owner/name").
    """

    title = "GitHub"
    authorize_path = "/login/oauth/authorize"
    access_prefix = "gho_"
    refresh_prefix = "ghr_"
    scope_out_sep = ","
    account_label = "your GitHub account"

    def __init__(
        self,
        client_id: str = "Ov23liFakeClientId01",
        client_secret: str = "fake-github-client-secret-0123456789abcdef",
        redirect_uri: str | None = None,
        *,
        expires_in: int | None = None,
        login: str = "octo-fake",
        repos: Iterable[str] = ("octo-fake/hello-world",),
        refresh_token_expires_in: int = 15897600,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``expires_in`` set = expiring user tokens (with ``ghr_`` refresh tokens)."""
        super().__init__(
            client_id, client_secret, redirect_uri, expires_in=expires_in, host=host, port=port
        )
        self.login = login
        self.refresh_token_expires_in = refresh_token_expires_in
        self.repos: list[str] = list(repos)
        self.issues: list[dict[str, Any]] = []
        self.created: list[dict[str, Any]] = []
        self.rate_limit = {"core": 5000, "search": 30}
        self._used = {"core": 0, "search": 0}
        self._ids = itertools.count(2_000_000_001)
        if self.repos:
            seeds = (
                ("Crash when saving settings", "Saving twice crashes the app.", ["bug"], "open"),
                ("Add dark mode", "A dark theme would be easier on the eyes.", ["enhancement"],
                 "open"),
                ("Typo in README", "'recieve' should be 'receive'.", ["documentation"],
                 "closed"),
            )  # fmt: skip
            for title, body, labels, state in seeds:
                self._add_issue(self.repos[0], title, body, labels, state)

    # ------------------------------------------------------------------ helpers

    def _user(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "id": 1,
            "node_id": "MDQ6VXNlcjE=",
            "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4",
            "gravatar_id": "",
            "url": f"https://api.github.com/users/{self.login}",
            "html_url": f"https://github.com/{self.login}",
            "type": "User",
            "site_admin": False,
        }

    def _repo(self, owner: str, name: str) -> str | None:
        wanted = f"{owner}/{name}".lower()
        return next((r for r in self.repos if r.lower() == wanted), None)

    def _add_issue(
        self, repo: str, title: str, body: str | None, labels: list[str], state: str = "open"
    ) -> dict[str, Any]:
        with self._lock:
            number = 1 + sum(1 for i in self.issues if i["_repo"] == repo)
            issue_id = next(self._ids)
            now = now_iso()
            api = f"https://api.github.com/repos/{repo}"
            issue = {
                "url": f"{api}/issues/{number}",
                "repository_url": api,
                "html_url": f"https://github.com/{repo}/issues/{number}",
                "id": issue_id,
                "node_id": "I_kw" + base64.b64encode(str(issue_id).encode()).decode().rstrip("="),
                "number": number,
                "title": title,
                "user": self._user(),
                "labels": [
                    {
                        "id": 1000 + n,
                        "node_id": f"LA_fake{n}",
                        "url": f"{api}/labels/{name}",
                        "name": name,
                        "color": "ededed",
                        "default": False,
                        "description": None,
                    }
                    for n, name in enumerate(labels)
                ],
                "state": state,
                "locked": False,
                "assignee": None,
                "assignees": [],
                "milestone": None,
                "comments": 0,
                "created_at": now,
                "updated_at": now,
                "closed_at": now if state == "closed" else None,
                "author_association": "OWNER",
                "body": body,
                "_repo": repo,
            }
            self.issues.append(issue)
            return issue

    @staticmethod
    def _public(issue: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in issue.items() if not k.startswith("_")}

    def _gh(
        self,
        req: RecordedRequest,
        body: Any,
        status: int = 200,
        *,
        resource: str = "core",
        token: Token | None = None,
        accepted: str = "",
    ) -> Response:
        with self._lock:
            self._used[resource] += 1
            used = self._used[resource]
        limit = self.rate_limit[resource]
        headers = {
            "X-GitHub-Api-Version-Selected": req.header("x-github-api-version")
            or GITHUB_API_VERSIONS[0],
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Request-Id": secrets.token_hex(8).upper(),
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": resource,
            "X-Accepted-OAuth-Scopes": accepted,
        }
        if token is not None and token.scopes is not None:
            headers["X-OAuth-Scopes"] = ", ".join(token.scopes)
        if body is None:
            return Response(status, b"", headers)
        return json_response(body, status, headers)

    def _gh_error(
        self, req: RecordedRequest, status: int, message: str, docs: str = _GH_DOCS, **extra: Any
    ) -> Response:
        body = {"message": message, **extra, "documentation_url": docs, "status": str(status)}
        return self._gh(req, body, status)

    def _api_auth(
        self, req: RecordedRequest, docs: str, optional: bool = False
    ) -> tuple[Response | None, Token | None]:
        """(error response or None, token). GitHub answers 401 Bad credentials for unknown,
        expired and revoked tokens alike."""
        version = req.header("x-github-api-version")
        if version is not None and version not in GITHUB_API_VERSIONS:
            message = f"API version {version} is not supported."
            versions_doc = f"{_GH_DOCS}/about-the-rest-api/api-versions"
            return self._gh_error(req, 400, message, versions_doc), None
        state, token = self._token_state(req.bearer)
        if state == "missing":
            if optional:
                return None, None
            return self._gh_error(req, 401, "Requires authentication", docs), None
        if state != "ok":
            return self._gh_error(req, 401, "Bad credentials", _GH_DOCS), None
        return None, token

    # ------------------------------------------------------------------ routes

    def _routes(self) -> list[tuple[str, str, Callable[..., Response]]]:
        return [
            ("GET", r"/login/oauth/authorize", self._authorize_get),
            ("POST", r"/login/oauth/authorize", self._authorize_post),
            ("POST", r"/login/oauth/access_token", self._token_endpoint),
            ("DELETE", r"/applications/([^/]+)/token", self._delete_token),
            ("POST", r"/applications/([^/]+)/token", self._check_token),
            ("DELETE", r"/applications/([^/]+)/grant", self._delete_grant),
            ("GET", r"/user", self._get_user),
            ("POST", r"/repos/([^/]+)/([^/]+)/issues", self._create_issue),
            ("GET", r"/repos/([^/]+)/([^/]+)/issues", self._list_issues),
            ("GET", r"/search/issues", self._search_issues),
        ]

    def _not_found(self, req: RecordedRequest, path_matched: bool) -> Response:
        return self._gh_error(req, 404, "Not Found")

    def _token_error(self, req: RecordedRequest, failure: TokenFailure) -> Response:
        error, description = {
            "unknown_client": (
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            ),
            "bad_secret": (
                "incorrect_client_credentials",
                "The client_id and/or client_secret passed are incorrect.",
            ),
            "redirect_mismatch": (
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            ),
            "bad_refresh": (
                "bad_refresh_token",
                "The refresh token passed is incorrect or expired.",
            ),
            "unsupported_grant": ("unsupported_grant_type", failure.detail),
        }.get(failure.kind, ("bad_verification_code", "The code passed is incorrect or expired."))
        anchor = error.replace("_", "-")
        body = {
            "error": error,
            "error_description": description,
            "error_uri": _GH_TOKEN_ERROR_DOCS + "#" + anchor,
        }
        return self._token_response(req, body)

    def _token_success(
        self, req: RecordedRequest, access: Token, refresh: Token | None, grant_type: str
    ) -> Response:
        body: dict[str, Any] = {"access_token": access.value}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if refresh is not None:
            body["refresh_token"] = refresh.value
            body["refresh_token_expires_in"] = self.refresh_token_expires_in
        body["scope"] = self.scope_out_sep.join(access.scopes or ())
        body["token_type"] = "bearer"
        return self._token_response(req, body)

    @staticmethod
    def _token_response(req: RecordedRequest, body: dict[str, Any]) -> Response:
        """JSON when asked with ``Accept: application/json``, form-encoded otherwise (HTTP 200
        either way, errors included, as on github.com)."""
        if "json" in (req.header("accept") or "").lower():
            return json_response(body)
        encoded = urlencode({k: str(v) for k, v in body.items()}).encode()
        return Response(
            200, encoded, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        )

    def _app_auth(self, req: RecordedRequest, client_id: str) -> Response | None:
        basic = req.basic
        if basic is None or basic != (self.client_id, self.client_secret):
            docs = f"{_GH_DOCS}/apps/oauth-applications"
            return self._gh_error(req, 401, "Requires authentication", docs)
        if client_id != self.client_id:
            return self._gh_error(req, 404, "Not Found")
        return None

    def _app_token(self, req: RecordedRequest) -> tuple[Response | None, Token | None]:
        value = req.json.get("access_token") if isinstance(req.json, dict) else None
        if not value:
            errors = [{"resource": "OauthAccess", "code": "missing_field", "field": "access_token"}]
            return self._gh_error(req, 422, "Validation Failed", errors=errors), None
        with self._lock:
            token = self._tokens.get(value)
        if token is None or token.kind != "access" or value in self.revoked:
            return self._gh_error(req, 404, "Not Found"), None
        return None, token

    def _app_request(
        self, req: RecordedRequest, client_id: str
    ) -> tuple[Response | None, Token | None]:
        """The app's basic auth, then the token named in the body (either answer an error)."""
        error = self._app_auth(req, client_id)
        if error is not None:
            return error, None
        return self._app_token(req)

    def _delete_token(self, req: RecordedRequest, client_id: str) -> Response:
        error, token = self._app_request(req, client_id)
        if error is not None:
            return error
        assert token is not None
        self.revoke(token.value)
        return self._gh(req, None, 204)

    def _delete_grant(self, req: RecordedRequest, client_id: str) -> Response:
        error, token = self._app_request(req, client_id)
        if error is not None:
            return error
        assert token is not None
        self._revoke_grant(token.grant_id)
        return self._gh(req, None, 204)

    def _check_token(self, req: RecordedRequest, client_id: str) -> Response:
        error, token = self._app_request(req, client_id)
        if error is not None:
            return error
        assert token is not None
        state, _ = self._token_state(token.value)
        if state != "ok":
            return self._gh_error(req, 404, "Not Found")
        body = {
            "id": token.grant_id,
            "token": token.value,
            "token_last_eight": token.value[-8:],
            "scopes": list(token.scopes or ()),
            "app": {"name": "Fake App", "url": "https://example.com", "client_id": self.client_id},
            "user": self._user(),
        }
        return self._gh(req, body)

    def _get_user(self, req: RecordedRequest) -> Response:
        error, token = self._api_auth(req, f"{_GH_DOCS}/users/users#get-the-authenticated-user")
        if error is not None:
            return error
        user = {
            **self._user(),
            "name": "Octo Fake",
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "public_repos": len(self.repos),
            "followers": 0,
            "following": 0,
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2020-01-01T00:00:00Z",
        }
        return self._gh(req, user, token=token)

    def _create_issue(self, req: RecordedRequest, owner: str, name: str) -> Response:
        docs = f"{_GH_DOCS}/issues/issues#create-an-issue"
        error, token = self._api_auth(req, docs)
        if error is not None:
            return error
        repo = self._repo(owner, name)
        if repo is None or not self._has_scope(token, ("repo", "public_repo")):
            return self._gh_error(req, 404, "Not Found", docs)
        if not isinstance(req.json, dict):
            return self._gh_error(req, 400, "Problems parsing JSON", docs)
        title = req.json.get("title")
        if not isinstance(title, str | int) or title == "":
            errors = [{"resource": "Issue", "code": "missing_field", "field": "title"}]
            return self._gh_error(req, 422, "Validation Failed", docs, errors=errors)
        labels = req.json.get("labels") or []
        names = (
            [lb.get("name") if isinstance(lb, dict) else lb for lb in labels]
            if isinstance(labels, list)
            else [None]
        )
        if not all(isinstance(n, str) for n in names):
            errors = [{"resource": "Issue", "code": "invalid", "field": "labels"}]
            return self._gh_error(req, 422, "Validation Failed", docs, errors=errors)
        body = req.json.get("body")
        issue = self._add_issue(repo, str(title), body if isinstance(body, str) else None, names)
        with self._lock:
            self.created.append(issue)
        resp = self._gh(req, self._public(issue), 201, token=token, accepted="repo")
        resp.headers["Location"] = issue["url"]
        return resp

    def _list_issues(self, req: RecordedRequest, owner: str, name: str) -> Response:
        error, token = self._api_auth(req, f"{_GH_DOCS}/issues/issues", optional=True)
        if error is not None:
            return error
        repo = self._repo(owner, name)
        if repo is None:
            return self._gh_error(req, 404, "Not Found", f"{_GH_DOCS}/issues/issues")
        state = req.query.get("state", "open")
        with self._lock:
            items = [
                self._public(i)
                for i in reversed(self.issues)
                if i["_repo"] == repo and (state == "all" or i["state"] == state)
            ]
        return self._gh(req, items, token=token)

    def _search_issues(self, req: RecordedRequest) -> Response:
        docs = f"{_GH_DOCS}/search/search#search-issues-and-pull-requests"
        error, token = self._api_auth(req, docs, optional=True)
        if error is not None:
            return error
        q = req.query.get("q", "").strip()
        if not q:
            errors = [{"resource": "Search", "field": "q", "code": "missing"}]
            return self._gh_error(req, 422, "Validation Failed", docs, errors=errors)
        terms: list[str] = []
        filters: list[Callable[[dict[str, Any]], bool]] = []
        for raw in re.findall(r'[^\s"]+:"[^"]*"|"[^"]*"|\S+', q):
            key, sep, value = raw.partition(":")
            value = value.strip('"').lower()
            key = key.lower()
            if not sep or key not in {"repo", "is", "state", "label", "author", "in", "type"}:
                terms.append(raw.strip('"').lower())
            elif key == "repo":
                if self._repo(*(value.split("/", 1) + [""])[:2]) is None:
                    message = (
                        "The listed users and repositories cannot be searched either because "
                        "the resources do not exist or you do not have permission to view them."
                    )
                    errors = [{"message": message, "resource": "Search", "field": "q",
                               "code": "invalid"}]  # fmt: skip
                    return self._gh_error(req, 422, "Validation Failed", docs, errors=errors)
                filters.append(lambda i, v=value: i["_repo"].lower() == v)
            elif key in ("is", "state") and value in ("open", "closed"):
                filters.append(lambda i, v=value: i["state"] == v)
            elif key in ("is", "type") and value in ("pr", "pull-request"):
                filters.append(lambda _i: False)  # the fake holds issues only
            elif key == "label":
                filters.append(lambda i, v=value: v in {lb["name"].lower() for lb in i["labels"]})
            elif key == "author":
                filters.append(lambda i, v=value: i["user"]["login"].lower() == v)
        with self._lock:
            found = [
                i
                for i in reversed(self.issues)
                if all(f(i) for f in filters)
                and all(t in f"{i['title']} {i['body'] or ''}".lower() for t in terms)
            ]
        try:
            per_page = max(1, min(int(req.query.get("per_page") or 30), 100))
            page = max(1, int(req.query.get("page") or 1))
        except ValueError:
            per_page, page = 30, 1
        items = [
            {**self._public(i), "score": 1.0}
            for i in found[(page - 1) * per_page : page * per_page]
        ]
        body = {"total_count": len(found), "incomplete_results": False, "items": items}
        return self._gh(req, body, resource="search", token=token)
