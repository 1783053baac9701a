"""Model prices section state: admins save and remove prices; errors land on their field."""

from __future__ import annotations

from reflex.state import State
from sqlmodel import Session

from services import accounts, model_prices
from state.model_prices import ModelPricesState
from tests.factories import PASSWORD, limiter, make_user, personal_actor


def new_state(session: Session, email: str) -> ModelPricesState:
    root = State(_reflex_internal_init=True)
    state = root.get_substate(ModelPricesState.get_full_name().split(".")[1:])
    assert isinstance(state, ModelPricesState)
    state.auth_token = accounts.login(session, limiter(), email=email, password=PASSWORD).token
    session.commit()
    return state


def test_an_admin_saves_a_price_that_shows_with_small_amounts(session: Session) -> None:
    owner = personal_actor(session, make_user(session, email="owner@example.com"))
    state = new_state(session, "owner@example.com")
    state.load()
    assert state.prices == []
    state.save({"price_model": "ollama/llama3", "price_input": "0.0004", "price_output": "2"})
    assert state.field_errors == {} and state.error == ""
    assert [(p["model"], p["input"], p["output"]) for p in state.prices] == [
        ("ollama/llama3", "$0.0004", "$2.00")
    ]
    state.delete(state.prices[0]["id"])
    assert state.prices == [] and model_prices.list_prices(session, owner) == []


def test_a_bad_price_is_shown_on_its_field(session: Session) -> None:
    make_user(session, email="owner@example.com")
    state = new_state(session, "owner@example.com")
    state.load()
    state.save({"price_model": "llama3", "price_input": "-1", "price_output": "1"})
    assert set(state.field_errors) == {"price_model", "price_input"}
    assert state.prices == []
