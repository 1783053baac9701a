"""The secret store: where credentials live, so the rest of the database holds only refs.

Local store (the embedded default): Fernet ciphertexts in `stored_secrets`, the key in a file
outside the database (SECRET_KEY_FILE, default DATA_DIR/secret.key, created 0600 on first use).
A database dump alone reveals nothing. The Vault implementation comes with the integrations
issue behind the same three functions.
"""

from __future__ import annotations

import functools
import os
import uuid
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import Session

from agent_platform.models import StoredSecret
from agent_platform.models.base import utcnow
from agent_platform.settings import get_settings
from services.errors import Unavailable


def _key_path() -> Path:
    settings = get_settings()
    return settings.secret_key_file or settings.data_dir / "secret.key"


@functools.cache
def _fernet(path: str) -> Fernet:
    key_file = Path(path)
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return Fernet(key_file.read_bytes().strip())


def _cipher() -> Fernet:
    if get_settings().secret_store != "local":
        raise Unavailable("The Vault secret store is not available yet; use SECRET_STORE=local.")
    try:
        return _fernet(str(_key_path().resolve()))
    except (OSError, ValueError) as exc:
        raise Unavailable(
            f"The secret store key file cannot be used: {type(exc).__name__}"
        ) from None


def new_ref(org_id: uuid.UUID, kind: str) -> str:
    return f"org/{org_id}/{kind}/{uuid.uuid4()}"


def put(session: Session, ref: str, value: str, *, org_id: uuid.UUID | None) -> str:
    token = _cipher().encrypt(value.encode()).decode()
    row = session.get(StoredSecret, ref)
    if row is None:
        row = StoredSecret(ref=ref, org_id=org_id, ciphertext=token)
    else:
        row.ciphertext, row.updated_at = token, utcnow()
    session.add(row)
    return ref


def get(session: Session, ref: str) -> str:
    row = session.get(StoredSecret, ref)
    if row is None:
        raise Unavailable("A stored credential is missing; save it again.")
    try:
        return _cipher().decrypt(row.ciphertext.encode()).decode()
    except InvalidToken:
        raise Unavailable(
            "A stored credential cannot be decrypted (was the key file replaced?)."
        ) from None


def delete(session: Session, ref: str) -> None:
    row = session.get(StoredSecret, ref)
    if row is not None:
        session.delete(row)


def hint(value: str) -> str:
    """What the UI may show after saving: never more than the last four characters."""
    return f"…{value[-4:]}" if len(value) >= 12 else "…"
