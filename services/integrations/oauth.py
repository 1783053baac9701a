"""OAuth 2.0 authorization code flow with PKCE, token refresh and revocation.

Why the pending flow lives in Redis: it is short-lived (10 minutes), single-use (GETDEL) and
must be readable by whichever web process receives the callback. It holds no credential: the
PKCE verifier is useless without the client secret, and a generic OAuth connection's client
secret is already in the secret store, referenced by its integration id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets as random
import time
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode

from agent_platform.settings import get_settings
from services.errors import Invalid, Unavailable
from services.integrations.catalog import OAuthSpec, Provider, rebase
from services.outbound import OutboundError, default_guard

CALLBACK_PATH = "/api/v1/integrations/oauth/callback"
STATE_TTL_SECONDS = 600
REFRESH_MARGIN_SECONDS = 120  # refresh a token this long before it expires


@dataclass(frozen=True)
class OAuthClient:
    """The app we act as: the instance admin's registered app, or the user's own (generic)."""

    client_id: str
    client_secret: str
    spec: OAuthSpec
    base_url: str = ""  # replaces the provider's hosts when set
    revoke_url: str = ""  # generic OAuth (RFC 7009) only

    def url(self, real: str) -> str:
        return rebase(real, self.base_url)


@dataclass
class TokenSet:
    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None  # unix time
    scopes: list[str] = field(default_factory=list)
    raw_account: str = ""


@dataclass
class PendingFlow:
    org_id: str
    user_id: str
    provider: str
    name: str
    verifier: str
    redirect_uri: str
    integration_id: str | None = None  # reconnect, or a generic OAuth connection


def redirect_uri() -> str:
    return get_settings().resolved_base_url + CALLBACK_PATH


def app_configured(provider: Provider) -> bool:
    """Whether the instance registered an app for `provider` (its OAUTH_<KEY>_CLIENT_ID is
    set): the Integrations catalog offers to connect only those."""
    return bool(getattr(get_settings(), f"oauth_{provider.key}_client_id", ""))


def app_client(provider: Provider) -> OAuthClient:
    """The instance's registered app for a built-in provider (OAUTH_<KEY>_* settings)."""
    settings = get_settings()
    client_id = getattr(settings, f"oauth_{provider.key}_client_id", "")
    secret = getattr(settings, f"oauth_{provider.key}_client_secret", "")
    if provider.oauth is None or not client_id or not secret:
        prefix = f"OAUTH_{provider.key.upper()}"
        raise Unavailable(
            f"{provider.label} is not set up on this instance: the administrator must set "
            f"{prefix}_CLIENT_ID and {prefix}_CLIENT_SECRET."
        )
    base = getattr(settings, f"oauth_{provider.key}_base_url", "")
    return OAuthClient(client_id, secret, provider.oauth, base)


def custom_client(settings: dict[str, Any], blob: dict[str, Any]) -> OAuthClient:
    spec = OAuthSpec(
        authorize_url=str(settings.get("authorize_url", "")),
        token_url=str(settings.get("token_url", "")),
        scopes=tuple(settings.get("scopes", [])),
        revoke="rfc7009" if settings.get("revoke_url") else "",
    )
    return OAuthClient(
        str(settings.get("client_id", "")),
        str(blob.get("client_secret", "")),
        spec,
        revoke_url=str(settings.get("revoke_url", "")),
    )


def pkce_pair() -> tuple[str, str]:
    verifier = random.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


def begin(redis: Any, client: OAuthClient, flow_fields: dict[str, Any]) -> str:
    """Remember the flow under a fresh `state` and return the provider's authorize URL."""
    verifier, challenge = pkce_pair()
    state = random.token_urlsafe(32)
    flow = PendingFlow(verifier=verifier, redirect_uri=redirect_uri(), **flow_fields)
    redis.set(f"oauth:state:{state}", json.dumps(asdict(flow)), ex=STATE_TTL_SECONDS)
    spec = client.spec
    params = {
        "client_id": client.client_id,
        "redirect_uri": flow.redirect_uri,
        "response_type": "code",
        "scope": spec.scope_separator.join(spec.scopes),
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **spec.extra_params,
    }
    return client.url(spec.authorize_url) + "?" + urlencode(params)


