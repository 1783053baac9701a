"""Turn pydantic validation errors into one `Invalid` whose fields name what is wrong.

Names (of organizations, agents, connections, keys, collections, files…) are checked here too,
for every input that goes through `parse`: a NUL, a control character, a bidi override or a
zero-width character in a name makes two different names look alike in a list or an audit
log (or reverses what a reader sees), so such names are refused with one clear message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ValidationError

from services.errors import Invalid

M = TypeVar("M", bound=BaseModel)

# Unicode categories no name needs: Cc (NUL, control), Cf (bidi overrides and isolates,
# zero-width space/joiners, BOM, soft hyphen), Cs (lone surrogates), Zl/Zp (line breaks).
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _is_name_key(key: str) -> bool:
    return key == "name" or key.endswith("_name") or key == "filename"


def invisible_character(value: str) -> str | None:
    """The first character a name must not hold, as 'U+202E RIGHT-TO-LEFT OVERRIDE', or None."""
    for char in value:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            label = unicodedata.name(char, "control character")
            return f"U+{ord(char):04X} {label}"
    return None


def name_problem(value: str) -> str | None:
    """The user-facing reason a name is refused, or None when it is fine."""
    found = invisible_character(value)
    if found is None:
        return None
    return f"Must not contain invisible or control characters (found {found})"


def check_name(value: str) -> str:
    """Pydantic after-validator (see `SafeName`): refuse invisible and control characters."""
    problem = name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


SafeName = Annotated[str, AfterValidator(check_name)]


def in_words(err: Any) -> str:
    """What is wrong with a field, as the end of a sentence ("is required", "must be at most
    10 characters"): never pydantic's phrasing, its type names, a regex or the input."""
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind == "missing" or (kind == "string_too_short" and ctx.get("min_length") == 1):
        return "is required"
    if kind in ("string_too_short", "string_too_long", "too_short", "too_long"):
        bound = ctx.get("min_length") if kind.endswith("short") else ctx.get("max_length")
        unit = "characters" if kind.startswith("string") else "items"
        side = "at least" if kind.endswith("short") else "at most"
        return f"must be {side} {bound:,} {unit}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = ctx.get("ge", ctx.get("gt", ctx.get("le", ctx.get("lt"))))
        relation = {
            "greater_than_equal": "at least",
            "greater_than": "more than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }[kind]
        return f"must be {relation} {bound}"
    plain = {
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "decimal_parsing": "must be a number",
        "decimal_type": "must be a number",
        "bool_parsing": "must be yes or no",
        "bool_type": "must be yes or no",
        "string_pattern_mismatch": "contains characters that are not allowed here",
        "json_invalid": "is not valid JSON",
        "extra_forbidden": "is not a field of this form",
        "string_type": "must be text",
        "dict_type": "must be an object",
        "list_type": "must be a list",
        "model_type": "has the wrong shape",
        "model_attributes_type": "has the wrong shape",
    }
    if kind in plain:
        return plain[kind]
    if kind in ("literal_error", "enum"):
        return f"must be one of {ctx.get('expected', 'the listed choices')}"
    if kind.startswith("url_"):
        return "must be a web address (http:// or https://)"
    message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def label_of(key: str, labels: Mapping[str, str] | None = None) -> str:
    """How a form names a field: its label if given, else its last part in words."""
    if labels and key in labels:
        return labels[key]
    last = key.rsplit(".", 1)[-1].replace("_", " ").strip()
    return last[:1].upper() + last[1:] if last else "This form"


# A validator message that already reads as the end of "<Field> …" ("must be an http(s) URL").
PREDICATES = ("must ", "is ", "has ", "contains ", "may ", "cannot ", "should ")


def _sentence(err: Any, key: str, labels: Mapping[str, str] | None) -> str:
    words = in_words(err)
    if not err.get("loc"):  # a rule across fields: its own words are the sentence
        return f"{words[:1].upper()}{words[1:]}."
    if err.get("type") in ("value_error", "assertion_error") and not words.startswith(
        PREDICATES
    ):  # our validators' own sentence, after the field's name
        return f"{label_of(key, labels)}: {words}."
    return f"{label_of(key, labels)} {words}."


def parse(
    model: type[M],
    data: dict[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
    context: dict[str, Any] | None = None,
) -> M:
    """The model, or one `Invalid` whose `fields` hold a sentence per wrong field ("Name is
    required."), the message listing them all. `context` reaches the model's validators (e.g.
    the organization's private hosts a URL may point at)."""
    fields: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(key, str) and _is_name_key(key) and isinstance(value, str):
            problem = name_problem(value)
            if problem:
                fields[key] = f"{label_of(key, labels)}: {problem[:1].lower()}{problem[1:]}."
    try:
        parsed = model.model_validate(data, context=context)
    except ValidationError as exc:
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "form"
            fields.setdefault(name, _sentence(err, name, labels))
        parsed = None
    if fields or parsed is None:
        raise Invalid("Please correct: " + " ".join(fields.values()), fields=fields) from None
    return parsed
