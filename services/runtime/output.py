"""Checking a final answer against the agent's output format."""

from __future__ import annotations

import json
import re
from typing import Any

from agent_platform.models import OutputConfig

FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


class OutputInvalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_output(output: OutputConfig, text: str) -> dict[str, Any]:
    """`{"text": ...}` for free text; `{"json": value}` once the value satisfies the schema."""
    if output.format == "text":
        return {"text": text}
    from jsonschema import Draft202012Validator

    candidate = text.strip()
    match = FENCE.match(candidate)
    if match:
        candidate = match.group(1)
    try:
        value = json.loads(candidate)
    except json.JSONDecodeError as exc:
        raise OutputInvalid(f"not valid JSON ({exc.msg} at position {exc.pos})") from None
    errors = sorted(Draft202012Validator(output.json_schema or {}).iter_errors(value), key=str)
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise OutputInvalid(f"{where}: {first.message}")
    return {"json": value, "text": json.dumps(value, ensure_ascii=False)}
