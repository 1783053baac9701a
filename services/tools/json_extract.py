"""Pick a value out of a JSON document by path, so the model need not copy large payloads.

Path syntax: dotted keys with list indexes — `items[0].name`, `$.data.total`, `items[-1]` —
a `*` wildcard (`items[*].name` or `items.*.name`) over list items or object values, and
`["key.with.dots"]` for awkward keys. A path that does not exist is a ToolError naming the
failing level and what exists there, so the model can fix the path in one step.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from services.tools.base import ToolContext, ToolError, ToolSpec

MAX_JSON_CHARS = 1_000_000
MAX_LISTED_KEYS = 30

Step = tuple[Literal["key"], str] | tuple[Literal["index"], int] | tuple[Literal["all"], None]
_STEP = re.compile(
    r'\["(?P<quoted>(?:[^"\\]|\\.)*)"\]'
    r"|\[(?P<index>-?\d+)\]"
    r"|\[(?P<star>\*)\]"
    r"|\.?(?P<key>[^.\[\]]+)"
)


class JsonExtract:
    spec = ToolSpec(
        name="json_extract",
        description=(
            "Extract a value from JSON by path, e.g. 'items[0].name', 'data.total', "
            "'items[*].price' (* = every list item or object value)."
        ),
        parameters={
            "type": "object",
            "properties": {
                "json": {
                    "type": ["string", "object", "array"],
                    "description": "The JSON document, as text or as a value.",
                },
                "path": {"type": "string", "description": "For example: items[0].name"},
            },
            "required": ["json", "path"],
            "additionalProperties": False,
        },
    )

    async def run(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        if "json" not in args:
            raise ToolError("'json' is required: the JSON document as text or as a value")
        path = args.get("path", "")
        if not isinstance(path, str):
            raise ToolError("'path' must be a string such as 'items[0].name'")
        return {"value": extract(_document(args["json"]), path)}


def extract(document: Any, path: str) -> Any:
    """The value at `path` in `document` (a list of values when the path has a `*`)."""
    return _walk(document, parse_path(path), "$")


def parse_path(path: str) -> list[Step]:
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[Step] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            raise ToolError(f"Cannot read the path at {text[position:]!r}; e.g. items[0].name")
        if match["quoted"] is not None:
            steps.append(("key", _unquote(match["quoted"])))
        elif match["index"] is not None:
            steps.append(("index", int(match["index"])))
        elif match["star"] is not None or match["key"] == "*":
            steps.append(("all", None))
        else:
            steps.append(("key", match["key"].strip()))
        position = match.end()
    return steps


def _unquote(quoted: str) -> str:
    try:
        key: str = json.loads(f'"{quoted}"')  # a JSON string literal always decodes to a str
        return key
    except json.JSONDecodeError:
        raise ToolError(f'Bad escape in quoted key ["{quoted}"]') from None


def _document(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    if len(raw) > MAX_JSON_CHARS:
        raise ToolError(f"The JSON text is too long (limit {MAX_JSON_CHARS} characters)")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ToolError(f"'json' is not valid JSON: {exc}") from None


def _walk(value: Any, steps: list[Step], where: str) -> Any:
    if not steps:
        return value
    (kind, arg), rest = steps[0], steps[1:]
    if kind == "all":
        return _walk_all(value, rest, where)
    if kind == "key" and isinstance(value, dict):
        if arg in value:
            return _walk(value[arg], rest, f"{where}.{arg}")
        keys = ", ".join(list(value)[:MAX_LISTED_KEYS]) or "(none)"
        raise ToolError(f"No key {arg!r} at {where}; keys there: {keys}")
    if kind == "key" and isinstance(value, list) and re.fullmatch(r"-?\d+", str(arg)):
        kind, arg = "index", int(str(arg))
    if kind == "index" and isinstance(value, list):
        assert isinstance(arg, int)
        if -len(value) <= arg < len(value):
            return _walk(value[arg], rest, f"{where}[{arg}]")
        raise ToolError(f"Index {arg} is out of range at {where}: the list has {len(value)} items")
    step = f"[{arg}]" if kind == "index" else f"key {arg!r}"
    raise ToolError(f"Cannot read {step} at {where}: it is {_describe(value)}")


def _walk_all(value: Any, rest: list[Step], where: str) -> list[Any]:
    if isinstance(value, list):
        items = [(f"{where}[{i}]", item) for i, item in enumerate(value)]
    elif isinstance(value, dict):
        items = [(f"{where}.{key}", item) for key, item in value.items()]
    else:
        raise ToolError(f"Cannot use * at {where}: it is {_describe(value)}")
    results: list[Any] = []
    first_error: ToolError | None = None
    for label, item in items:
        try:
            results.append(_walk(item, rest, label))
        except ToolError as exc:  # items lacking the rest of the path are skipped...
            first_error = first_error or exc
    if not results and first_error is not None:  # ...unless none has it: say why
        raise first_error
    return results


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(list(value)[:MAX_LISTED_KEYS]) or "no keys"
        return f"an object (keys: {keys})"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
