"""The local secret store (the embedded default): Fernet ciphertexts in `stored_secrets`.

The key lives in a file outside the database (SECRET_KEY_FILE, default DATA_DIR/secret.key,
created 0600 on first use), so a database dump alone reveals nothing. Rows are written in the
caller's transaction: a rollback takes a half-saved secret with it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import uuid
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import Session, col, select

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


def cipher() -> Fernet:
    """The local key, whatever SECRET_STORE says: migrate-secrets reads it to move to Vault."""
    try:
        return _fernet(str(_key_path().resolve()))
    except (OSError, ValueError) as exc:
        raise Unavailable(
            f"The secret store key file cannot be used: {type(exc).__name__}"
        ) from None


def derived_key(purpose: str) -> bytes:
    """A key for another use (signing API access tokens), derived from the local key with
    HMAC and a label: the key file stays the one secret to keep, and a derived key that leaks
    reveals nothing about the secrets the file protects."""
    cipher()  # makes the key file on first use
    try:
        material = _key_path().resolve().read_bytes().strip()
    except OSError as exc:
        raise Unavailable(
            f"The secret store key file cannot be read: {type(exc).__name__}"
        ) from None
    return hmac.new(material, purpose.encode(), hashlib.sha256).digest()


def decrypt(row: StoredSecret) -> str:
    try:
        return cipher().decrypt(row.ciphertext.encode()).decode()
    except InvalidToken:
        raise Unavailable(
            "A stored credential cannot be decrypted (was the key file replaced?)."
        ) from None


class LocalStore:
    """`SecretStore` on the platform's own database."""

    name = "local"

    def put(self, session: Session, ref: str, value: str, *, org_id: uuid.UUID | None) -> str:
        token = cipher().encrypt(value.encode()).decode()
        row = session.get(StoredSecret, ref)
        if row is None:
            row = StoredSecret(ref=ref, org_id=org_id, ciphertext=token)
        else:
            row.ciphertext, row.updated_at = token, utcnow()
        session.add(row)
        return ref

    def get(self, session: Session, ref: str) -> str:
        row = session.get(StoredSecret, ref)
        if row is None:
            raise Unavailable("A stored credential is missing; save it again.")
        return decrypt(row)

    def delete(self, session: Session, ref: str) -> None:
        row = session.get(StoredSecret, ref)
        if row is not None:
            session.delete(row)

    def list_refs(self, session: Session, prefix: str = "") -> list[str]:
        query = select(StoredSecret.ref).order_by(col(StoredSecret.ref))
        if prefix:
            query = query.where(col(StoredSecret.ref).startswith(prefix, autoescape=True))
        return list(session.exec(query).all())
