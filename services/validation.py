"""Turn pydantic validation errors into one `Invalid` whose fields name what is wrong.

Names (of organizations, agents, connections, keys, collections, files…) are checked here too,
for every input that goes through `parse`: a NUL, a control character, a bidi override or a
zero-width character in a name makes two different names look alike in a list or an audit
log (or reverses what a reader sees), so such names are refused with one clear message.
"""

from __future__ import annotations

import unicodedata
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


def parse(model: type[M], data: dict[str, Any]) -> M:
    fields: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(key, str) and _is_name_key(key) and isinstance(value, str):
            problem = name_problem(value)
            if problem:
                fields[key] = problem
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "form"
            message = str(err["msg"]).removeprefix("Value error, ")
            fields.setdefault(name, message)
        parsed = None
    if fields or parsed is None:
        summary = "; ".join(f"{k}: {v}" for k, v in fields.items())
        raise Invalid(f"Please correct: {summary}", fields=fields) from None
    return parsed
