"""Suites as promptfoo-style YAML: import what users already keep in git, export what runs there.

The subset read: `description`, `defaultTest` (`vars`, `assert`), `tests:` with `description`,
`vars`, `assert` (`type`/`value`/`threshold`/`weight`/`metric`), `threshold` and `metadata`.
`prompts` and `providers` are promptfoo's way of choosing the model; here the agent is the
prompt and the provider, so they are ignored (and listed as ignored, so nobody wonders).

Which var is the message: the first of `message`, `input`, `prompt`, `question`, `query`; the
others become the run's input variables. A multi-turn case gives `vars.conversation` as a list
of `{role, content}`; its last user turn is the message. Our own fields that promptfoo has no
place for (tags, weight, the reference answer) live under each test's `metadata`, which
promptfoo keeps and ignores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from services.errors import Invalid
from services.testing.assertions import Assertion, parse_assertion

MESSAGE_VARS = ("message", "input", "prompt", "question", "query")
IGNORED_TOP_LEVEL = ("prompts", "providers")
KNOWN_TOP_LEVEL = {"description", "defaultTest", "tests", *IGNORED_TOP_LEVEL}
KNOWN_TEST_KEYS = {"description", "vars", "assert", "threshold", "metadata", "options"}
MAX_CASES = 2_000
MAX_YAML_BYTES = 2_000_000
LINE = "__line__"


@dataclass
class CaseSpec:
    description: str
    message: str
    variables: dict[str, Any] = field(default_factory=dict)
    conversation: list[dict[str, str]] = field(default_factory=list)
    assertions: list[Assertion] = field(default_factory=list)
    threshold: float | None = None  # pass on score ≥ threshold instead of every assertion
    expected: str | None = None  # a reference answer, shown beside the actual one
    tags: list[str] = field(default_factory=list)
    weight: float = 1.0
    message_var: str = "message"  # the var the message came from, written back on export


@dataclass
class SuiteSpec:
    description: str
    cases: list[CaseSpec]
    default_assertions: list[Assertion] = field(default_factory=list)
    default_vars: dict[str, Any] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


class _LineLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no stubs here
    """SafeLoader that remembers on which line each mapping began, to name it in errors."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = loader.construct_mapping(node, deep=True)
    mapping[LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


# Anchors and aliases are allowed (promptfoo files share asserts with them), but a few
# kilobytes of nested aliases can stand for billions of values ("billion laughs"): the loaded
# data is measured as if written out, and refused past these bounds before anything walks it.
MAX_EXPANDED_VALUES = 1_000_000
MAX_EXPANDED_CHARS = 20_000_000


def _within_bounds(data: Any) -> bool:
    values, chars = MAX_EXPANDED_VALUES, MAX_EXPANDED_CHARS
    stack = [data]
    while stack:
        item = stack.pop()
        values -= 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            chars -= len(item)
        if values < 0 or chars < 0:
            return False
    return True


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k != LINE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _line(mapping: Any, fallback: str) -> str:
    if isinstance(mapping, dict) and LINE in mapping:
        return f"line {mapping[LINE]}"
    return fallback


def _assertions(raw: Any, where: str) -> list[Assertion]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Invalid(f"{where}: `assert` is a list of assertions.")
    return [
        parse_assertion(_clean(item), _line(item, f"{where}, assertion {i + 1}"))
        for i, item in enumerate(raw)
    ]


def _conversation(raw: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        raise Invalid(f"{where}: `conversation` is a list of turns with `role` and `content`.")
    turns: list[dict[str, str]] = []
    for turn in raw:
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in {"user", "assistant"}
            or not isinstance(turn.get("content"), str)
        ):
            raise Invalid(
                f"{_line(turn, where)}: each turn has `role` (user or assistant) and `content`."
            )
        turns.append({"role": turn["role"], "content": turn["content"]})
    if turns[-1]["role"] != "user":
        raise Invalid(f"{where}: a conversation ends with the user's turn, the one to answer.")
    return turns


def _case(raw: Any, index: int, defaults: dict[str, Any]) -> CaseSpec:
    where = _line(raw, f"test {index + 1}")
    if not isinstance(raw, dict):
        raise Invalid(f"{where}: each test is a mapping with `vars` and `assert`.")
    unknown = set(raw) - KNOWN_TEST_KEYS - {LINE}
    if unknown:
        raise Invalid(f"{where}: unknown key(s) in a test: {', '.join(sorted(unknown))}.")
    own_vars = raw.get("vars") or {}
    if not isinstance(own_vars, dict):
        raise Invalid(f"{where}: `vars` is a mapping of names to values.")
    variables = {**defaults, **_clean(own_vars)}
    conversation: list[dict[str, str]] = []
    if "conversation" in variables:
        conversation = _conversation(own_vars.get("conversation", variables["conversation"]), where)
        variables.pop("conversation")
        message, message_var = conversation[-1]["content"], "conversation"
        conversation = conversation[:-1]
    else:
        message_var = next((k for k in MESSAGE_VARS if k in variables), "")
        if not message_var:
            raise Invalid(
                f"{where}: the test has no message: give it as vars.message "
                f"(or one of {', '.join(MESSAGE_VARS[1:])})."
            )
        message = str(variables.pop(message_var))
    if not message.strip():
        raise Invalid(f"{where}: the message is empty.")
    metadata = _clean(raw.get("metadata") or {})
    if not isinstance(metadata, dict):
        raise Invalid(f"{where}: `metadata` is a mapping.")
    tags = metadata.get("tags") or []
    if not isinstance(tags, list):
        raise Invalid(f"{where}: metadata.tags is a list.")
    weight = metadata.get("weight", 1.0)
    threshold = raw.get("threshold")
    for name, number in (("metadata.weight", weight), ("threshold", threshold)):
        if number is not None and (isinstance(number, bool) or not isinstance(number, int | float)):
            raise Invalid(f"{where}: {name} must be a number.")
    return CaseSpec(
        description=str(raw.get("description") or f"Test {index + 1}")[:200],
        message=message,
        variables=variables,
        conversation=conversation,
        assertions=_assertions(raw.get("assert"), where),
        threshold=float(threshold) if threshold is not None else None,
        expected=str(metadata["expected"]) if metadata.get("expected") is not None else None,
        tags=[str(t) for t in tags],
        weight=float(weight),
        message_var=message_var,
    )


def load_suite(text: str) -> SuiteSpec:
    """Read a promptfoo-style suite; every mistake names its line."""
    if len(text.encode()) > MAX_YAML_BYTES:
        raise Invalid(f"The suite file is larger than {MAX_YAML_BYTES // 1_000_000} MB.")
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 — a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "the file"
        problem = getattr(exc, "problem", None) or "it is not valid YAML"
        raise Invalid(f"{where}: {problem}.") from None
    if not _within_bounds(data):
        raise Invalid(
            "The suite file expands to too much data (anchors and aliases repeated inside one "
            "another); write the repeated parts out or use fewer levels of aliases."
        )
    if not isinstance(data, dict):
        raise Invalid("A suite file is a mapping with `tests:` (promptfoo's format).")
    unknown = set(data) - KNOWN_TOP_LEVEL - {LINE}
    if unknown:
        raise Invalid(f"Unknown top-level key(s): {', '.join(sorted(unknown))}.")
    default = data.get("defaultTest") or {}
    if not isinstance(default, dict):
        raise Invalid(f"{_line(default, 'defaultTest')}: defaultTest is a mapping.")
    default_vars = _clean(default.get("vars") or {})
    tests = data.get("tests")
    if not isinstance(tests, list) or not tests:
        raise Invalid("The suite has no tests: add a `tests:` list.")
    if len(tests) > MAX_CASES:
        raise Invalid(f"A suite holds at most {MAX_CASES:,} tests; this one has {len(tests):,}.")
    return SuiteSpec(
        description=str(data.get("description") or "Imported suite")[:200],
        cases=[_case(raw, i, default_vars) for i, raw in enumerate(tests)],
        default_assertions=_assertions(default.get("assert"), "defaultTest"),
        default_vars=default_vars,
        ignored=[key for key in IGNORED_TOP_LEVEL if key in data],
    )


def _case_dict(case: CaseSpec, default_vars: dict[str, Any]) -> dict[str, Any]:
    variables = {k: v for k, v in case.variables.items() if default_vars.get(k, object()) != v}
    if case.message_var == "conversation":
        turns = [*case.conversation, {"role": "user", "content": case.message}]
        variables = {"conversation": turns, **variables}
    else:
        variables = {case.message_var or "message": case.message, **variables}
    out: dict[str, Any] = {"description": case.description, "vars": variables}
    if case.assertions:
        out["assert"] = [a.to_dict() for a in case.assertions]
    if case.threshold is not None:
        out["threshold"] = case.threshold
    metadata: dict[str, Any] = {}
    if case.tags:
        metadata["tags"] = list(case.tags)
    if case.weight != 1.0:
        metadata["weight"] = case.weight
    if case.expected is not None:
        metadata["expected"] = case.expected
    if metadata:
        out["metadata"] = metadata
    return out


def dump_suite(suite: SuiteSpec) -> str:
    """The suite as promptfoo-style YAML; `load_suite(dump_suite(s))` gives `s` back."""
    doc: dict[str, Any] = {"description": suite.description}
    default: dict[str, Any] = {}
    if suite.default_vars:
        default["vars"] = dict(suite.default_vars)
    if suite.default_assertions:
        default["assert"] = [a.to_dict() for a in suite.default_assertions]
    if default:
        doc["defaultTest"] = default
    doc["tests"] = [_case_dict(c, suite.default_vars) for c in suite.cases]
    text: str = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    return text
