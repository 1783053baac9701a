"""The assertion catalogue of test cases: promptfoo's names where promptfoo has one.

Why promptfoo's vocabulary: users bring suites they already keep in git, and a suite exported
here runs there. Types promptfoo lacks (tool calls, PII, canaries, token ceilings) get names in
the same style. Every type says which grader family runs it, cheapest first: deterministic
checks cost nothing, similarity costs one embedding, a judge costs a model call.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import regex

from agent_platform.models.user_schema import UserSchemaError, check_user_schema
from services.errors import Invalid


class Family(enum.StrEnum):
    DETERMINISTIC = "deterministic"
    SIMILARITY = "similarity"
    JUDGE = "judge"


# type → (family, what `value` holds, whether it may be negated with `not-`)
CATALOGUE: dict[str, tuple[Family, str, bool]] = {
    "equals": (Family.DETERMINISTIC, "the exact answer", True),
    "contains": (Family.DETERMINISTIC, "text the answer contains", True),
    "icontains": (Family.DETERMINISTIC, "text the answer contains, any case", True),
    "contains-any": (Family.DETERMINISTIC, "a list; the answer contains one", True),
    "contains-all": (Family.DETERMINISTIC, "a list; the answer contains each", True),
    "icontains-any": (Family.DETERMINISTIC, "a list; any case, one of them", True),
    "icontains-all": (Family.DETERMINISTIC, "a list; any case, each of them", True),
    "starts-with": (Family.DETERMINISTIC, "how the answer begins", True),
    "regex": (Family.DETERMINISTIC, "a regular expression the answer matches", True),
    "is-json": (Family.DETERMINISTIC, "optionally a JSON schema the answer follows", True),
    "tool-called": (Family.DETERMINISTIC, "a tool name, or {name, arguments}", True),
    "is-refusal": (Family.DETERMINISTIC, "nothing: the agent declined", True),
    "latency": (Family.DETERMINISTIC, "nothing; threshold: milliseconds at most", False),
    "cost": (Family.DETERMINISTIC, "nothing; threshold: US dollars at most", False),
    "max-tokens": (Family.DETERMINISTIC, "nothing; threshold: tokens at most", False),
    "no-pii": (Family.DETERMINISTIC, "optionally the kinds to look for", False),
    "no-canary": (Family.DETERMINISTIC, "nothing: the run's planted canary never shows", False),
    "similar": (Family.SIMILARITY, "the reference answer; threshold: 0–1", True),
    "llm-rubric": (Family.JUDGE, "the rubric the answer must meet", True),
    "g-eval": (Family.JUDGE, "criteria, one per line or a list", False),
    "factuality": (Family.JUDGE, "the reference facts", False),
}
NEGATABLE = {name for name, (_f, _v, negatable) in CATALOGUE.items() if negatable}
# Thresholds that these types need: without one they would pass anything.
NEEDS_THRESHOLD = {"latency", "cost", "max-tokens"}
NEEDS_VALUE = {
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "icontains-any",
    "icontains-all",
    "starts-with",
    "regex",
    "tool-called",
    "similar",
    "llm-rubric",
    "g-eval",
    "factuality",
}
LIST_VALUE = {"contains-any", "contains-all", "icontains-any", "icontains-all"}


@dataclass(frozen=True)
class Assertion:
    type: str  # the base type, without `not-`
    value: Any = None
    threshold: float | None = None
    weight: float = 1.0
    negate: bool = False
    metric: str | None = None  # a name to group scores under in reports

    @property
    def family(self) -> Family:
        return CATALOGUE[self.type][0]

    @property
    def written_type(self) -> str:
        return f"not-{self.type}" if self.negate else self.type

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.written_type}
        if self.value is not None:
            out["value"] = self.value
        if self.threshold is not None:
            out["threshold"] = self.threshold
        if self.weight != 1.0:
            out["weight"] = self.weight
        if self.metric:
            out["metric"] = self.metric
        return out


@dataclass
class AssertionProblem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class _Reader:
    where: str
    problems: list[AssertionProblem] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.problems.append(AssertionProblem(self.where, message))


def _number(raw: Any, what: str, reader: _Reader) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        reader.fail(f"{what} must be a number, not {raw!r}.")
        return None
    return float(raw)


def parse_assertion(raw: Any, where: str = "assertion") -> Assertion:
    """One assertion from its written form; every mistake is named with `where` (e.g. a line)."""
    reader = _Reader(where)
    if not isinstance(raw, dict):
        raise Invalid(f"{where}: an assertion is a mapping with a `type`, not {raw!r}.")
    written = raw.get("type")
    if not isinstance(written, str) or not written.strip():
        raise Invalid(f"{where}: the assertion has no `type`.")
    written = written.strip()
    negate = written.startswith("not-") and written[4:] in CATALOGUE
    base = written[4:] if negate else written
    if base not in CATALOGUE:
        known = ", ".join(sorted(CATALOGUE))
        raise Invalid(f"{where}: unknown assertion type “{written}”. Known types: {known}.")
    if negate and base not in NEGATABLE:
        raise Invalid(f"{where}: “{base}” cannot be negated with not-.")
    unknown_keys = set(raw) - {"type", "value", "threshold", "weight", "metric", "description"}
    if unknown_keys:
        reader.fail(f"unknown key(s) {', '.join(sorted(unknown_keys))} in a “{written}” assertion.")
    value = raw.get("value")
    threshold = _number(raw.get("threshold"), "threshold", reader)
    weight = _number(raw.get("weight"), "weight", reader)
    if weight is not None and weight < 0:
        reader.fail("weight cannot be negative.")
    if base in NEEDS_VALUE and (value is None or value == "" or value == []):
        reader.fail(f"a “{written}” assertion needs a value ({CATALOGUE[base][1]}).")
    if base in LIST_VALUE and value is not None and not isinstance(value, list):
        reader.fail(f"the value of “{written}” is a list of texts.")
    if base in NEEDS_THRESHOLD and threshold is None:
        reader.fail(f"a “{written}” assertion needs a threshold ({CATALOGUE[base][1]}).")
    if base in {"similar", "llm-rubric", "g-eval", "factuality"} and threshold is not None:
        if not 0 <= threshold <= 1:
            reader.fail("a score threshold is between 0 and 1.")
    if base == "regex" and isinstance(value, str):
        problem = regex_problem(value)
        if problem:
            reader.fail(problem)
    if base == "is-json" and value is not None:
        if not isinstance(value, dict):
            reader.fail("the value of is-json, when given, is a JSON schema (a mapping).")
        else:
            try:
                check_user_schema(value)
            except UserSchemaError as exc:
                reader.fail(f"the JSON schema cannot be used: {exc}")
    if base == "tool-called" and value is not None and not _tool_value_ok(value):
        reader.fail("the value of tool-called is a tool name or {name, arguments}.")
    metric = raw.get("metric")
    if reader.problems:
        raise Invalid("; ".join(str(p) for p in reader.problems))
    return Assertion(
        type=base,
        value=value,
        threshold=threshold,
        weight=1.0 if weight is None else weight,
        negate=negate,
        metric=str(metric) if metric else None,
    )


def _tool_value_ok(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return (
        isinstance(value, dict)
        and isinstance(value.get("name"), str)
        and isinstance(value.get("arguments", {}), dict)
    )


def regex_problem(pattern: str) -> str | None:
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return f"the regular expression does not compile ({exc})."
    return None
