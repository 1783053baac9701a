"""Short-lived access tokens (JWT, HS256) that an API key is exchanged for, for SDK sessions.

Why: a script holding a long-lived key in memory for hours is one leak away from a permanent
back door; a token lives 15 minutes. A token only names its key (and may narrow its scopes):
every use re-checks that key in the database, so revoking a key stops its tokens at once.

The signing key is API_TOKEN_SECRET, or else derived from the local secret key file (never
stored in the database): every web process that shares the file or the setting accepts the
tokens of the others.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from agent_platform.models.base import utcnow
from agent_platform.settings import get_settings
from services.errors import Unauthenticated
from services.secrets import local

TOKEN_MINUTES = 15
AUDIENCE = "agent-platform-api"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class TokenClaims:
    key_id: uuid.UUID
    scopes: frozenset[str]
    expires_at: datetime


@functools.cache
def _derived() -> bytes:
    return local.derived_key("api-access-token")


def _signing_key() -> bytes:
    configured = get_settings().api_token_secret
    return configured.encode() if configured else _derived()


def looks_like_token(credential: str) -> bool:
    """A JWT is three dot-separated parts; an API key (`ap_…`) has no dots."""
    return credential.count(".") == 2


def sign(
    key_id: uuid.UUID, org_id: uuid.UUID, scopes: frozenset[str], *, now: datetime | None = None
) -> tuple[str, datetime]:
    """A token for `key_id` with `scopes`, and when it expires."""
    issued = now or utcnow()
    expires = issued + timedelta(minutes=TOKEN_MINUTES)
    claims = {
        "sub": str(key_id),
        "org": str(org_id),
        "scope": " ".join(sorted(scopes)),
        "aud": AUDIENCE,
        "iat": int(issued.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM), expires


def verify(token: str) -> TokenClaims:
    """The claims of a token we signed that has not expired; anything else is a 401 that says
    which (an expired token is normal: the client exchanges its key again)."""
    try:
        claims = jwt.decode(
            token,
            _signing_key(),
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["sub", "exp", "aud", "scope"]},
        )
        key_id = uuid.UUID(str(claims["sub"]))
    except jwt.ExpiredSignatureError:
        raise Unauthenticated(
            "The access token has expired; exchange the API key for a new one."
        ) from None
    except (jwt.InvalidTokenError, ValueError):
        raise Unauthenticated("A valid API key is required.") from None
    return TokenClaims(
        key_id=key_id,
        scopes=frozenset(str(claims["scope"]).split()),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
    )
