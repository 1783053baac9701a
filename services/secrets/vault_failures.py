"""What a Vault failure means to a person, and the audit entry it leaves.

Why separate: the store's logic (CAS, tokens, undo) and the wording of every way Vault can fail
change for different reasons. Messages name the setting to check; none carries a token, and
none is a stack trace.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import TYPE_CHECKING, Literal

import hvac.exceptions
import requests

from services.errors import AuditPayload, Unavailable

if TYPE_CHECKING:
    from services.secrets.vault import VaultConfig

logger = logging.getLogger("services.secrets.vault")

Reason = Literal[
    "sealed",
    "down",
    "unreachable",
    "timeout",
    "refused",
    "login",
    "no-credentials",
    "no-approle",
    "no-mount",
    "missing",
    "error",
]
AUDIT_ACTION = "secret_store.unavailable"
_ORG_REF = re.compile(r"org/([0-9a-fA-F-]{36})/")


class LoginRefused(Exception):
    """No token and no AppRole configured, or the AppRole login was rejected."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason)
        self.reason = reason


def unavailable(
    config: VaultConfig,
    operation: str,
    ref: str | None,
    exc: BaseException | None = None,
    *,
    reason: Reason | None = None,
) -> Unavailable:
    """The error to raise, with the audit payload `session_scope()` commits after rollback."""
    reason = reason or reason_of(exc)
    logger.warning("Vault %s of %s failed: %s (%s)", operation, ref or "-", reason, describe(exc))
    match = _ORG_REF.match(ref or "")
    payload: AuditPayload = {
        "action": AUDIT_ACTION,
        "org_id": uuid.UUID(match.group(1)) if match else None,
        "details": {
            "store": "vault",
            "operation": operation,
            "reason": reason,
            "ref": ref,
            "url": config.url,
        },
    }
    return Unavailable(message(config, reason), audit=payload)


def message(config: VaultConfig, reason: Reason) -> str:
    url, mount, prefix = config.url, config.mount, config.prefix
    scope = f"{mount}/data/{prefix}/* and {mount}/metadata/{prefix}/*" if prefix else mount
    messages: dict[Reason, str] = {
        "sealed": "The secret store (Vault) is sealed; ask an operator to unseal it, "
        "then try again.",
        "down": f"The secret store (Vault) at {url} is unavailable (standby or maintenance); "
        "try again shortly.",
        "unreachable": f"The secret store (Vault) is unreachable at {url}; check VAULT_URL "
        "and that Vault is running.",
        "timeout": f"The secret store (Vault) is unreachable at {url}: no answer within "
        f"{config.timeout:g} s.",
        "refused": "The secret store (Vault) refused access: check the token's policy "
        f"(it needs create, read, update, delete and list on {scope}).",
        "login": "The secret store (Vault) refused to log in: check VAULT_TOKEN, or "
        "VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole.",
        "no-credentials": "The secret store (Vault) has no credentials: set VAULT_TOKEN, "
        "or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole.",
        "no-approle": "The secret store (Vault) has no AppRole auth method at "
        f"'{config.approle_mount}'; check VAULT_APPROLE_MOUNT.",
        "no-mount": f"The secret store (Vault) has no KV v2 engine at mount '{mount}'; "
        "check VAULT_MOUNT.",
        "missing": "A stored credential is missing from the secret store (Vault); save it again.",
        "error": f"The secret store (Vault) at {url} failed; see the Vault server's log.",
    }
    return messages[reason]


def describe(exc: BaseException | None) -> str:
    """For the log: the error's kind and Vault's own words (Vault never echoes tokens)."""
    if exc is None:
        return "-"
    if isinstance(exc, hvac.exceptions.VaultError):
        return f"{type(exc).__name__}: {', '.join(map(str, exc.errors or [])) or exc}"
    return type(exc).__name__


def reason_of(exc: BaseException | None) -> Reason:
    if isinstance(exc, hvac.exceptions.VaultDown):
        return "sealed" if "sealed" in str(exc).lower() else "down"
    if isinstance(exc, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
        return "refused"
    if isinstance(exc, LoginRefused):
        return exc.reason
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, requests.RequestException):
        return "unreachable"
    return "error"
