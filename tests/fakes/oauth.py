"""OAuth 2.0 authorization server behaviour shared by the provider fakes: authorize, consent,
codes with PKCE, token exchange, refresh and revocation, with each provider's quirks as knobs."""

from __future__ import annotations

import html
import itertools
import re
import secrets
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tests.fakes.http_fake import (
    CODE_LIFETIME,
    PKCE_CHARS,
    FakeServer,
    RecordedRequest,
    Response,
    html_response,
    pkce_challenge,
    random_string,
    redirect,
)


class AuthorizeError(ValueError):
    """An authorize request so wrong that it cannot be redirected (unknown client, bad
    redirect_uri): the provider shows an error page; :meth:`OAuthFake.approve` raises this."""


class _RedirectError(Exception):
    def __init__(self, redirect_uri: str, state: str | None, error: str, description: str):
        super().__init__(description)
        self.redirect_uri, self.state = redirect_uri, state
        self.error, self.description = error, description


class TokenFailure(Exception):
    """A token-endpoint failure; ``kind`` is provider-neutral, mapped by ``_token_error``.

    Kinds: unknown_client, bad_secret, invalid_request, bad_code, redirect_mismatch,
    pkce_missing, pkce_mismatch, bad_refresh, unsupported_grant.
    """

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(detail or kind)
        self.kind, self.detail = kind, detail


@dataclass(frozen=True)
class AuthRequest:
    client_id: str
    redirect_uri: str
    redirect_given: bool
    scopes: tuple[str, ...]
    state: str | None
    challenge: str
    params: dict[str, str]


@dataclass
class _Code:
    value: str
    request: AuthRequest
    expires_at: float
    used: bool = False


