"""Validation errors reach people in words: never pydantic's phrasing, type names or regexes."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field, field_validator, model_validator

from services.errors import Invalid
from services.validation import parse


class Form(BaseModel):
    name: str = Field(min_length=1, max_length=10)
    code: str = Field(default="ab", min_length=2, pattern=r"^[a-z]+$")
    count: int = Field(default=1, ge=1, le=5)
    ratio: float = 0.5
    color: Literal["red", "blue"] = "red"
    tags: list[str] = Field(default_factory=list, max_length=2)


def _fields(data: dict[str, object]) -> dict[str, str]:
    with pytest.raises(Invalid) as caught:
        parse(Form, data)
    for raw in ("String should", "Input should", "pattern", "Value error", "^[a-z]"):
        assert raw not in caught.value.message
    return caught.value.fields


def test_empty_and_missing_are_required() -> None:
    assert _fields({"name": ""}) == {"name": "Name is required."}
    assert _fields({}) == {"name": "Name is required."}


def test_lengths_and_bounds_say_the_number() -> None:
    assert _fields({"name": "x" * 11, "count": 9, "tags": ["a", "b", "c"]}) == {
        "name": "Name must be at most 10 characters.",
        "count": "Count must be at most 5.",
        "tags": "Tags must be at most 2 items.",
    }
    assert _fields({"name": "ok", "code": "a", "count": 0}) == {
        "code": "Code must be at least 2 characters.",
        "count": "Count must be at least 1.",
    }


def test_kinds_of_value() -> None:
    assert _fields({"name": "ok", "count": "many", "ratio": "half", "color": "green"}) == {
        "count": "Count must be a whole number.",
        "ratio": "Ratio must be a number.",
        "color": "Color must be one of 'red' or 'blue'.",
    }


def test_a_pattern_is_never_shown() -> None:
    assert _fields({"name": "ok", "code": "AB"}) == {
        "code": "Code contains characters that are not allowed here."
    }


def test_message_lists_every_field() -> None:
    with pytest.raises(Invalid) as caught:
        parse(Form, {"name": "", "count": 0})
    assert caught.value.message == ("Please correct: Name is required. Count must be at least 1.")


def test_labels_name_fields_as_the_form_does() -> None:
    with pytest.raises(Invalid) as caught:
        parse(Form, {"name": ""}, labels={"name": "Agent name"})
    assert caught.value.fields == {"name": "Agent name is required."}


class Checked(BaseModel):
    low: int = 0
    high: int = 1

    @model_validator(mode="after")
    def _ordered(self) -> Checked:
        if self.low > self.high:
            raise ValueError("the low end must not be above the high end")
        return self

    @field_validator("high")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            raise ValueError("an even number is needed")
        return value


def test_a_validator_phrase_continues_the_label() -> None:
    class Url(BaseModel):
        base_url: str

        @field_validator("base_url")
        @classmethod
        def _http(cls, value: str) -> str:
            raise ValueError("must be an http(s) URL")

    with pytest.raises(Invalid) as caught:
        parse(Url, {"base_url": "ftp://x"}, labels={"base_url": "Base URL"})
    assert caught.value.fields == {"base_url": "Base URL must be an http(s) URL."}


def test_our_own_validators_keep_their_words() -> None:
    with pytest.raises(Invalid) as caught:
        parse(Checked, {"high": 3})
    assert caught.value.fields == {"high": "High: an even number is needed."}
    with pytest.raises(Invalid) as caught:
        parse(Checked, {"low": 4, "high": 2})
    assert caught.value.fields == {"form": "The low end must not be above the high end."}
