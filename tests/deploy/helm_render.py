"""Render deploy/helm/agent-platform without the `helm` binary (none can be installed here).

The chart keeps to a small subset of Helm's template language, documented in the chart's
README; this module implements exactly that subset, with Helm's semantics, and refuses
everything else, so a template that strays from it fails the tests instead of rendering wrong:

- `{{ .Values.a.b }}`, `{{ .Release.Name }}`, `{{ .Release.Namespace }}`, `{{ .Chart.Name }}`,
  `{{ .Chart.Version }}`, `{{ .Chart.AppVersion }}`; string, number and true/false literals
- pipelines `a | f b` (the value goes in as the last argument) and the functions `quote`,
  `default`, `required`, `toYaml`, `indent`, `nindent`, `not`, `eq`
- `{{ if PIPELINE }}` … `{{ else }}` … `{{ end }}`, trim markers `{{-` / `-}}`, and comments
  `{{/* … */}}`

Stricter than Helm in one way: printing a value that does not exist is an error (Helm prints
nothing), so a misspelt value name cannot render as an empty field.

    python tests/deploy/helm_render.py deploy/helm/agent-platform [-f override.yaml]
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class TemplateError(ValueError):
    """A template uses something outside the subset, or a value it needs is missing."""


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TERM = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s|"]+|\|')


@dataclass
class _Text:
    text: str


@dataclass
class _Output:
    pipeline: str


@dataclass
class _If:
    condition: str
    then: list[Any] = field(default_factory=list)
    otherwise: list[Any] = field(default_factory=list)


def _tokens(source: str) -> list[tuple[str, str]]:
    """("text", …) and ("action", …) pieces, with the trim markers applied to the text."""
    pieces: list[tuple[str, str]] = []
    position = 0
    trim_next = False
    for match in _ACTION.finditer(source):
        text = source[position : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", match.group(2).strip()))
        trim_next = bool(match.group(3))
        position = match.end()
    tail = source[position:]
    pieces.append(("text", tail.lstrip() if trim_next else tail))
    return pieces


def _parse(source: str, name: str) -> list[Any]:
    root: list[Any] = []
    stack: list[tuple[_If | None, list[Any]]] = [(None, root)]
    for kind, value in _tokens(source):
        body = stack[-1][1]
        if kind == "text":
            if value:
                body.append(_Text(value))
            continue
        if value.startswith("/*"):
            if not value.endswith("*/"):
                raise TemplateError(f"{name}: unclosed comment")
            continue
        keyword = value.split(None, 1)[0] if value else ""
        if keyword == "if":
            node = _If(value[2:].strip())
            body.append(node)
            stack.append((node, node.then))
        elif keyword == "else":
            node_or_none = stack[-1][0]
            if node_or_none is None or value != "else" or body is node_or_none.otherwise:
                raise TemplateError(f"{name}: {{{{ {value} }}}} outside the subset or misplaced")
            stack[-1] = (node_or_none, node_or_none.otherwise)
        elif keyword == "end":
            if len(stack) == 1:
                raise TemplateError(f"{name}: {{{{ end }}}} without {{{{ if }}}}")
            stack.pop()
        elif keyword in {"range", "with", "define", "template", "include", "block"}:
            raise TemplateError(f"{name}: {{{{ {keyword} }}}} is outside the chart's subset")
        else:
            body.append(_Output(value))
    if len(stack) != 1:
        raise TemplateError(f"{name}: {{{{ if }}}} without {{{{ end }}}}")
    return root


def _empty(value: object) -> bool:
    """Go template truth: false, 0, nil and empty strings/collections are false."""
    return value is None or value is False or value == 0 or value in ("", [], {})


def _format(value: object, where: str) -> str:
    if value is None:
        raise TemplateError(f"{where}: no such value")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise TemplateError(f"{where}: a map or list needs toYaml")
    return str(value)


def _to_yaml(value: object) -> str:
    if value is None:
        return "null"
    text = str(yaml.safe_dump(value, sort_keys=True, default_flow_style=False, width=1 << 16))
    return text.removesuffix("\n...\n").rstrip("\n")


def _indent(spaces: int, text: object) -> str:
    pad = " " * spaces
    return "\n".join(pad + line if line else line for line in str(text).split("\n"))


def _required(message: str, value: object) -> object:
    if value is None or value == "":
        raise TemplateError(message)
    return value


FUNCTIONS: dict[str, Callable[..., object]] = {
    "quote": lambda value: json.dumps(_format(value, "quote"), ensure_ascii=False),
    "default": lambda fallback, value=None: fallback if _empty(value) else value,
    "required": _required,
    "toYaml": _to_yaml,
    "indent": _indent,
    "nindent": lambda spaces, text: "\n" + _indent(spaces, text),
    "not": _empty,
    "eq": lambda a, b: a == b,
}


class _Renderer:
    def __init__(self, context: dict[str, Any], name: str) -> None:
        self.context = context
        self.name = name

    def term(self, token: str) -> object:
        if token.startswith('"'):
            return json.loads(token)
        if token in ("true", "false"):
            return token == "true"
        if re.fullmatch(r"-?\d+", token):
            return int(token)
        if token == ".":
            return self.context
        if token.startswith("."):
            value: object = self.context
            for part in token[1:].split("."):
                value = value.get(part) if isinstance(value, dict) else None
            return value
        raise TemplateError(f"{self.name}: {token!r} is outside the chart's subset")

    def pipeline(self, source: str) -> object:
        tokens = _TERM.findall(source)
        if _TERM.sub("", source).strip():
            raise TemplateError(f"{self.name}: cannot read {{{{ {source} }}}}")
        commands: list[list[str]] = [[]]
        for token in tokens:
            if token == "|":
                commands.append([])
            else:
                commands[-1].append(token)
        value: object = None
        for index, command in enumerate(commands):
            if not command:
                raise TemplateError(f"{self.name}: empty command in {{{{ {source} }}}}")
            head, args = command[0], [self.term(t) for t in command[1:]]
            if index > 0:
                args.append(value)
            if head in FUNCTIONS:
                try:
                    value = FUNCTIONS[head](*args)
                except TypeError:
                    raise TemplateError(f"{self.name}: wrong arguments to {head}") from None
            elif head[0].isalpha():
                raise TemplateError(f"{self.name}: function {head!r} is outside the subset")
            elif args:
                raise TemplateError(f"{self.name}: {head} is a value, not a function")
            else:
                value = self.term(head)
        return value

    def render(self, nodes: list[Any]) -> str:
        out: list[str] = []
        for node in nodes:
            if isinstance(node, _Text):
                out.append(node.text)
            elif isinstance(node, _Output):
                out.append(_format(self.pipeline(node.pipeline), f"{self.name}: {node.pipeline}"))
            else:
                chosen = node.otherwise if _empty(self.pipeline(node.condition)) else node.then
                out.append(self.render(chosen))
        return "".join(out)


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's values merge: maps merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def render_chart(
    chart: Path,
    overrides: dict[str, Any] | None = None,
    *,
    release: str = "agent-platform",
    namespace: str = "default",
) -> dict[str, str]:
    """Every template's output by its path under the chart, like `helm template`."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    values = yaml.safe_load((chart / "values.yaml").read_text()) or {}
    context = {
        "Values": merge(values, overrides or {}),
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
        "Chart": {key[0].upper() + key[1:]: value for key, value in meta.items()},
    }
    rendered = {}
    for path in sorted((chart / "templates").glob("*.yaml")):
        name = str(path.relative_to(chart))
        rendered[name] = _Renderer(context, name).render(_parse(path.read_text(), name))
    return rendered


def manifests(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """The Kubernetes objects of a rendering (empty documents dropped)."""
    docs: list[dict[str, Any]] = []
    for text in rendered.values():
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {}
    args = argv[1:]
    while args:
        if args[0] != "-f" or len(args) < 2:
            print(f"error: unknown argument {args[0]!r}", file=sys.stderr)
            return 2
        overrides = merge(overrides, yaml.safe_load(Path(args[1]).read_text()) or {})
        args = args[2:]
    try:
        rendered = render_chart(Path(argv[0]), overrides)
    except TemplateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, text in rendered.items():
        if text.strip():
            print(f"---\n# Source: {name}\n{text.strip()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
