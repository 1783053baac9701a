"""Checking a final answer against the agent's output format."""

from __future__ import annotations

import json
import re
from typing import Any

from agent_platform.models import OutputConfig
from agent_platform.models.user_schema import UserSchemaError, first_error

FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


class OutputInvalid(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_output(output: OutputConfig, text: str) -> dict[str, Any]:
    """`{"text": ...}` for free text; `{"json": value}` once the value satisfies the schema.

    CPU-bound on big answers and schemas: async callers run it in a thread so one org's answer
    never stalls the worker's event loop for every other run."""
    if output.format == "text":
        return {"text": text}
    candidate = text.strip()
    match = FENCE.match(candidate)
    if match:
        candidate = match.group(1)
    try:
        value = json.loads(candidate)
    except json.JSONDecodeError as exc:
        raise OutputInvalid(f"not valid JSON ({exc.msg} at position {exc.pos})") from None
    try:
        first = first_error(output.json_schema or {}, value)
    except UserSchemaError as exc:
        raise OutputInvalid(exc.message) from None
    if first is not None:
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise OutputInvalid(f"{where}: {first.message}")
    return {"json": value, "text": json.dumps(value, ensure_ascii=False)}
