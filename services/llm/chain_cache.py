"""A per-process cache of an organization's resolved model chain and private hosts.

Why: every run resolved its models from scratch — the provider rows, the organization's
private hosts and the decrypted key from the secret store (a Vault round trip there) — about
a third of the worker's database CPU per run, for values that change a few times a month.

Why it is never stale: the cache is keyed by a token per organization kept in Redis. Every
change to what a resolution reads (a provider saved or deleted, its key, the org's private
hosts, a model's price) sets a new random token, in its transaction and again once it commits
(`changed`), so the next run in any process reads the token, misses and resolves again. A
worker reads the token before it reads the database, so an entry can only ever hold data at
least as new as its token. No token (Redis lost it, or first use) or Redis down: nothing is
cached for that run. Entries also expire after ENTRY_TTL seconds, for changes made outside
the platform (a key edited in Vault).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from sqlmodel import Session

from agent_platform.db import after_commit, after_rollback
from agent_platform.redis_client import REDIS_DOWN, get_redis
from services.errors import Unavailable

log = logging.getLogger(__name__)

TOKEN_TTL = 86_400  # seconds; an expired token is replaced by a new one, so entries reload
ENTRY_TTL = 60.0
MAX_ENTRIES = 4096

_entries: dict[tuple[uuid.UUID, tuple[str, ...]], tuple[str, float, Any]] = {}


def _key(org_id: uuid.UUID) -> str:
    return f"llm:resolution:{org_id}"


def changed(session: Session, org_id: uuid.UUID) -> None:
    """Call in the transaction that changes the org's providers, their keys or its private
    hosts: every process's cached resolution of the org is dropped.

    The token is replaced twice. Now, inside the transaction: with Redis unreachable the change
    fails (Unavailable) instead of committing while workers keep serving the old key. And once
    committed or rolled back: a run that read between the two (the old rows, or a key written
    to Vault and then undone) has cached it under the first new token, which the second one
    retires. Call it before writing anything outside the database, so its rollback hook runs
    after that write's undo."""
    key = _key(org_id)

    def new_token() -> None:
        get_redis().set(key, uuid.uuid4().hex, ex=TOKEN_TTL)

    try:
        new_token()
    except REDIS_DOWN:
        raise Unavailable(
            "The change cannot be saved right now: the cache service (Redis) is unreachable. "
            "Try again in a moment."
        ) from None

    def new_token_again() -> None:
        try:
            new_token()
        except REDIS_DOWN:  # the first token is already replaced
            log.warning("could not replace the model resolution token of org %s", org_id)

    after_commit(session, new_token_again)
    # And on a rollback: a run may have cached what the transaction wrote outside the database
    # (a key put in Vault at once; its undo hook is newer than this one, so it runs first).
    after_rollback(session, new_token_again)


def token(org_id: uuid.UUID) -> str | None:
    """The org's current token, read before the database; None: cache nothing this time."""
    key = _key(org_id)
    try:
        redis = get_redis()
        raw = redis.get(key)
        if raw is None:
            redis.set(key, uuid.uuid4().hex, nx=True, ex=TOKEN_TTL)  # for the next run
            return None
    except REDIS_DOWN:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def lookup(org_id: uuid.UUID, refs: tuple[str, ...], current: str) -> Any | None:
    entry = _entries.get((org_id, refs))
    if entry is None or entry[0] != current or entry[1] < time.monotonic():
        return None
    return entry[2]


def store(org_id: uuid.UUID, refs: tuple[str, ...], current: str, value: Any) -> None:
    if len(_entries) >= MAX_ENTRIES:
        _entries.clear()
    _entries[(org_id, refs)] = (current, time.monotonic() + ENTRY_TTL, value)


def clear() -> None:
    """Forget every entry (tests)."""
    _entries.clear()
