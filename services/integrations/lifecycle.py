"""Saving, checking and removing a connection: the steps around a provider's answer.

Why here and not in the Integrations page: the REST API or a job that saves, checks or removes
a connection must take the same steps in the same order — a custom OAuth app is stored before
its sign-in starts, a check's outcome is recorded on the row, a removal asks the provider to
revoke the grant first and remembers when the provider did not confirm. A provider may take
seconds to answer, so no transaction stays open across the call: each step opens its own
through the `Transaction` its entry point hands down (agent_platform/db.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agent_platform.db import Transaction
from services.access import Actor, Permission, require
from services.errors import Invalid
from services.integrations import connections, oauth, proxy

ConnectionForm = Literal["http", "oauth2"]
"""The two credential forms: an HTTP API with a static credential, a custom OAuth app."""

CUSTOM_OAUTH_FIELDS = (
    "name",
    "base_url",
    "authorize_url",
    "token_url",
    "revoke_url",
    "client_id",
    "client_secret",
)


@dataclass(frozen=True)
class Saved:
    name: str
    sign_in_url: str | None = None  # a custom OAuth app still needs the person's consent


@dataclass(frozen=True)
class Checked:
    problem: str | None  # None: the provider answered the check call
    account: str = ""


def save(
    transaction: Transaction,
    actor: Actor,
    redis: Any,
    *,
    form: ConnectionForm,
    auth_kind: str,
    values: Mapping[str, str],
) -> Saved:
    """Store a connection from one of the credential forms. Only the fields the chosen kind
    shows are read (the form's hidden inputs are not the person's input). A custom OAuth
    app's row, holding its client secret, is committed before its sign-in starts, so the
    pending sign-in never points at a row that is not there."""
    with transaction() as session:
        if form == "oauth2":
            payload: dict[str, Any] = {k: values.get(k, "") for k in CUSTOM_OAUTH_FIELDS}
            payload["scopes"] = values.get("scopes", "").replace(",", " ").split()
            row = connections.create_custom_oauth(session, actor, payload)
        else:
            shown = connections.CREDENTIAL_FIELDS.get(auth_kind)
            if shown is None:
                raise Invalid("Choose how the API checks the credential.")
            payload = {k: values.get(k, "") for k in ("name", "base_url", *shown)}
            payload["auth_kind"] = auth_kind
            row = connections.create_api_connection(session, actor, payload)
        row_id, name = row.id, row.name
    if form != "oauth2":
        return Saved(name)
    with transaction() as session:
        url = connections.start_sign_in(session, actor, redis, integration_id=row_id)
    return Saved(name, url)


async def check(transaction: Transaction, actor: Actor, integration_id: uuid.UUID) -> Checked:
    """Make the connection's cheap check call and record the outcome on the row (status,
    last error, the account it acts as)."""
    require(actor, Permission.INTEGRATIONS_MANAGE)

    def find() -> None:
        with transaction() as session:
            connections.get_connection(session, actor, integration_id)  # another org's: NotFound

    def record(problem: str | None, account: str, account_id: str) -> None:
        with transaction() as session:
            connections.record_check(
                session,
                actor,
                integration_id,
                error=problem,
                account=account,
                account_id=account_id,
            )

    await asyncio.to_thread(find)
    problem, account, account_id = await proxy.check_connection(
        transaction, actor.org_id, integration_id
    )
    await asyncio.to_thread(record, problem, account, account_id)
    return Checked(problem, account)


async def remove(transaction: Transaction, actor: Actor, integration_id: uuid.UUID) -> str | None:
    """Revoke the grant at the provider, then delete the connection and its secret; returns
    the provider's problem in words when it did not confirm (the removal stands, audited)."""

    def load() -> tuple[oauth.OAuthClient | None, dict[str, Any]]:
        with transaction() as session:
            return connections.removal(session, actor, integration_id)

    def delete(problem: str | None) -> None:
        with transaction() as session:
            connections.remove(session, actor, integration_id, revoke_error=problem)

    client, credential = await asyncio.to_thread(load)
    problem = await oauth.revoke(client, credential) if client is not None else None
    await asyncio.to_thread(delete, problem)
    return problem
