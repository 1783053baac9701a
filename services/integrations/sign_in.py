"""Finishing an OAuth sign-in, only for the person who started it.

Why not in the callback route: the provider's redirect carries no session of ours (the session
token lives in the page's storage), and a `state` alone must not decide whose connection a
grant lands in — otherwise anyone could send a victim their own authorize link and collect the
victim's tokens in their org (login CSRF). The callback therefore only forwards `state` and
`code` to the Integrations page, whose handler knows the signed-in user and calls `complete`.

The provider's token endpoint may take seconds, so no transaction stays open across it: each
database step opens its own through the caller's `Transaction`, in a thread (never on the
event loop of the page's handler).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from agent_platform.db import Transaction
from agent_platform.models import Role
from services.access import Actor, require_role
from services.errors import DomainError, Forbidden, Invalid
from services.integrations import connections, oauth, proxy

log = logging.getLogger(__name__)


async def complete(
    transaction: Transaction,
    actor: Actor,
    redis: Any,
    *,
    state: str,
    code: str,
    error: str = "",
) -> str:
    """Exchange the code and store the connection; returns its name. The flow is used up
    whatever happens, so a forwarded link cannot be tried twice."""
    flow = await asyncio.to_thread(oauth.take, redis, state)
    if str(actor.org_id) != flow.org_id or str(actor.user_id) != flow.user_id:
        raise Forbidden(
            "This sign-in was started by someone else or in another organization; "
            "nothing was connected."
        )
    require_role(actor, Role.ADMIN)
    if error or not code:
        raise Invalid("The provider did not grant access; nothing was connected.")

    def client_for_flow() -> oauth.OAuthClient:
        with transaction() as session:
            return connections.client_for_flow(session, flow)

    def finish() -> tuple[uuid.UUID, str]:
        with transaction() as session:
            row = connections.finish_sign_in(session, flow, tokens)
            return row.id, row.name

    def record(problem: str | None, account: str, account_id: str) -> None:
        with transaction() as session:
            connections.record_check(
                session, actor, row_id, error=problem, account=account, account_id=account_id
            )

    client = await asyncio.to_thread(client_for_flow)
    tokens = await oauth.exchange(client, flow, code)
    try:
        row_id, name = await asyncio.to_thread(finish)
    except DomainError:
        await oauth.revoke(client, {"access_token": tokens.access_token})
        raise
    except Exception:  # noqa: BLE001 - unexpected: never keep tokens we could not store
        log.exception("storing a finished sign-in failed")
        await oauth.revoke(client, {"access_token": tokens.access_token})
        raise Invalid("The connection could not be saved; please try again.") from None
    checked = await proxy.check_connection(transaction, actor.org_id, row_id, redis=None)
    await asyncio.to_thread(record, *checked)
    return name
