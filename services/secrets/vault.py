"""The Vault / OpenBao secret store: KV v2 at VAULT_MOUNT/VAULT_PATH_PREFIX/<ref>, via hvac.

Why it is shaped like this:
- Vault is not part of the database transaction. A write happens at once, so the transaction
  registers an undo (`after_rollback`): a secret it created is deleted again, one it changed
  gets its old value back. A delete waits for the commit (`after_commit`), so a rolled-back
  "remove provider" still has its key.
- Writes use check-and-set: a new ref with cas=0, an update with the version this session last
  saw (or the current one). Two people saving the same credential at once get a `Conflict`
  instead of silently overwriting each other.
- Every Vault failure (sealed, unreachable, refused, missing) becomes `Unavailable` with a
  human message, a ~1 s timeout and an audit payload that `session_scope()` commits after the
  caller's work rolled back. Nothing ever falls back to the local store or to clear text, and
  no message carries a token.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, TypeVar

import hvac
import hvac.exceptions
import requests
from sqlalchemy import event
from sqlmodel import Session

from agent_platform.db import after_commit, after_rollback
from agent_platform.settings import Settings
from services.errors import Conflict, Unavailable
from services.secrets.vault_failures import LoginRefused, unavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")
_REF = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
# session.info keys: what this session knows about the refs it touched.
_VERSIONS = "vault_versions"  # ref -> last version this session read or wrote
_UNDO = "vault_undo"  # refs already given an undo in the current transaction
_DELETES = "vault_deletes"  # refs to purge after commit


@dataclass(frozen=True)
class VaultConfig:
    """The VAULT_* settings one client needs; hashable, so one client per distinct config."""

    url: str
    mount: str
    prefix: str
    timeout: float
    token: str = field(default="", repr=False)
    role_id: str = field(default="", repr=False)
    secret_id: str = field(default="", repr=False)
    approle_mount: str = "approle"

    @classmethod
    def from_settings(cls, settings: Settings) -> VaultConfig:
        return cls(
            url=settings.vault_url.rstrip("/"),
            mount=settings.vault_mount,
            prefix=settings.vault_path_prefix,
            timeout=settings.vault_timeout_seconds,
            token=settings.vault_token,
            role_id=settings.vault_role_id,
            secret_id=settings.vault_secret_id,
            approle_mount=settings.vault_approle_mount,
        )

    @property
    def uses_approle(self) -> bool:
        return bool(self.role_id and self.secret_id)


@dataclass(frozen=True)
class VaultStatus:
    """What an operator (or a test) may know about the client: never the token itself."""

    url: str
    auth: Literal["token", "approle"]
    logins: int
    renewals: int
    token_accessor: str


@dataclass(frozen=True)
class _Current:
    value: str | None  # None: no live version
    version: int  # 0: the path has never been written (or was purged)


class VaultStore:
    """`SecretStore` on Vault KV v2. One instance per config; safe to share between threads."""

    name = "vault"

    def __init__(self, config: VaultConfig) -> None:
        self.config = config
        # token="" (not None): hvac would otherwise pick up ~/.vault-token or VAULT_TOKEN.
        self._client = hvac.Client(
            url=config.url,
            token="" if config.uses_approle else config.token,
            timeout=config.timeout,
        )
        self._lock = threading.Lock()
        self._renew_at: float | None = 0.0  # monotonic time to act; None: the token never expires
        self._expires_at = 0.0
        self._full_ttl: int | None = None  # None: not looked up yet
        self._renewable = False
        self._logins = 0
        self._renewals = 0

    # --- the SecretStore interface -------------------------------------------------------

    def put(self, session: Session, ref: str, value: str, *, org_id: uuid.UUID | None) -> str:
        path = self._path(ref)
        current = self._read(path, ref, operation="put")
        versions: dict[str, int] = session.info.setdefault(_VERSIONS, {})
        cas = versions.get(ref, current.version)
        kv = self._client.secrets.kv.v2
        try:
            written = self._call(
                "put",
                ref,
                lambda: kv.create_or_update_secret(
                    path=path, secret={"value": value}, cas=cas, mount_point=self.config.mount
                ),
                passthrough=(hvac.exceptions.InvalidRequest,),
            )
        except hvac.exceptions.InvalidRequest as exc:
            if "check-and-set" not in str(exc):
                raise unavailable(self.config, "put", ref, exc) from None
            raise Conflict(
                "This credential was changed by someone else while you were saving it; "
                "reload and save it again."
            ) from None
        if not isinstance(written, dict) or "version" not in (written.get("data") or {}):
            # e.g. a KV v1 engine at the mount: it answers, but not the way KV v2 does
            raise unavailable(self.config, "put", ref, reason="no-mount")
        versions[ref] = int(written["data"]["version"])
        session.info.setdefault(_DELETES, set()).discard(ref)
        self._register_undo(session, ref, path, current)
        return ref

    def get(self, session: Session, ref: str) -> str:
        if ref in session.info.get(_DELETES, ()):
            raise Unavailable("A stored credential is missing; save it again.")
        current = self._read(self._path(ref), ref, operation="get")
        if current.value is None:
            raise unavailable(self.config, "get", ref, reason="missing")
        session.info.setdefault(_VERSIONS, {})[ref] = current.version
        return current.value

    def delete(self, session: Session, ref: str) -> None:
        self._path(ref)  # refuse a malformed ref now, not after the commit
        pending: set[str] = session.info.setdefault(_DELETES, set())
        if ref not in pending:
            pending.add(ref)
            after_commit(session, lambda: self._purge_after_commit(pending, ref))

    def list_refs(self, session: Session, prefix: str = "") -> list[str]:
        """Every ref under `prefix` (a ref folder such as "org/<id>/"), walking KV folders."""
        kv = self._client.secrets.kv.v2
        refs: list[str] = []
        folders = [prefix.strip("/")]
        while folders:
            folder = folders.pop()
            path = "/".join(p for p in (self.config.prefix, folder) if p)
            try:
                keys = self._call(
                    "list",
                    folder,
                    partial(kv.list_secrets, path=path, mount_point=self.config.mount),
                    passthrough=(hvac.exceptions.InvalidPath,),
                )["data"]["keys"]
            except hvac.exceptions.InvalidPath as exc:
                if "no handler for route" in str(exc):
                    raise unavailable(self.config, "list", folder, reason="no-mount") from None
                continue  # an empty folder
            for key in keys:
                child = f"{folder}/{key}" if folder else key
                if key.endswith("/"):
                    folders.append(child.rstrip("/"))
                else:
                    refs.append(child)
        return sorted(refs)

    # --- beyond the interface: what migrate-secrets and operators need ---------------------

    def read(self, ref: str) -> str | None:
        """The live value of `ref`, or None when Vault has none (no session bookkeeping)."""
        return self._read(self._path(ref), ref, operation="get").value

    def status(self) -> VaultStatus:
        accessor = self._call(
            "status", None, lambda: self._client.auth.token.lookup_self()["data"]["accessor"]
        )
        return VaultStatus(
            url=self.config.url,
            auth="approle" if self.config.uses_approle else "token",
            logins=self._logins,
            renewals=self._renewals,
            token_accessor=accessor,
        )

    # --- Vault calls -----------------------------------------------------------------------

    def _path(self, ref: str) -> str:
        if not _REF.fullmatch(ref) or any(part in (".", "..") for part in ref.split("/")):
            raise Unavailable("A secret reference is malformed; save the credential again.")
        return f"{self.config.prefix}/{ref}" if self.config.prefix else ref

    def _read(self, path: str, ref: str, *, operation: str) -> _Current:
        kv = self._client.secrets.kv.v2
        try:
            answer = self._call(
                operation,
                ref,
                lambda: kv.read_secret_version(
                    path=path, mount_point=self.config.mount, raise_on_deleted_version=False
                ),
                passthrough=(hvac.exceptions.InvalidPath,),
            )
        except hvac.exceptions.InvalidPath as exc:
            if "no handler for route" in str(exc):
                raise unavailable(self.config, operation, ref, reason="no-mount") from None
            return _Current(value=None, version=0)
        data = answer.get("data") or {}
        version = int((data.get("metadata") or {}).get("version") or 0)
        value = (data.get("data") or {}).get("value")
        return _Current(value=value if isinstance(value, str) else None, version=version)

    def _call(
        self,
        operation: str,
        ref: str | None,
        fn: Callable[[], T],
        *,
        passthrough: tuple[type[Exception], ...] = (),
    ) -> T:
        """Run one Vault request with a fresh token; translate every failure to Unavailable.

        A 403 with AppRole gets one new login and one retry: the token may have been revoked
        or outlived its max TTL, which renewal cannot fix.
        """
        try:
            self._token_ready()
            try:
                return fn()
            except hvac.exceptions.Forbidden:
                if not self.config.uses_approle:
                    raise
                with self._lock:
                    self._login()
                return fn()
        except passthrough:
            raise
        except (hvac.exceptions.VaultError, requests.RequestException, LoginRefused) as exc:
            raise unavailable(self.config, operation, ref, exc) from None

    def _token_ready(self) -> None:
        """Log in, look the token up once, and renew it when less than a third of its TTL
        is left; if it cannot be renewed (not renewable, max TTL reached) log in again."""
        with self._lock:
            if self._renew_at is None or time.monotonic() < self._renew_at:
                return
            if not self._client.token:
                self._login()
                return
            if self._full_ttl is None:
                data = self._client.auth.token.lookup_self()["data"]
                ttl = int(data.get("ttl") or 0)
                self._track(ttl, int(data.get("creation_ttl") or ttl), bool(data.get("renewable")))
                if self._renew_at is None or time.monotonic() < self._renew_at:
                    return
            self._renew()

    def _renew(self) -> None:
        full = self._full_ttl or 0
        if self._renewable:
            try:
                auth = self._client.auth.token.renew_self()["auth"]
            except (
                hvac.exceptions.InvalidRequest,  # "lease is not renewable"
                hvac.exceptions.Forbidden,  # already expired or revoked
                hvac.exceptions.InternalServerError,  # "past the max TTL, cannot renew"
            ):
                auth = None
            # Less than half the full TTL back means the max TTL capped it: log in instead.
            if auth and int(auth["lease_duration"]) > full / 2:
                self._renewals += 1
                self._track(int(auth["lease_duration"]), full, bool(auth.get("renewable")))
                return
        if self.config.uses_approle:
            self._login()
            return
        # A static token that cannot be renewed: use it until it expires, then Vault refuses.
        self._renew_at = max(self._expires_at, time.monotonic() + 1)

    def _login(self) -> None:
        if not self.config.uses_approle:
            raise LoginRefused("no-credentials")
        try:
            answer = self._client.auth.approle.login(
                role_id=self.config.role_id,
                secret_id=self.config.secret_id,
                mount_point=self.config.approle_mount,
            )
        except (hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden):
            raise LoginRefused("login") from None
        except hvac.exceptions.InvalidPath:
            raise LoginRefused("no-approle") from None
        auth = answer["auth"]
        self._logins += 1
        ttl = int(auth.get("lease_duration") or 0)
        self._track(ttl, ttl, bool(auth.get("renewable")))

    def _track(self, ttl: int, full: int, renewable: bool) -> None:
        now = time.monotonic()
        self._full_ttl, self._renewable = full, renewable
        self._expires_at = now + ttl
        self._renew_at = None if ttl <= 0 else now + ttl - full / 3

    # --- transactions ----------------------------------------------------------------------

    def _register_undo(self, session: Session, ref: str, path: str, before: _Current) -> None:
        """Once per ref and transaction: on rollback put back what Vault held before it."""
        touched: set[str] = session.info.setdefault(_UNDO, set())
        if ref in touched:
            return
        if not touched:
            _forget_undo_when_transaction_ends(session)
        touched.add(ref)
        versions: dict[str, int] = session.info[_VERSIONS]
        after_rollback(session, lambda: self._undo(ref, path, before, versions))

    def _undo(self, ref: str, path: str, before: _Current, versions: dict[str, int]) -> None:
        kv = self._client.secrets.kv.v2
        mount = self.config.mount
        if before.value is None and before.version == 0:
            self._call("undo", ref, lambda: kv.delete_metadata_and_all_versions(path, mount))
            logger.info("rolled back: deleted the new Vault secret %s", ref)
        elif before.value is not None:
            cas = versions.get(ref, 0)
            self._call(
                "undo",
                ref,
                lambda: kv.create_or_update_secret(
                    path=path, secret={"value": before.value}, cas=cas, mount_point=mount
                ),
            )
            logger.info("rolled back: restored the previous value of Vault secret %s", ref)

    def _purge_after_commit(self, pending: set[str], ref: str) -> None:
        """The committed delete: purge every version. A failure cannot undo the commit: it is
        logged here, and the session scope audits it in its own transaction (the error carries
        the entry), so the orphan can be removed by hand."""
        if ref not in pending:  # saved again later in the same transaction
            return
        kv = self._client.secrets.kv.v2
        try:
            self._call(
                "delete",
                ref,
                lambda: kv.delete_metadata_and_all_versions(self._path(ref), self.config.mount),
            )
        except Unavailable as exc:
            logger.warning("Vault secret %s was not deleted: %s", ref, exc.message)
            raise


def _forget_undo_when_transaction_ends(session: Session) -> None:
    """A plain Session may run several transactions: each starts with no undo registered."""

    def _reset(*_: Any) -> None:
        session.info.pop(_UNDO, None)

    event.listen(session, "after_commit", _reset, once=True)
    event.listen(session, "after_soft_rollback", _reset, once=True)
