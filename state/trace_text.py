"""Tool arguments and results as people read them in the trace: strings with their real line
breaks, nested fields indented one per line — not a Python dict with escaped `\\n`."""

from __future__ import annotations

import json
from typing import Any

INDENT = "  "


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _lines(value: Any, depth: int) -> list[str]:
    pad = INDENT * depth
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        out: list[str] = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out.append(f"{pad}{key}:")
                out.extend(_lines(item, depth + 1))
            else:
                text = _scalar(item)
                if "\n" in text:
                    out.append(f"{pad}{key}:")
                    out.extend(pad + INDENT + line for line in text.splitlines())
                else:
                    out.append(f"{pad}{key}: {text}")
        return out
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        out = []
        for item in value:
            nested = _lines(item, depth + 1)
            out.append(pad + "- " + nested[0].lstrip())
            out.extend(nested[1:])
        return out
    return [pad + line for line in (_scalar(value).splitlines() or [""])]


def readable(value: Any) -> str:
    """A tool's arguments or result as text. A result that is only text (`{"text": ...}` or a
    bare string) is shown as that text."""
    if isinstance(value, dict) and len(value) == 1:
        (only,) = value.values()
        if isinstance(only, str):
            return only
    if value is None:
        return ""
    return "\n".join(_lines(value, 0))
