"""The worker's per-process cache of an org's resolved models and private hosts
(services.llm.chain_cache): a change made in another transaction — another process's, here
the web's `session_scope` — is seen by the very next run; a cached run reads no secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from redis import Redis
from sqlmodel import Session

from agent_platform.db import session_scope
from agent_platform.models import Execution, ExecutionStatus, ProviderCredential
from agent_platform.redis_client import get_redis
from agent_platform.settings import get_settings
from services import model_prices, private_hosts, secrets
from services.access import Actor
from services.errors import Invalid, Unavailable
from services.llm import chain_cache, providers
from services.runtime import engine
from services.runtime.engine import RunPlan
from tests.services.runtime_helpers import make_agent, org_with_provider, start

BASE = "http://127.0.0.1:9/v1"


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The providers point at 127.0.0.1 (no model is called: the tests stop at the plan)."""
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _plan(actor: Actor, agent_id: uuid.UUID) -> RunPlan:
    plan = engine.prepare(session_scope, start(actor, agent_id))
    assert plan is not None
    return plan


def _cached_org(session: Session) -> tuple[Actor, uuid.UUID]:
    """An org whose resolution is in this process's cache (the first run sets the org's
    token, the second stores the entry)."""
    chain_cache.clear()
    actor = org_with_provider(session, BASE)
    agent_id = make_agent(session, actor)
    _plan(actor, agent_id)
    _plan(actor, agent_id)
    return actor, agent_id


def _provider_id(session: Session, actor: Actor) -> uuid.UUID:
    return providers.list_providers(session, actor)[0].id


def test_a_cached_run_reads_no_secret(session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    actor, agent_id = _cached_org(session)

    def no_read(*_args: object) -> str:
        raise AssertionError("the secret store was read on a cached run")

    monkeypatch.setattr(secrets, "get", no_read)
    plan = _plan(actor, agent_id)
    assert plan.chain[0].api_key == "sk-test-123456"
    assert plan.chain[0].api_base == BASE


def test_a_new_key_is_used_by_the_next_run(session: Session) -> None:
    actor, agent_id = _cached_org(session)
    with session_scope() as s:
        providers.save_provider(
            s,
            actor,
            {
                "name": "fake",
                "kind": "openai_compatible",
                "api_base": BASE,
                "api_key": "sk-new-7890123",
            },
            provider_id=_provider_id(session, actor),
        )
    assert _plan(actor, agent_id).chain[0].api_key == "sk-new-7890123"


def test_a_deleted_provider_fails_the_next_run(session: Session) -> None:
    actor, agent_id = _cached_org(session)
    with session_scope() as s:
        providers.delete_provider(s, actor, _provider_id(session, actor))
    run_id = start(actor, agent_id)
    with pytest.raises(Invalid, match="No model provider named 'fake' is configured"):
        engine.prepare(session_scope, run_id)
    with session_scope() as s:  # the claim rolled back with the failure
        run = s.get(Execution, run_id)
        assert run is not None and run.status == ExecutionStatus.QUEUED


def test_changed_private_hosts_reach_the_next_run(session: Session) -> None:
    actor, agent_id = _cached_org(session)
    assert _plan(actor, agent_id).allow_hosts == ()
    with session_scope() as s:
        private_hosts.set_private_hosts(s, actor, ["10.0.0.5"])
    plan = _plan(actor, agent_id)
    assert plan.allow_hosts == ("10.0.0.5",)
    assert plan.chain[0].allow_hosts == ("10.0.0.5",)


def test_a_changed_or_deleted_price_reaches_the_next_run(session: Session) -> None:
    """Prices are cached with the resolution: setting or deleting one replaces the token."""
    actor, agent_id = _cached_org(session)
    assert _plan(actor, agent_id).chain[0].price is None
    with session_scope() as s:
        row = model_prices.set_price(
            s, actor, model="fake/gpt-a", input_per_million="1.5", output_per_million="2"
        )
        price_id = row.id
    assert _plan(actor, agent_id).chain[0].price == (Decimal("1.5"), Decimal("2"))
    with session_scope() as s:
        model_prices.set_price(
            s, actor, model="fake/gpt-a", input_per_million="3", output_per_million="4"
        )
    assert _plan(actor, agent_id).chain[0].price == (Decimal("3"), Decimal("4"))
    with session_scope() as s:
        model_prices.delete_price(s, actor, price_id)
    assert _plan(actor, agent_id).chain[0].price is None


def test_a_lost_token_is_not_trusted(session: Session) -> None:
    """Redis lost the org's token (a flush, a restart without persistence): the entry stored
    under the old token is never served again, even if the change's new token is lost too."""
    actor, agent_id = _cached_org(session)
    get_redis().flushdb()
    with Session(session.get_bind()) as s:  # a change whose after-commit token never arrives
        row = s.get(ProviderCredential, _provider_id(session, actor))
        assert row is not None
        row.api_base = "http://127.0.0.1:10/v1"
        s.add(row)
        s.commit()
    assert _plan(actor, agent_id).chain[0].api_base == "http://127.0.0.1:10/v1"


def test_a_change_committed_without_its_hooks_is_seen(session: Session) -> None:
    """The token is replaced inside the change's transaction too, so a commit that runs no
    after-commit hooks (a plain Session's) does not leave the old key cached."""
    actor, agent_id = _cached_org(session)
    providers.save_provider(
        session,
        actor,
        {
            "name": "fake",
            "kind": "openai_compatible",
            "api_base": BASE,
            "api_key": "sk-plain-456789",
        },
        provider_id=_provider_id(session, actor),
    )
    session.commit()
    assert _plan(actor, agent_id).chain[0].api_key == "sk-plain-456789"


def test_a_change_fails_while_redis_is_down(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Committing a change no worker would hear of would keep the old key in use: refused."""
    actor, agent_id = _cached_org(session)
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    monkeypatch.setattr(chain_cache, "get_redis", lambda: dead)
    with pytest.raises(Unavailable, match="Redis"), session_scope() as s:
        providers.delete_provider(s, actor, _provider_id(session, actor))
    monkeypatch.setattr(chain_cache, "get_redis", get_redis)
    assert _plan(actor, agent_id).chain[0].api_key == "sk-test-123456"


def test_a_rolled_back_key_change_replaces_the_token_again(session: Session) -> None:
    """A key put in Vault is written at once and undone on rollback: a run that cached it in
    between must not keep it, so the rollback replaces the token once more (after the undo)."""
    actor, agent_id = _cached_org(session)
    provider_id = _provider_id(session, actor)
    during: list[str | None] = []
    with pytest.raises(RuntimeError), session_scope() as s:
        row = providers.get_provider(s, actor, provider_id)
        providers.save_provider(
            s,
            actor,
            {"name": row.name, "kind": row.kind.value, "api_base": BASE, "api_key": "sk-never"},
            provider_id=provider_id,
        )
        during.append(chain_cache.token(actor.org_id))  # what a run would cache under
        raise RuntimeError("the audit write failed")
    assert during[0] is not None
    assert chain_cache.token(actor.org_id) not in (None, during[0])
    assert _plan(actor, agent_id).chain[0].api_key != "sk-never"
