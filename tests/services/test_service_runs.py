"""Service listings (issue 15 §1): the buyer subscribes with a maximum spend per run and runs
the seller's listed version in its own organization, on the seller's model provider, without
ever reading the seller's instructions or tools' settings; a priced service is billed per run
as Stripe metered usage. Real engine, real HTTP to the scripted model server and the Stripe
fake, real RQ queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from agent_platform.api import create_api
from agent_platform.db import session_scope
from agent_platform.models import (
    ExecutionStatus,
    MarketplaceListing,
    OrgSubscription,
    SellerAccount,
)
from services import agent_publishing, agents, api_keys, model_prices, runs
from services.access import Actor
from services.errors import Conflict, Invalid, NotFound
from services.marketplace import listings, moderation, search, service_runs
from services.marketplace.listings import publish_listing
from services.runtime.follow import step_event
from tests.factories import make_user, personal_actor
from tests.fakes.openai_server import Turn
from tests.services.billing_helpers import run_jobs
from tests.services.runtime_helpers import execute, org_with_provider

SECRET = "SECRET-PLAYBOOK: always quote the 7 rules of Ostrich Corp"
CALCULATE = Turn(tool_calls=[{"name": "calculator", "arguments": {"expression": "6*7"}}])


class Service:
    def __init__(self, seller: Actor, buyer: Actor, other: Actor, listing_id: uuid.UUID):
        self.seller, self.buyer, self.other, self.listing_id = seller, buyer, other, listing_id


def with_usage(turn: Turn, tokens: int) -> Turn:
    return turn.model_copy(update={"usage": {"prompt_tokens": tokens, "completion_tokens": 0}})


def make_service(
    session: Session,
    llm: Any,
    *,
    price_cents: int = 25,
    tools: Callable[[Actor], list[dict[str, Any]]] | None = None,
) -> Service:
    """A seller's live service listing (the seller's instructions are SECRET); `tools` makes
    the agent's tools once the seller exists (its connections, say)."""
    admin = make_user(session)  # the instance's first user: approves the first listing
    seller = org_with_provider(session, llm.base_url)  # the only org with a model provider
    buyer = personal_actor(session, make_user(session))
    other = personal_actor(session, make_user(session))
    model_prices.set_price(
        session, seller, model="fake/gpt-a", input_per_million="10", output_per_million="10"
    )
    agent = agents.create_agent(
        session,
        seller,
        name="Ostrich helper",
        config={
            "model": "fake/gpt-a",
            "instructions": SECRET,
            "tools": tools(seller) if tools else [{"name": "calculator"}],
            "first_token_timeout_seconds": 3,
            "timeout_seconds": 30,
        },
    )
    agent_publishing.publish_agent(session, seller, agent.id)
    listing = publish_listing(
        session,
        seller,
        agent.id,
        {"title": "Ostrich answers", "kind": "service", "price_cents": price_cents},
    )
    moderation.approve_listing(session, admin.id, listing.id)
    session.commit()
    return Service(seller, buyer, other, listing.id)


def take_charges(session: Session, service: Service) -> None:
    """The seller's Stripe account takes charges and the buyer has a Stripe customer."""
    session.add(
        SellerAccount(
            org_id=service.seller.org_id, stripe_account_id="acct_h6seller", charges_enabled=True
        )
    )
    session.add(OrgSubscription(org_id=service.buyer.org_id, stripe_customer_id="cus_h6buyer"))
    session.commit()


def key_of(actor: Actor) -> dict[str, str]:
    with session_scope() as s:
        made = api_keys.create_key(
            s, actor, name="ci", role="admin", scopes=["read", "run", "write"]
        )
        return {"Authorization": f"Bearer {made.secret}"}


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_api())


@pytest.fixture
def service(session: Session, llm: Any, stripe: Any) -> Service:
    made = make_service(session, llm)
    take_charges(session, made)
    return made


