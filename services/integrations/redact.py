"""Keep credentials out of everything an integration call returns, stores or logs.

Why both by value and by key: a provider may echo the token anywhere (an error message, a
debug field, an httpbin-style echo of our headers), in clear, URL-encoded or base64; and some
fields are secret by nature (access_token, Authorization) even when we never saw the value.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "[redacted]"
SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "api_key",
        "apikey",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "password",
        "private_key",
    }
)
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary text without protecting much


def secret_spellings(values: Iterable[str]) -> list[str]:
    """Every spelling of each secret we might meet in a response, longest first."""
    spellings: set[str] = set()
    for value in values:
        if not value or len(value) < MIN_SECRET_LENGTH:
            continue
        spellings.update({value, quote(value, safe=""), quote_plus(value)})
        spellings.add(base64.b64encode(value.encode()).decode().rstrip("="))
        spellings.add(base64.urlsafe_b64encode(value.encode()).decode().rstrip("="))
    return sorted(spellings, key=len, reverse=True)


def scrub_text(text: str, spellings: list[str]) -> str:
    for spelling in spellings:
        if spelling in text:
            text = text.replace(spelling, MASK)
    return text


def scrub(value: Any, spellings: list[str]) -> Any:
    """A copy of a JSON-like value with secret fields masked and secret values replaced."""
    if isinstance(value, str):
        return scrub_text(value, spellings)
    if isinstance(value, dict):
        return {
            key: (
                MASK
                if isinstance(key, str) and key.lower() in SECRET_KEYS and item not in (None, "")
                else scrub(item, spellings)
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item, spellings) for item in value]
    return value
