"""What a webhook call means, decided without the database: is it signed, is it fresh, and
which run input does its JSON become.

Why apart from `services.webhooks`: these are pure functions of the request's bytes and the
trigger's settings, so every refusal can be tested (and read) without a server or a session,
and the code that does I/O stays short.

Signing scheme (the one senders implement): `X-Timestamp` is the Unix time in seconds when
the request was sent; `X-Signature` is `sha256=` + the hex HMAC-SHA256, keyed with the
trigger's signing secret, of the bytes `f"{timestamp}.{body}"`. The timestamp is inside the
signature, so a captured request cannot be re-dated, and a stale one is refused after the
trigger's tolerance; within it a replay is the same delivery again (`replay_key`).

Mapping: `{"message": "<template or path>", "variables": {"var": "payload.path"}}`. A path
is `payload.a.b.0` (dots, list indexes as numbers); a template is text with `{{payload.path}}`
placeholders and nothing else — no expressions, no filters, never eval.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from services.errors import DomainError, Invalid, Unauthenticated

SIGNATURE_PREFIX = "sha256="
PATH_RE = re.compile(r"^payload(\.[A-Za-z0-9_-]+)*$")
VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
MAX_TEMPLATE_CHARS = 10_000
MAX_VARIABLES = 50
MAX_KEY_CHARS = 150  # the stored key adds "webhook:<trigger id>:" and must fit 200


MAX_BODY_BYTES = 256 * 1024


class PayloadTooLarge(DomainError):
    status = 413


class UnsupportedMediaType(DomainError):
    status = 415


class BadRequest(DomainError):
    """The request itself is malformed (not JSON, not an object, a bad header): 400."""

    status = 400


@dataclass(frozen=True)
class RunRequest:
    message: str
    variables: dict[str, str]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Signature` value a sender computes (also used by our tests and docs)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify_signature(
    secret: str,
    *,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    tolerance_seconds: int,
    now: float,
) -> None:
    """Refuse (401, in words) unless `signature` signs `timestamp.body` and the timestamp is
    within `tolerance_seconds` of `now`. Compared in constant time."""
    if not signature:
        raise Unauthenticated(
            "This trigger requires signed requests: the X-Signature header is missing."
        )
    if not timestamp:
        raise Unauthenticated(
            "This trigger requires signed requests: the X-Timestamp header is missing."
        )
    try:
        sent = int(timestamp.strip())
    except ValueError:
        raise Unauthenticated("X-Timestamp must be a Unix time in whole seconds.") from None
    skew = abs(now - sent)
    if skew > tolerance_seconds:
        raise Unauthenticated(
            f"The request's X-Timestamp is {int(skew)} s away from the server's clock; "
            f"at most {tolerance_seconds} s is accepted. Sign each request when sending it."
        )
    expected = sign(secret, timestamp.strip(), body)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise Unauthenticated(
            "The signature does not match: X-Signature must be sha256=<hex HMAC-SHA256 of "
            "'<X-Timestamp>.<body>' keyed with this trigger's signing secret>."
        )


def replay_key(signature: str) -> str:
    """The idempotency key of a signed request that brought none: the same signed bytes
    within the tolerance are the same delivery (a replay gets the first run, not a new one)."""
    return "sig:" + hashlib.sha256(signature.strip().lower().encode()).hexdigest()


def idempotency_key(value: str | None) -> str | None:
    """The caller's `Idempotency-Key`, checked: printable ASCII, at most MAX_KEY_CHARS."""
    if value is None:
        return None
    key = value.strip()
    if not key:
        raise BadRequest("The Idempotency-Key header is empty.")
    if len(key) > MAX_KEY_CHARS:
        raise BadRequest(f"The Idempotency-Key is too long: at most {MAX_KEY_CHARS} characters.")
    if not all(" " <= c <= "~" for c in key):
        raise BadRequest("The Idempotency-Key must be printable ASCII.")
    return key


