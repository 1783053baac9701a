"""JSON schemas that people write (output formats, action parameters, test assertions).

Why this exists: jsonschema's default registry still fetches `$ref`s it does not know over
`urllib` — `http://127.0.0.1:…` and `file:///etc/…` included — from whatever process validates,
with no outbound guard, and blocks that process while it waits. A schema a user saves must be
self-contained: it may point only into itself (`"$ref": "#/$defs/item"`). Every place that
compiles a user-supplied schema goes through `check_user_schema` when saving and
`user_validator` when validating; the registry behind the validator refuses every retrieval, so
even a schema stored before this check cannot reach anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from referencing import Registry
from referencing.exceptions import Unresolvable

MAX_DEPTH = 32
MAX_NODES = 5_000
REFERENCE_KEYS = ("$ref", "$dynamicRef")


class UserSchemaError(ValueError):
    """A schema refused, with the reason in words a person can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# One registry for every user schema: it knows nothing and retrieves nothing (an empty
# Registry's default retrieval raises NoSuchResource for every URI, so no $ref reaches out).
_NO_RETRIEVAL: Registry[Any] = Registry()


def _walk(schema: Any) -> Iterator[tuple[int, Any]]:
    """Every node with its depth, iteratively: a deep schema must not hit Python's recursion."""
    stack: list[tuple[int, Any]] = [(1, schema)]
    while stack:
        depth, node = stack.pop()
        yield depth, node
        if isinstance(node, dict):
            stack.extend((depth + 1, value) for value in node.values())
        elif isinstance(node, list):
            stack.extend((depth + 1, value) for value in node)


def check_user_schema(schema: Any) -> None:
    """Refuse what a saved schema must not be: remote or file references, absurd depth or size,
    or not a JSON schema at all."""
    if not isinstance(schema, dict | bool):
        raise UserSchemaError('A JSON schema must be an object, like {"type": "object"}.')
    for count, (depth, node) in enumerate(_walk(schema), start=1):
        if depth > MAX_DEPTH:
            raise UserSchemaError(
                f"The JSON schema is nested more than {MAX_DEPTH} levels deep; flatten it or "
                'use "$defs" with "$ref".'
            )
        if count > MAX_NODES:
            raise UserSchemaError(f"The JSON schema is too large (over {MAX_NODES:,} parts).")
        if not isinstance(node, dict):
            continue
        for key in REFERENCE_KEYS:
            target = node.get(key)
            if isinstance(target, str) and not target.startswith("#"):
                raise UserSchemaError(
                    f'The JSON schema may only refer to its own parts ("{key}": "#/$defs/…"); '
                    f"{target[:80]!r} points outside it."
                )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise UserSchemaError(f"The JSON schema is not valid: {exc.message}") from None
    except RecursionError:
        raise UserSchemaError("The JSON schema refers to itself in a loop.") from None


def user_validator(schema: Any) -> Draft202012Validator:
    """A validator whose `$ref`s resolve inside the schema only; anything else is an error."""
    return Draft202012Validator(schema, registry=_NO_RETRIEVAL)


def first_error(schema: Any, instance: Any) -> ValidationError | None:
    """The first (stable-ordered) way `instance` breaks `schema`, or None when it fits.

    A reference that cannot be resolved inside the schema or a loop of references is reported
    as a schema problem, never as a fetch or a RecursionError."""
    try:
        errors = sorted(user_validator(schema).iter_errors(instance), key=str)
    except Unresolvable as exc:
        raise UserSchemaError(
            f'The JSON schema refers to something outside it ({exc}); only "#/…" references '
            "are allowed."
        ) from None
    except RecursionError:
        raise UserSchemaError("The JSON schema refers to itself in a loop.") from None
    return errors[0] if errors else None
