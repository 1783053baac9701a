"""Integrations on the Vault store: tokens land in OpenBao (not the database), and a sealed
Vault turns an action into a clear tool error with an audit entry, not a hang."""

from __future__ import annotations

import threading
import time

from sqlmodel import select

from agent_platform.models import AuditEntry, StoredSecret
from tests.fakes.openai_server import Turn
from tests.integrations.helpers import connect, grant
from tests.integrations.test_actions import _tool_steps
from tests.services.runtime_helpers import execute, make_agent, org_with_provider, start


def test_tokens_live_in_vault_and_a_sealed_vault_fails_fast(session, vault, llm, fakes) -> None:
    slack = fakes["slack"]
    actor = org_with_provider(session, llm.base_url)
    row = connect(session, actor, slack, "slack")
    stored = vault.read(row.credential_ref)
    assert stored is not None and '"access_token": "xoxb-' in stored
    assert session.exec(select(StoredSecret)).all() == []  # nothing in the database at all

    agent_id = make_agent(session, actor, tools=[grant(row, "slack.list_channels")])
    llm.script(Turn(tool_calls=[{"name": "slack_list_channels", "arguments": {}}]), Turn(text="ok"))
    run, _ = execute(start(actor, agent_id))
    (step,) = _tool_steps(run.id)
    assert step.error is None and step.result["data"]["channels"]

    # Seal while the model is thinking: the run started (its model key came from Vault), then
    # the action needs the Slack token from a Vault that is now sealed.
    llm.script(
        Turn(tool_calls=[{"name": "slack_list_channels", "arguments": {}}], delay=2.0),
        Turn(text="no"),
    )
    sealer = threading.Timer(0.8, vault.server.seal)
    sealer.start()
    try:
        began = time.monotonic()
        run, _ = execute(start(actor, agent_id))
        elapsed = time.monotonic() - began
    finally:
        sealer.join()
        vault.server.unseal()
    (step,) = _tool_steps(run.id)
    assert step.error.startswith("The credential could not be read:")
    assert "sealed" in step.error
    assert elapsed < 10  # the whole run, a 2 s model turn included: no hang on Vault
    session.expire_all()
    entries = session.exec(
        select(AuditEntry).where(AuditEntry.action == "secret_store.unavailable")
    ).all()
    assert entries and entries[-1].details["operation"] == "get"