def check_content_type(content_type: str | None) -> None:
    """JSON only (application/json or application/<something>+json), said in words."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        raise UnsupportedMediaType(
            f"Send the payload as JSON with Content-Type: application/json "
            f"(got {media or 'no Content-Type'})."
        )


def too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The body is larger than {MAX_BODY_BYTES // 1024} KiB; send less (or a link to it)."
    )


def wait_seconds(query: str | None, prefer: str | None) -> int:
    """How long the caller asked to wait: `?wait=N` or `Prefer: wait=N` (RFC 7240); 0: none."""
    raw = query
    if raw is None and prefer:
        for part in prefer.split(","):
            name, _, value = part.strip().partition("=")
            if name.strip().lower() == "wait":
                raw = value.strip().strip('"')
    if raw is None or raw == "":
        return 0
    try:
        seconds = int(raw)
    except ValueError:
        raise BadRequest("wait must be a whole number of seconds, e.g. ?wait=10.") from None
    if seconds < 0:
        raise BadRequest("wait must be 0 or more seconds.")
    return seconds


def parse_payload(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; anything else is a 400 that says what was wrong."""
    if not body.strip():
        raise BadRequest("The body is empty; send a JSON object.")
    try:
        payload = json.loads(body)
    except UnicodeDecodeError:
        raise BadRequest("The body is not UTF-8 text; send a JSON object.") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"The body is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})."
        ) from None
    if not isinstance(payload, dict):
        raise BadRequest(
            f'The body must be a JSON object, not {_json_kind(payload)}; e.g. {{"text": "…"}}.'
        )
    return payload


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    return "a number"


def check_mapping(mapping: dict[str, Any]) -> dict[str, Any]:
    """A trigger's mapping as stored, or `Invalid` naming the bad part (checked when saved,
    so a caller never meets a mapping error that is the trigger owner's to fix)."""
    message = mapping.get("message", "")
    variables = mapping.get("variables") or {}
    if not isinstance(message, str):
        raise Invalid("The message mapping must be text.", fields={"message": "must be text"})
    if len(message) > MAX_TEMPLATE_CHARS:
        raise Invalid(
            f"The message mapping is too long: at most {MAX_TEMPLATE_CHARS:,} characters.",
            fields={"message": f"must be at most {MAX_TEMPLATE_CHARS:,} characters"},
        )
    paths = [p for p in PLACEHOLDER_RE.findall(message)] if "{{" in message else []
    if message.strip() and "{{" not in message:
        paths = [message.strip()]
    for path in paths:
        if not PATH_RE.match(path):
            raise Invalid(
                f"{path!r} is not a payload path; write payload.field or payload.list.0.field.",
                fields={"message": "must be a payload path or a template of {{payload.…}}"},
            )
    if not isinstance(variables, dict) or len(variables) > MAX_VARIABLES:
        raise Invalid(
            f"Variables must map at most {MAX_VARIABLES} names to payload paths.",
            fields={"variables": "must be name → payload path"},
        )
    for name, path in variables.items():
        if not isinstance(name, str) or not VARIABLE_RE.match(name):
            raise Invalid(
                f"{name!r} is not a variable name (letters, digits and _).",
                fields={"variables": "bad variable name"},
            )
        if not isinstance(path, str) or not PATH_RE.match(path.strip()):
            raise Invalid(
                f"The variable {name!r} needs a payload path such as payload.customer.email.",
                fields={"variables": f"{name}: not a payload path"},
            )
    return {"message": message, "variables": {k: v.strip() for k, v in variables.items()}}


def lookup(payload: dict[str, Any], path: str) -> Any:
    """The value at `payload.a.b.0`, or KeyError(path) when any step is missing."""
    value: Any = payload
    for step in path.split(".")[1:]:
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            raise KeyError(path)
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _missing(path: str, needed_for: str) -> Invalid:
    field = path.removeprefix("payload.")
    return Invalid(
        f"The payload has no field {field!r} (needed for {needed_for}).",
        fields={field: "is required"},
    )


def map_payload(mapping: dict[str, Any], payload: dict[str, Any]) -> RunRequest:
    """The run's message and variables from the payload (422 naming any missing field).

    No message mapping: the whole payload, as JSON, is the message."""
    template = str(mapping.get("message") or "").strip()
    if not template:
        message = json.dumps(payload, ensure_ascii=False)
    elif "{{" not in template:
        try:
            message = _text(lookup(payload, template))
        except KeyError:
            raise _missing(template, "the message") from None
    else:

        def fill(match: re.Match[str]) -> str:
            try:
                return _text(lookup(payload, match.group(1)))
            except KeyError:
                raise _missing(match.group(1), "the message") from None

        message = PLACEHOLDER_RE.sub(fill, template)
    if not message.strip():
        raise Invalid("The mapped message is empty; send a non-empty value for it.")
    variables: dict[str, str] = {}
    for name, path in (mapping.get("variables") or {}).items():
        try:
            variables[name] = _text(lookup(payload, path))
        except KeyError:
            raise _missing(path, f"the variable {name!r}") from None
    return RunRequest(message=message, variables=variables)