class TestRunningAService:
    def test_a_subscriber_runs_the_sellers_version_on_the_sellers_model_and_sees_no_instructions(
        self, service, llm, stripe, client
    ):
        buyer = key_of(service.buyer)
        base = f"/api/v1/marketplace/listings/{service.listing_id}"
        answer = client.post(
            f"{base}/subscription", json={"max_spend_per_run_usd": "0.50"}, headers=buyer
        )
        assert answer.status_code == 201, answer.text
        llm.script(CALCULATE, Turn(text="The answer is 42."))
        started = client.post(f"{base}/runs", json={"message": "what is 6*7?"}, headers=buyer)
        assert started.status_code == 201, started.text
        run_id = uuid.UUID(started.json()["id"])

        run, events = execute(run_id)

        assert run.status == ExecutionStatus.SUCCEEDED, run.error
        assert run.org_id == service.buyer.org_id and run.service_listing_id == service.listing_id
        assert run.budget_usd == Decimal("0.5") and run.output == {"text": "The answer is 42."}
        # the seller's version ran, on the seller's provider (the buyer has none)
        sent = llm.requests[0].body["messages"]
        assert sent[0] == {"role": "system", "content": SECRET}
        # what the buyer reads: the API's run, the run page's reads, the live events
        read = client.get(f"/api/v1/runs/{run_id}", headers=buyer)
        assert read.status_code == 200
        assert SECRET not in read.text and "Ostrich Corp" not in read.text
        assert "fake/gpt-a" not in read.text and "6*7" not in read.text.replace("6*7?", "")
        steps = read.json()["steps"]
        assert [s["kind"] for s in steps] == ["model", "tool", "model"]
        assert steps[0]["tool_calls"][0]["name"] == "calculator"
        assert steps[1]["tool_name"] == "calculator" and steps[1]["arguments"] is None
        assert read.json()["output"] == {"text": "The answer is 42."}
        with session_scope() as s:
            rows = runs.get_steps(s, service.buyer, run_id)
            stored = json.dumps([r.model_dump(mode="json") for r in rows])
            shown = json.dumps([step_event(r) for r in rows])
        assert "Ostrich Corp" not in stored and "Ostrich Corp" not in shown
        assert all(r.messages is None for r in rows)
        assert "Ostrich Corp" not in json.dumps(events) and "fake/gpt-a" not in json.dumps(events)
        # billed once, after the run's commit, as one meter event of the buyer's customer
        run_jobs()
        assert list(stripe.meter_events) == [f"run-{run_id}"]
        assert stripe.meter_events[f"run-{run_id}"]["payload"]["stripe_customer_id"] == (
            "cus_h6buyer"
        )
        # at the listing's price per run, in cents (the metered price is $0.01 a unit)
        assert stripe.meter_events[f"run-{run_id}"]["payload"]["value"] == "25"

    def test_each_run_is_billed_once(self, service, llm, stripe):
        with session_scope() as s:
            service_runs.subscribe(s, service.buyer, service.listing_id, max_spend_per_run_usd=1)
        ids = []
        for message in ("one", "two"):
            with session_scope() as s:
                ids.append(
                    service_runs.start_service_run(
                        s, service.buyer, service.listing_id, message=message
                    ).id
                )
            with session_scope() as s:  # the seller raises the price: runs started keep theirs
                listings.update_listing(s, service.seller, service.listing_id, {"price_cents": 40})
        for run_id in ids:
            run, _ = execute(run_id)
            assert run.status == ExecutionStatus.SUCCEEDED
        run_jobs()
        run_jobs()
        assert sorted(stripe.meter_events) == sorted(f"run-{i}" for i in ids)
        values = [stripe.meter_events[f"run-{i}"]["payload"]["value"] for i in ids]
        assert values == ["25", "40"]

    def test_the_buyers_max_spend_stops_a_run_and_it_is_not_billed(self, service, llm, stripe):
        with session_scope() as s:
            service_runs.subscribe(
                s, service.buyer, service.listing_id, max_spend_per_run_usd="0.015"
            )
            run_id = service_runs.start_service_run(
                s, service.buyer, service.listing_id, message="count"
            ).id
        # each call: 1,000 tokens at the seller's $10/M = $0.01
        llm.script(
            with_usage(CALCULATE, 1000), with_usage(CALCULATE, 1000), Turn(text="never asked")
        )
        run, _ = execute(run_id)
        assert run.status == ExecutionStatus.CANCELLED
        assert (run.error or "").startswith("Stopped: reached its budget of $0.015")
        assert llm.pending() == 1
        run_jobs()
        assert stripe.meter_events == {}

    def test_an_organization_that_did_not_subscribe_gets_not_found(self, service, llm, client):
        with session_scope() as s:
            service_runs.subscribe(s, service.buyer, service.listing_id, max_spend_per_run_usd=1)
            run_id = service_runs.start_service_run(
                s, service.buyer, service.listing_id, message="mine"
            ).id
        other = key_of(service.other)
        base = f"/api/v1/marketplace/listings/{service.listing_id}"
        assert client.post(f"{base}/runs", json={"message": "x"}, headers=other).status_code == 404
        assert client.get(f"{base}/subscription", headers=other).status_code == 404
        assert client.get(f"/api/v1/runs/{run_id}", headers=other).status_code == 404
        with session_scope() as s, pytest.raises(NotFound):
            service_runs.start_service_run(s, service.other, service.listing_id, message="x")

    def test_max_spend_is_required_more_than_zero_and_can_change(self, service, client):
        buyer = key_of(service.buyer)
        url = f"/api/v1/marketplace/listings/{service.listing_id}/subscription"
        for bad in ("0", "-1"):
            answer = client.post(url, json={"max_spend_per_run_usd": bad}, headers=buyer)
            assert answer.status_code == 422, answer.text
        with session_scope() as s, pytest.raises(Invalid, match="most one run may spend"):
            service_runs.subscribe(s, service.buyer, service.listing_id, max_spend_per_run_usd=None)
        assert client.post(url, json={"max_spend_per_run_usd": "1"}, headers=buyer).status_code == (
            201
        )
        assert client.post(url, json={"max_spend_per_run_usd": "1"}, headers=buyer).status_code == (
            409
        )
        changed = client.patch(url, json={"max_spend_per_run_usd": "2.5"}, headers=buyer)
        assert changed.status_code == 200 and changed.json()["max_spend_per_run_usd"] == "2.500000"
        with session_scope() as s:
            run = service_runs.start_service_run(s, service.buyer, service.listing_id, message="m")
            assert run.budget_usd == Decimal("2.5")
        assert client.delete(url, headers=buyer).status_code == 204
        assert client.get(url, headers=buyer).status_code == 404

    def test_a_service_run_is_not_replayed_as_an_ordinary_run(self, service, llm):
        with session_scope() as s:
            service_runs.subscribe(s, service.buyer, service.listing_id, max_spend_per_run_usd=1)
            run_id = service_runs.start_service_run(
                s, service.buyer, service.listing_id, message="m"
            ).id
        with session_scope() as s, pytest.raises(Invalid, match="from its listing"):
            runs.replay(s, service.buyer, run_id)

    def test_the_seller_cannot_subscribe_to_its_own_service(self, service):
        with session_scope() as s, pytest.raises(Conflict):
            service_runs.subscribe(s, service.seller, service.listing_id, max_spend_per_run_usd=1)

    def test_a_priced_service_needs_the_buyers_billing(self, session, service):
        with session_scope() as s, pytest.raises(Invalid, match="set up billing"):
            service_runs.subscribe(s, service.other, service.listing_id, max_spend_per_run_usd=1)


class TestWithoutStripe:
    def test_a_service_listing_stays_hidden_and_cannot_be_subscribed(self, session, llm):
        made = make_service(session, llm, price_cents=0)
        with session_scope() as s:
            assert s.get(MarketplaceListing, made.listing_id) is not None
            found = search.browse(s, {})
            assert made.listing_id not in [c.id for c in found.cards]
            with pytest.raises(NotFound):
                service_runs.subscribe(s, made.buyer, made.listing_id, max_spend_per_run_usd=1)
