"""Turn pydantic validation errors into one `Invalid` whose fields name what is wrong."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.errors import Invalid

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]) or "form"
            message = str(err["msg"]).removeprefix("Value error, ")
            fields.setdefault(name, message)
        summary = "; ".join(f"{k}: {v}" for k, v in fields.items())
        raise Invalid(f"Please correct: {summary}", fields=fields) from None