def take(redis: Any, state: str) -> PendingFlow:
    """The flow for `state`, once: a replayed or forged callback finds nothing."""
    raw = redis.getdel(f"oauth:state:{state}") if state else None
    if not raw:
        raise Invalid("This sign-in has expired or was already used; start connecting again.")
    return PendingFlow(**json.loads(raw))


async def exchange(client: OAuthClient, flow: PendingFlow, code: str) -> TokenSet:
    return await _token_request(
        client,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": flow.redirect_uri,
            "code_verifier": flow.verifier,
        },
    )


async def refresh(client: OAuthClient, refresh_token: str) -> TokenSet:
    tokens = await _token_request(
        client, {"grant_type": "refresh_token", "refresh_token": refresh_token}
    )
    tokens.refresh_token = tokens.refresh_token or refresh_token  # Google keeps the old one
    return tokens


async def _token_request(client: OAuthClient, form: dict[str, str]) -> TokenSet:
    form = {**form, "client_id": client.client_id, "client_secret": client.client_secret}
    try:
        response = await default_guard().request(
            "POST",
            client.url(client.spec.token_url),
            data=form,
            headers={"Accept": "application/json"},
            max_redirects=0,
        )
    except OutboundError as exc:
        raise Unavailable(f"The sign-in could not be completed: {exc.message}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error = body.get("error")  # Slack and GitHub say it with HTTP 200
    if response.status >= 400 or error or not body.get("access_token"):
        reason = body.get("error_description") or error or f"HTTP {response.status}"
        raise Invalid(f"The provider refused the sign-in: {reason}")
    try:
        expires_in = float(body.get("expires_in") or 0)
    except (TypeError, ValueError):
        expires_in = 0
    scope = body.get("scope") or ""
    scopes = [s for s in str(scope).replace(",", " ").split() if s]
    team = body.get("team")
    return TokenSet(
        access_token=str(body["access_token"]),
        refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
        expires_at=time.time() + expires_in if expires_in > 0 else None,
        scopes=scopes or list(client.spec.scopes),
        raw_account=str(team.get("name", "")) if isinstance(team, dict) else "",
    )


def needs_refresh(blob: dict[str, Any]) -> bool:
    expires_at = blob.get("expires_at")
    return bool(
        blob.get("refresh_token")
        and expires_at
        and float(expires_at) - time.time() < REFRESH_MARGIN_SECONDS
    )


async def revoke(client: OAuthClient, blob: dict[str, Any]) -> str | None:
    """Ask the provider to forget the token; returns a problem in words, None when done."""
    token = str(blob.get("access_token") or "")
    kind = client.spec.revoke
    if not kind or not token:
        return None
    guard = default_guard()
    guard_request = guard.request

    async def request(method: str, url: str, **kwargs: Any) -> Any:
        # a redirect must not carry the token or the client secret to another host
        return await guard_request(method, url, max_redirects=0, **kwargs)

    try:
        if kind == "slack":
            response = await request(
                "POST",
                client.url("https://slack.com/api/auth.revoke"),
                headers={"Authorization": f"Bearer {token}"},
            )
        elif kind == "google":
            response = await request(
                "POST", client.url("https://oauth2.googleapis.com/revoke"), data={"token": token}
            )
        elif kind == "github":
            pair = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
            response = await request(
                "DELETE",
                client.url(f"https://api.github.com/applications/{client.client_id}/token"),
                headers={"Authorization": f"Basic {pair}", "Accept": "application/vnd.github+json"},
                json={"access_token": token},
            )
        else:  # linkedin and RFC 7009 servers: form with the client credentials
            url = (
                client.url("https://www.linkedin.com/oauth/v2/revoke")
                if kind == "linkedin"
                else client.revoke_url
            )
            response = await request(
                "POST",
                url,
                data={
                    "token": token,
                    "client_id": client.client_id,
                    "client_secret": client.client_secret,
                },
            )
    except OutboundError as exc:
        return exc.message
    return None if response.status < 400 else f"HTTP {response.status}"
