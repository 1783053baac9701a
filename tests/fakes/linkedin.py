"""Fake LinkedIn: OAuth, OpenID userinfo and the Posts API, on one local origin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.fakes.http_fake import RecordedRequest, Response, json_response
from tests.fakes.oauth import AuthRequest, OAuthFake, Token, TokenFailure


class FakeLinkedIn(OAuthFake):
    """LinkedIn: OAuth 2.0 (www.linkedin.com/oauth/v2/*), OpenID userinfo and the Posts API
    (api.linkedin.com/rest/posts) on one origin.

    Member tokens have no refresh token (LinkedIn gives those to approved partners only). The
    Posts API wants ``LinkedIn-Version`` and ``X-Restli-Protocol-Version: 2.0.0``, answers 201
    with the new post's URN in ``x-restli-id`` and an empty body; ``posts`` keeps them.
    """

    title = "LinkedIn"
    authorize_path = "/oauth/v2/authorization"
    access_prefix = "AQV"
    refresh_prefix = "AQX"
    scope_out_sep = ","
    redirect_uri_required = True
    response_type_required = True
    scope_required = True
    grant_type_required = True
    rotate_refresh = False

    def __init__(
        self,
        client_id: str = "86fakelinkedin",
        client_secret: str = "fake-linkedin-secret",
        redirect_uri: str | None = None,
        *,
        expires_in: int | None = 5_184_000,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(
            client_id, client_secret, redirect_uri, expires_in=expires_in, host=host, port=port
        )
        self.sub, self.name = "yrZCpj2Z12", "Fake Member"
        self.account_label = f"the LinkedIn member {self.name}"
        self.posts: list[dict[str, Any]] = []

    def _issues_refresh(self, request: AuthRequest) -> bool:
        return False

    def _routes(self) -> list[tuple[str, str, Callable[..., Response]]]:
        return [
            ("GET", r"/oauth/v2/authorization", self._authorize_get),
            ("POST", r"/oauth/v2/authorization", self._authorize_post),
            ("POST", r"/oauth/v2/accessToken", self._token_endpoint),
            ("POST", r"/oauth/v2/revoke", self._revoke),
            ("GET", r"/v2/userinfo", self._userinfo),
            ("POST", r"/rest/posts", self._create_post),
        ]

    def _token_error(self, req: RecordedRequest, failure: TokenFailure) -> Response:
        status = 401 if failure.kind in ("unknown_client", "bad_secret") else 400
        error = "invalid_client" if status == 401 else "invalid_request"
        if failure.kind in ("bad_code", "pkce_mismatch", "pkce_missing", "redirect_mismatch"):
            error = "invalid_grant" if failure.kind != "redirect_mismatch" else "invalid_request"
        return json_response({"error": error, "error_description": failure.detail}, status)

    def _token_success(
        self, req: RecordedRequest, access: Token, refresh: Token | None, grant_type: str
    ) -> Response:
        body: dict[str, Any] = {"access_token": access.value, "token_type": "Bearer"}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        body["scope"] = ",".join(access.scopes or ())
        return json_response(body)

    def _revoke(self, req: RecordedRequest) -> Response:
        params = self._token_params(req)
        if (
            params.get("client_id") != self.client_id
            or params.get("client_secret") != self.client_secret
        ):
            return json_response({"error": "invalid_client"}, 401)
        with self._lock:
            token = self._tokens.get(params.get("token", ""))
        if token is not None:
            self._revoke_grant(token.grant_id)
        return Response(200, b"")

    def _member(self, req: RecordedRequest, scope: str = "") -> tuple[Response | None, Any]:
        state, token = self._token_state(req.bearer)
        if state != "ok":
            return (
                json_response(
                    {
                        "status": 401,
                        "serviceErrorCode": 65600,
                        "code": "INVALID_ACCESS_TOKEN",
                        "message": "Invalid access token",
                    },
                    401,
                ),
                None,
            )
        if scope and not self._has_scope(token, [scope]):
            return (
                json_response(
                    {
                        "status": 403,
                        "serviceErrorCode": 100,
                        "code": "ACCESS_DENIED",
                        "message": "Not enough permissions to access: posts.CREATE.20241001",
                    },
                    403,
                ),
                None,
            )
        return None, token

    def _userinfo(self, req: RecordedRequest) -> Response:
        error, _token = self._member(req)
        if error is not None:
            return error
        return json_response(
            {"sub": self.sub, "name": self.name, "email": "member@example.com", "locale": "en_US"}
        )

    def _create_post(self, req: RecordedRequest) -> Response:
        error, _token = self._member(req, "w_member_social")
        if error is not None:
            return error
        if req.header("x-restli-protocol-version") != "2.0.0" or not req.header("linkedin-version"):
            return json_response(
                {
                    "status": 400,
                    "code": "VERSION_MISSING",
                    "message": "A version header is required",
                },
                400,
            )
        body = req.json if isinstance(req.json, dict) else {}
        if body.get("author") != f"urn:li:person:{self.sub}":
            return json_response(
                {"status": 422, "code": "UNPROCESSABLE_ENTITY", "message": "author mismatch"}, 422
            )
        if not str(body.get("commentary", "")).strip():
            return json_response(
                {"status": 422, "code": "UNPROCESSABLE_ENTITY", "message": "commentary required"},
                422,
            )
        urn = f"urn:li:share:{7000000000000000000 + len(self.posts)}"
        with self._lock:
            self.posts.append({**body, "id": urn})
        return Response(201, b"", {"x-restli-id": urn})