@dataclass
class Token:
    value: str
    kind: str  # "access" | "refresh"
    client_id: str
    scopes: tuple[str, ...] | None  # None: planted by issue_token() without scopes = all
    grant_id: int
    expires_at: float | None = None
    force_expired: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class OAuthFake(FakeServer):
    """Authorization-code + PKCE (S256) flow shared by the provider fakes.

    Knobs: ``expire_all_tokens()``, ``set_token(value)``, ``issue_token()``, ``revoked``
    (a set of revoked token values; adding to it revokes), ``refresh_count``,
    ``exchange_count``, ``is_valid(token)``, and the ``approve()``/``deny()`` helpers.
    """

    authorize_path: ClassVar[str] = "/oauth/authorize"
    access_prefix: ClassVar[str] = "at_"
    refresh_prefix: ClassVar[str] = "rt_"
    scope_out_sep: ClassVar[str] = " "  # how the token response joins scopes
    redirect_uri_required: ClassVar[bool] = False
    response_type_required: ClassVar[bool] = False
    scope_required: ClassVar[bool] = False
    grant_type_required: ClassVar[bool] = False
    rotate_refresh: ClassVar[bool] = True
    account_label: str = "your account"  # shown on the consent page

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str | None = None,
        *,
        expires_in: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """``redirect_uri=None`` accepts any absolute http(s) callback (for tests that learn
        their callback URL late); otherwise it must match exactly. ``expires_in=None``: access
        tokens never expire by time (``expire_all_tokens()`` still works)."""
        super().__init__(host=host, port=port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.expires_in = expires_in
        self.revoked: set[str] = set()
        self.refresh_count = 0
        self.exchange_count = 0
        self._codes: dict[str, _Code] = {}
        self._tokens: dict[str, Token] = {}
        self._planted: deque[str] = deque()
        self._grant_ids = itertools.count(1)

    # ------------------------------------------------------------------ knobs

    def expire_all_tokens(self) -> None:
        """Every access token issued so far is now expired: API calls fail with the provider's
        expired/invalid-auth answer, so a client has to refresh."""
        with self._lock:
            for token in self._tokens.values():
                if token.kind == "access":
                    token.force_expired = True

    def set_token(self, value: str) -> None:
        """The next access token issued (code exchange or refresh) will be exactly ``value``;
        calls queue up. For canary tests that look for a known secret in logs or outputs."""
        with self._lock:
            self._planted.append(value)

    def issue_token(self, value: str | None = None, scopes: Iterable[str] | None = None) -> str:
        """A valid access token without going through OAuth (``scopes=None``: all allowed)."""
        with self._lock:
            if value is None:
                value = self._token_value(self.access_prefix)
            token = Token(value, "access", self.client_id, None, next(self._grant_ids))
            if scopes is not None:
                token.scopes = tuple(scopes)
            self._tokens[value] = token
            self.revoked.discard(value)
            return value

    def is_valid(self, token: str) -> bool:
        """Whether ``token`` would be accepted by the API right now."""
        return self._token_state(token)[0] == "ok"

    def revoke(self, token: str) -> None:
        self.revoked.add(token)

    # ------------------------------------------------------------------ authorize

    def _check_authorize(self, params: dict[str, str]) -> AuthRequest:
        """Validate an authorize request the way the provider does; raises AuthorizeError
        (error page) or _RedirectError (error sent back to the client's callback)."""
        client_id = params.get("client_id", "")
        if not client_id:
            raise AuthorizeError("Missing required parameter: client_id")
        if client_id != self.client_id:
            raise AuthorizeError(f"Unknown client_id: {client_id}")
        given = params.get("redirect_uri")
        if given:
            if urlsplit(given).scheme not in ("http", "https") or not urlsplit(given).netloc:
                raise AuthorizeError(f"redirect_uri is not an absolute http(s) URL: {given}")
            if self.redirect_uri is not None and given != self.redirect_uri:
                raise AuthorizeError(
                    f"redirect_uri did not match any configured URIs. Passed URI: {given}"
                )
            redirect_uri = given
        elif self.redirect_uri_required:
            raise AuthorizeError("Missing required parameter: redirect_uri")
        elif self.redirect_uri is not None:
            redirect_uri = self.redirect_uri
        else:
            raise AuthorizeError("No redirect_uri given and none registered")
        state = params.get("state")

        def fail(error: str, description: str) -> _RedirectError:
            return _RedirectError(redirect_uri, state, error, description)

        response_type = params.get("response_type")
        if (self.response_type_required or response_type is not None) and response_type != "code":
            raise fail("unsupported_response_type", f"Invalid response_type: {response_type}")
        scopes = tuple(s for s in re.split(r"[,\s]+", params.get("scope", "")) if s)
        if self.scope_required and not scopes:
            raise fail("invalid_scope", "Missing required parameter: scope")
        challenge = params.get("code_challenge", "")
        if not challenge:
            raise fail("invalid_request", "code_challenge is required (PKCE)")
        if params.get("code_challenge_method") != "S256":
            raise fail("invalid_request", "code_challenge_method must be S256")
        if not PKCE_CHARS.fullmatch(challenge):
            raise fail("invalid_request", "Invalid code_challenge")
        return AuthRequest(
            client_id, redirect_uri, bool(given), scopes, state, challenge, dict(params)
        )

    @staticmethod
    def _callback(redirect_uri: str, params: dict[str, str | None]) -> str:
        parts = urlsplit(redirect_uri)
        query = parse_qsl(parts.query, keep_blank_values=True)
        query += [(k, v) for k, v in params.items() if v is not None]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _callback_extras(self, request: AuthRequest) -> dict[str, str | None]:
        return {}

    def _new_code(self) -> str:
        return secrets.token_hex(10)

    def _decide(self, params: dict[str, str], allow: bool) -> str:
        """The callback URL for an approved or denied authorize request."""
        try:
            request = self._check_authorize(params)
        except _RedirectError as err:
            return self._callback(
                err.redirect_uri,
                {"error": err.error, "error_description": err.description, "state": err.state},
            )
        if not allow:
            return self._callback(
                request.redirect_uri, {"error": "access_denied", "state": request.state}
            )
        code = self._new_code()
        with self._lock:
            self._codes[code] = _Code(code, request, time.monotonic() + CODE_LIFETIME)
        return self._callback(
            request.redirect_uri,
            {"code": code, "state": request.state, **self._callback_extras(request)},
        )

    @staticmethod
    def _query_of(authorize_url: str) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(authorize_url).query, keep_blank_values=True))

    def approve(self, authorize_url: str) -> str:
        """Do what clicking "Allow" does; returns the callback URL (``?code=…&state=…``, or
        ``?error=…`` when the request is invalid in a way the provider redirects).
        Raises :class:`AuthorizeError` when the provider would show an error page instead."""
        return self._decide(self._query_of(authorize_url), allow=True)

    def deny(self, authorize_url: str) -> str:
        """Do what clicking "Deny" does; returns the ``?error=access_denied`` callback URL."""
        return self._decide(self._query_of(authorize_url), allow=False)

    def _error_page(self, message: str) -> Response:
        title = html.escape(f"{self.title} — error")
        return html_response(
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            f"</head><body><h1>{title}</h1><p id=error>{html.escape(message)}</p></body></html>",
            400,
        )

    def _consent_page(self, request: AuthRequest) -> Response:
        title = html.escape(f"{self.title} — authorize")
        hidden = "".join(
            f'<input type=hidden name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in request.params.items()
            if k != "decision"
        )
        scopes = "".join(f"<li>{html.escape(s)}</li>" for s in request.scopes)
        action = html.escape(self.authorize_path)
        page = (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{title}</title></head><body><main><h1>{title}</h1>"
            f"<p>The application <strong>{html.escape(request.client_id)}</strong> wants to "
            f"access {html.escape(self.account_label)}. It asks for:</p>"
            f"<ul id=scopes>{scopes or '<li>(no scopes)</li>'}</ul>"
            f'<form method=post action="{action}">{hidden}'
            "<input type=hidden name=decision value=allow>"
            "<button type=submit>Allow</button></form>"
            f'<form method=post action="{action}">{hidden}'
            "<input type=hidden name=decision value=deny>"
            "<button type=submit>Deny</button></form>"
            "</main></body></html>"
        )
        resp = html_response(page)
        resp.headers["X-Frame-Options"] = "DENY"
        return resp

    def _authorize_get(self, req: RecordedRequest) -> Response:
        try:
            request = self._check_authorize(req.query)
        except AuthorizeError as err:
            return self._error_page(str(err))
        except _RedirectError as err:
            return redirect(
                self._callback(
                    err.redirect_uri,
                    {"error": err.error, "error_description": err.description, "state": err.state},
                )
            )
        return self._consent_page(request)

    def _authorize_post(self, req: RecordedRequest) -> Response:
        params = {**req.query, **req.form}
        decision = params.pop("decision", "")
        if decision not in ("allow", "deny"):
            return self._error_page("Missing decision")
        try:
            return redirect(self._decide(params, allow=decision == "allow"))
        except AuthorizeError as err:
            return self._error_page(str(err))

    # ------------------------------------------------------------------ tokens

    def _token_value(self, prefix: str) -> str:
        return prefix + random_string(36)

    def _mint_access(self, client_id: str, scopes: tuple[str, ...], grant_id: int) -> Token:
        value = self._planted.popleft() if self._planted else self._token_value(self.access_prefix)
        expires_at = None if self.expires_in is None else time.monotonic() + self.expires_in
        token = Token(value, "access", client_id, scopes, grant_id, expires_at)
        self._tokens[value] = token
        self.revoked.discard(value)
        return token

    def _mint_refresh(self, client_id: str, scopes: tuple[str, ...], grant_id: int) -> Token:
        token = Token(
            self._token_value(self.refresh_prefix), "refresh", client_id, scopes, grant_id
        )
        self._tokens[token.value] = token
        return token

    def _token_state(self, value: str | None) -> tuple[str, Token | None]:
        """("missing" | "invalid" | "revoked" | "expired" | "ok", token)."""
        if not value:
            return "missing", None
        with self._lock:
            token = self._tokens.get(value)
            if token is None or token.kind != "access":
                return "invalid", None
            if value in self.revoked:
                return "revoked", token
            if token.force_expired or (
                token.expires_at is not None and time.monotonic() >= token.expires_at
            ):
                return "expired", token
            return "ok", token

    def _revoke_grant(self, grant_id: int) -> None:
        with self._lock:
            for token in self._tokens.values():
                if token.grant_id == grant_id:
                    self.revoked.add(token.value)

    def _token_params(self, req: RecordedRequest) -> dict[str, str]:
        params = dict(req.form)
        if isinstance(req.json, dict):
            params.update({k: str(v) for k, v in req.json.items() if v is not None})
        return params

    def _client_auth(self, req: RecordedRequest, params: dict[str, str]) -> str:
        basic = req.basic
        client_id, secret = (
            basic if basic else (params.get("client_id"), params.get("client_secret"))
        )
        if not client_id or client_id != self.client_id:
            raise TokenFailure("unknown_client", "Unknown client_id")
        if secret != self.client_secret:
            raise TokenFailure("bad_secret", "Wrong client_secret")
        return client_id

    def _issues_refresh(self, request: AuthRequest) -> bool:
        return self.expires_in is not None

    def _exchange(self, req: RecordedRequest) -> tuple[Token, Token | None, str]:
        """Run the token endpoint; returns (access, refresh or None, grant_type)."""
        params = self._token_params(req)
        client_id = self._client_auth(req, params)
        grant_type = params.get("grant_type")
        if not grant_type:
            if self.grant_type_required:
                raise TokenFailure("unsupported_grant", "Invalid grant_type: ")
            grant_type = "authorization_code"
        with self._lock:
            if grant_type == "authorization_code":
                return (*self._code_grant(client_id, params), grant_type)
            if grant_type == "refresh_token":
                return (*self._refresh_grant(client_id, params), grant_type)
        raise TokenFailure("unsupported_grant", f"Invalid grant_type: {grant_type}")

    def _code_grant(self, client_id: str, params: dict[str, str]) -> tuple[Token, Token | None]:
        value = params.get("code")
        if not value:
            raise TokenFailure("invalid_request", "Missing required parameter: code")
        code = self._codes.get(value)
        if (
            code is None
            or code.used
            or time.monotonic() >= code.expires_at
            or code.request.client_id != client_id
        ):
            raise TokenFailure("bad_code", "The code passed is incorrect or expired.")
        given = params.get("redirect_uri")
        if given is None:
            if self.redirect_uri_required:
                raise TokenFailure("invalid_request", "Missing parameter: redirect_uri")
        elif given != code.request.redirect_uri:
            raise TokenFailure("redirect_mismatch", "redirect_uri does not match")
        verifier = params.get("code_verifier")
        if not verifier:
            raise TokenFailure("pkce_missing", "Missing code verifier.")
        if not PKCE_CHARS.fullmatch(verifier) or pkce_challenge(verifier) != code.request.challenge:
            raise TokenFailure("pkce_mismatch", "Invalid code verifier.")
        code.used = True
        self.exchange_count += 1
        grant_id = next(self._grant_ids)
        access = self._mint_access(client_id, code.request.scopes, grant_id)
        access.extra["auth_request"] = code.request
        refresh = None
        if self._issues_refresh(code.request):
            refresh = self._mint_refresh(client_id, code.request.scopes, grant_id)
        return access, refresh

    def _refresh_grant(self, client_id: str, params: dict[str, str]) -> tuple[Token, Token | None]:
        value = params.get("refresh_token")
        if not value:
            raise TokenFailure("invalid_request", "Missing required parameter: refresh_token")
        old = self._tokens.get(value)
        if (
            old is None
            or old.kind != "refresh"
            or value in self.revoked
            or old.client_id != client_id
        ):
            raise TokenFailure("bad_refresh", "The refresh token passed is incorrect or expired.")
        scopes = old.scopes or ()
        self.refresh_count += 1
        access = self._mint_access(client_id, scopes, old.grant_id)
        refresh: Token | None = None
        if self.rotate_refresh:
            del self._tokens[value]  # single use: the rotated-out token is simply unknown now
            refresh = self._mint_refresh(client_id, scopes, old.grant_id)
        return access, refresh

    def _token_endpoint(self, req: RecordedRequest) -> Response:
        try:
            access, refresh, grant_type = self._exchange(req)
        except TokenFailure as failure:
            return self._token_error(req, failure)
        return self._token_success(req, access, refresh, grant_type)

    def _token_error(self, req: RecordedRequest, failure: TokenFailure) -> Response:
        raise NotImplementedError

    def _token_success(
        self, req: RecordedRequest, access: Token, refresh: Token | None, grant_type: str
    ) -> Response:
        raise NotImplementedError

    @staticmethod
    def _has_scope(token: Token | None, accepted: Iterable[str]) -> bool:
        if token is None or token.scopes is None:
            return True
        return bool(set(token.scopes) & set(accepted))
