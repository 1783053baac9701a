"""The secret store: where credentials live, so the rest of the database holds only refs.

Two implementations of one small interface, chosen by SECRET_STORE:
- "local" (the embedded default, `local.py`): Fernet ciphertexts in `stored_secrets`, the key
  in a file outside the database; rows ride the caller's transaction.
- "vault" (`vault.py`): HashiCorp Vault or OpenBao KV v2 through hvac.
Callers use the module functions below and never learn which one is active. A failing Vault is
an `Unavailable` error, never a silent fallback to the local store or to clear text.
"""

from __future__ import annotations

import functools
import uuid
from typing import Protocol

from sqlmodel import Session

from agent_platform.settings import get_settings
from services.secrets.local import LocalStore
from services.secrets.vault import VaultConfig, VaultStore

__all__ = [
    "SecretStore",
    "current_store",
    "delete",
    "get",
    "hint",
    "list_refs",
    "new_ref",
    "put",
    "vault_store",
]


class SecretStore(Protocol):
    """What a secret store does; `session` is the caller's transaction (never committed here)."""

    name: str

    def put(self, session: Session, ref: str, value: str, *, org_id: uuid.UUID | None) -> str: ...

    def get(self, session: Session, ref: str) -> str: ...

    def delete(self, session: Session, ref: str) -> None: ...

    def list_refs(self, session: Session, prefix: str = "") -> list[str]: ...


_LOCAL = LocalStore()


@functools.cache
def _vault_for(config: VaultConfig) -> VaultStore:
    return VaultStore(config)


def vault_store() -> VaultStore:
    """The Vault store for the current VAULT_* settings, whatever SECRET_STORE says (the
    migration needs it before the switch). One client per config keeps its token renewed."""
    return _vault_for(VaultConfig.from_settings(get_settings()))


def current_store() -> SecretStore:
    if get_settings().secret_store == "vault":
        return vault_store()
    return _LOCAL


def new_ref(org_id: uuid.UUID, kind: str) -> str:
    return f"org/{org_id}/{kind}/{uuid.uuid4()}"


def put(session: Session, ref: str, value: str, *, org_id: uuid.UUID | None) -> str:
    return current_store().put(session, ref, value, org_id=org_id)


def get(session: Session, ref: str) -> str:
    return current_store().get(session, ref)


def delete(session: Session, ref: str) -> None:
    current_store().delete(session, ref)


def list_refs(session: Session, prefix: str = "") -> list[str]:
    return current_store().list_refs(session, prefix)


def hint(value: str) -> str:
    """What the UI may show after saving: never more than the last four characters."""
    return f"…{value[-4:]}" if len(value) >= 12 else "…"
