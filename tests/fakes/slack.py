"""Fake Slack: OAuth v2 and the Web API methods the platform calls, on one local origin."""

from __future__ import annotations

import base64
import binascii
import itertools
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from tests.fakes.http_fake import RecordedRequest, Response, json_response, random_string
from tests.fakes.oauth import OAuthFake, Token, TokenFailure

DEFAULT_SLACK_CHANNELS: tuple[dict[str, Any], ...] = (
    {"id": "C0GENERAL", "name": "general", "is_private": False, "is_general": True,
     "is_member": True, "num_members": 12, "purpose": "Company-wide announcements"},
    {"id": "C0RANDOM", "name": "random", "is_private": False, "is_general": False,
     "is_member": True, "num_members": 9, "purpose": "Non-work banter"},
    {"id": "C0PRIVATE", "name": "leadership", "is_private": True, "is_general": False,
     "is_member": False, "num_members": 3, "purpose": "Leadership only"},
)  # fmt: skip

_SLACK_AUTH_ERRORS = {"missing": "not_authed", "invalid": "invalid_auth"}
_SLACK_AUTH_ERRORS |= {"revoked": "token_revoked", "expired": "token_expired"}


class FakeSlack(OAuthFake):
    """Slack Web API + OAuth v2 on slack.com paths (``/oauth/v2/authorize``, ``/api/*``).

    Errors are HTTP 200 ``{"ok": false, "error": ...}`` as on Slack: ``not_authed`` (no
    token), ``invalid_auth`` (unknown token), ``token_expired``, ``token_revoked``,
    ``missing_scope``, ``channel_not_found``, ``not_in_channel``, ``no_text``.
    ``posted`` lists the messages posted; ``channels`` is the (mutable) channel list.
    """

    title = "Slack"
    authorize_path = "/oauth/v2/authorize"
    access_prefix = "xoxb-"
    refresh_prefix = "xoxe-1-"
    scope_out_sep = ","
    scope_required = True

    def __init__(
        self,
        client_id: str = "1111111111.2222222222",
        client_secret: str = "fake-slack-client-secret",
        redirect_uri: str | None = None,
        *,
        expires_in: int | None = None,
        team_id: str = "T0FAKETEAM",
        team_name: str = "Fake Team",
        channels: Iterable[dict[str, Any]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``expires_in`` set = Slack token rotation on (expiring tokens + refresh tokens)."""
        super().__init__(
            client_id, client_secret, redirect_uri, expires_in=expires_in, host=host, port=port
        )
        self.team_id, self.team_name = team_id, team_name
        self.account_label = f"the {team_name} Slack workspace"
        self.app_id, self.bot_id = "A0FAKEAPP", "B0FAKEBOT"
        self.bot_user_id, self.authed_user_id = "U0FAKEBOT", "U0FAKEUSER"
        source = DEFAULT_SLACK_CHANNELS if channels is None else channels
        self.channels: list[dict[str, Any]] = [dict(c) for c in source]
        self.posted: list[dict[str, Any]] = []
        self._ts = itertools.count(100, 100)

    def _token_value(self, prefix: str) -> str:
        if prefix == self.access_prefix:
            digits = f"{secrets.randbelow(10**12):012d}-{secrets.randbelow(10**13):013d}"
            return f"{prefix}{digits}-{random_string(24)}"
        return f"{prefix}{random_string(146)}"

    def _new_code(self) -> str:
        return f"{secrets.randbelow(10**10)}.{secrets.randbelow(10**13)}.{secrets.token_hex(32)}"

    def _routes(self) -> list[tuple[str, str, Callable[..., Response]]]:
        return [
            ("GET", r"/oauth/v2/authorize", self._authorize_get),
            ("POST", r"/oauth/v2/authorize", self._authorize_post),
            ("*", r"/api/([A-Za-z0-9_.]+)", self._api),
        ]

    @staticmethod
    def _ok(body: dict[str, Any], token: Token | None = None) -> Response:
        headers = {"X-Slack-Req-Id": secrets.token_hex(16)}
        if token is not None and token.scopes is not None:
            headers["X-OAuth-Scopes"] = ",".join(token.scopes)
        return json_response(body, 200, headers)

    def _fail(self, error: str, **extra: Any) -> Response:
        return self._ok({"ok": False, "error": error, **extra})

    def _token_error(self, req: RecordedRequest, failure: TokenFailure) -> Response:
        error = {
            "unknown_client": "invalid_client_id",
            "bad_secret": "bad_client_secret",
            "invalid_request": "invalid_arguments",
            "bad_code": "invalid_code",
            "redirect_mismatch": "bad_redirect_uri",
            "pkce_missing": "invalid_grant",
            "pkce_mismatch": "invalid_grant",
            "bad_refresh": "invalid_refresh_token",
            "unsupported_grant": "invalid_grant_type",
        }[failure.kind]
        if failure.kind == "invalid_request" and "code" in failure.detail:
            error = "invalid_code"
        return self._fail(error)

    def _token_success(
        self, req: RecordedRequest, access: Token, refresh: Token | None, grant_type: str
    ) -> Response:
        body: dict[str, Any] = {
            "ok": True,
            "app_id": self.app_id,
            "authed_user": {"id": self.authed_user_id},
            "scope": self.scope_out_sep.join(access.scopes or ()),
            "token_type": "bot",
            "access_token": access.value,
            "bot_user_id": self.bot_user_id,
            "team": {"id": self.team_id, "name": self.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if refresh is not None:
            body["refresh_token"] = refresh.value
        return self._ok(body)

    def _find_channel(self, ref: str) -> dict[str, Any] | None:
        name = ref.lstrip("#")
        with self._lock:
            for channel in self.channels:
                if ref == channel["id"] or name == channel["name"]:
                    return channel
        return None

    def _api(self, req: RecordedRequest, method: str) -> Response:
        if method == "oauth.v2.access":
            if req.method != "POST":
                return self._fail("invalid_arguments")
            return self._token_endpoint(req)
        handlers: dict[str, tuple[tuple[str, ...], Callable[..., Response]]] = {
            "api.test": ((), lambda _r, _t, p: self._ok({"ok": True, "args": p})),
            "auth.test": ((), self._auth_test),
            "auth.revoke": ((), self._auth_revoke),
            "chat.postMessage": (("chat:write", "chat:write:bot"), self._post_message),
            "conversations.list": (("channels:read", "groups:read"), self._list_channels),
        }
        if method not in handlers:
            return self._fail("unknown_method", req_method=method)
        params = req.params
        params.pop("token", None)
        if method == "api.test":
            return handlers[method][1](req, None, params)
        # Slack takes the token from the Authorization header or a form/query `token` field.
        value = req.bearer or req.form.get("token") or req.query.get("token")
        state, token = self._token_state(value)
        if state != "ok":
            return self._fail(_SLACK_AUTH_ERRORS[state])
        scopes, handler = handlers[method]
        if scopes and not self._has_scope(token, scopes):
            provided = ",".join((token.scopes or ()) if token else ())
            return self._fail("missing_scope", needed=scopes[0], provided=provided)
        return handler(req, token, params)

    def _auth_test(self, _req: RecordedRequest, token: Token, _params: dict[str, Any]) -> Response:
        return self._ok(
            {
                "ok": True,
                "url": "https://fake-team.slack.com/",
                "team": self.team_name,
                "user": "fakebot",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            },
            token,
        )

    def _auth_revoke(self, _req: RecordedRequest, token: Token, params: dict[str, Any]) -> Response:
        if str(params.get("test", "")).lower() in ("1", "true"):
            return self._ok({"ok": True, "revoked": False}, token)
        self.revoke(token.value)
        return self._ok({"ok": True, "revoked": True})

    def _post_message(
        self, _req: RecordedRequest, token: Token, params: dict[str, Any]
    ) -> Response:
        channel = self._find_channel(str(params.get("channel") or ""))
        if channel is None:
            return self._fail("channel_not_found")
        if channel.get("is_archived"):
            return self._fail("is_archived")
        if not channel.get("is_member", True):
            return self._fail("not_in_channel")
        text = params.get("text")
        if not text and not params.get("blocks") and not params.get("attachments"):
            return self._fail("no_text")
        ts = f"1700000000.{next(self._ts):06d}"
        message: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "text": text or "",
            "team": self.team_id,
        }
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        with self._lock:
            self.posted.append({"channel": channel["id"], **message, "params": params})
        return self._ok({"ok": True, "channel": channel["id"], "ts": ts, "message": message}, token)

    def _list_channels(
        self, _req: RecordedRequest, token: Token, params: dict[str, Any]
    ) -> Response:
        types = set(str(params.get("types") or "public_channel").split(","))
        exclude_archived = str(params.get("exclude_archived", "")).lower() in ("1", "true")
        try:
            limit = max(1, min(int(params.get("limit") or 100), 1000))
            cursor = str(params.get("cursor") or "")
            offset = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        except (ValueError, IndexError, binascii.Error, UnicodeDecodeError):
            return self._fail("invalid_cursor")
        with self._lock:
            selected = [
                c
                for c in self.channels
                if ("private_channel" if c.get("is_private") else "public_channel") in types
                and not (exclude_archived and c.get("is_archived"))
            ]
        page = selected[offset : offset + limit]
        more = offset + limit < len(selected)
        next_cursor = base64.b64encode(f"next:{offset + limit}".encode()).decode() if more else ""
        channels = [
            {
                "id": c["id"],
                "name": c["name"],
                "is_channel": not c.get("is_private", False),
                "is_group": bool(c.get("is_private", False)),
                "is_im": False,
                "is_mpim": False,
                "is_private": bool(c.get("is_private", False)),
                "created": 1600000000,
                "is_archived": bool(c.get("is_archived", False)),
                "is_general": bool(c.get("is_general", False)),
                "name_normalized": c["name"],
                "is_shared": False,
                "is_member": bool(c.get("is_member", True)),
                "topic": {"value": "", "creator": "", "last_set": 0},
                "purpose": {"value": c.get("purpose", ""), "creator": "", "last_set": 0},
                "num_members": c.get("num_members", 1),
            }
            for c in page
        ]
        body = {"ok": True, "channels": channels, "response_metadata": {"next_cursor": next_cursor}}
        return self._ok(body, token)
