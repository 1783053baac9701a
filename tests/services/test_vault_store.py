"""The Vault secret store against a real OpenBao dev server (tests/vault_server.py).

Everything goes through the public `services.secrets` functions (or the real CLI), with
SECRET_STORE=vault set the way an operator sets it: environment + a settings reload.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import hvac.exceptions
import pytest
from sqlmodel import Session, func, select

from agent_platform.db import session_scope
from agent_platform.models import AuditEntry, StoredSecret, User
from services import accounts, secrets
from services.errors import Conflict, Unavailable
from services.llm import providers
from services.secrets.vault_failures import AUDIT_ACTION
from tests.factories import make_user, personal_actor
from tests.vault_server import ROOT_TOKEN, VaultEnv, free_port
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-live-0123456789abcdef"


def org_id(session: Session) -> uuid.UUID:
    return personal_actor(session, make_user(session)).org_id


def stored_rows(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(StoredSecret)).one()


def vault_audits(session: Session) -> list[AuditEntry]:
    session.expire_all()
    return list(session.exec(select(AuditEntry).where(AuditEntry.action == AUDIT_ACTION)).all())


def fails_in_scope(action: Callable[[Session], object]) -> tuple[Unavailable, float]:
    """Run `action` in its own transaction the way a request does; the error and its time."""
    start = time.monotonic()
    with pytest.raises(Unavailable) as caught, session_scope() as s:
        action(s)
    return caught.value, time.monotonic() - start


class TestRoundTrip:
    def test_put_get_delete_through_the_public_functions(self, session, vault: VaultEnv) -> None:
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        with session_scope() as s:
            assert secrets.put(s, ref, KEY, org_id=oid) == ref
        assert vault.read(ref) == KEY
        with session_scope() as s:
            assert secrets.get(s, ref) == KEY
            secrets.put(s, ref, "sk-rotated-value-9999", org_id=oid)
        with session_scope() as s:
            assert secrets.get(s, ref) == "sk-rotated-value-9999"
            assert secrets.list_refs(s, f"org/{oid}/") == [ref]
        with session_scope() as s:
            secrets.delete(s, ref)
            assert vault.read(ref) == "sk-rotated-value-9999"  # deferred until the commit
        assert vault.read(ref) is None
        error, _ = fails_in_scope(lambda s: secrets.get(s, ref))
        assert "missing" in error.message
        [entry] = vault_audits(session)
        assert (entry.org_id, entry.details["reason"]) == (oid, "missing")

    def test_nothing_is_written_to_stored_secrets(self, session, vault: VaultEnv) -> None:
        oid = org_id(session)
        with session_scope() as s:
            for _ in range(3):
                secrets.put(s, secrets.new_ref(oid, "integration"), KEY, org_id=oid)
        assert stored_rows(session) == 0
        with session_scope() as s:
            assert len(secrets.list_refs(s)) == 3

    def test_a_provider_key_is_stored_in_vault(self, session, vault: VaultEnv) -> None:
        actor = personal_actor(session, make_user(session))
        data = {"name": "openai", "kind": "openai", "api_key": KEY, "models": ["gpt-4o-mini"]}
        with session_scope() as s:
            row = providers.save_provider(s, actor, data)
            ref, provider_id = row.secret_ref, row.id
        assert ref and vault.read(ref) == KEY
        assert stored_rows(session) == 0
        with session_scope() as s:
            assert providers.resolve(s, actor.org_id, "openai/gpt-4o-mini").api_key == KEY
        with session_scope() as s:
            providers.delete_provider(s, actor, provider_id)
        assert vault.read(ref) is None


class TestTransactions:
    def test_rollback_deletes_a_secret_this_transaction_created(self, session, vault) -> None:
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        with pytest.raises(RuntimeError), session_scope() as s:
            secrets.put(s, ref, KEY, org_id=oid)
            assert vault.read(ref) == KEY  # Vault is not transactional: written at once
            raise RuntimeError("the request failed later")
        assert vault.read(ref) is None

    def test_rollback_restores_the_previous_value_of_an_updated_secret(
        self, session, vault
    ) -> None:
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        with session_scope() as s:
            secrets.put(s, ref, "sk-old-value-1234", org_id=oid)
        with pytest.raises(RuntimeError), session_scope() as s:
            secrets.put(s, ref, "sk-new-value-5678", org_id=oid)
            secrets.put(s, ref, "sk-newer-value-90", org_id=oid)
            raise RuntimeError("the request failed later")
        assert vault.read(ref) == "sk-old-value-1234"

    def test_a_delete_that_rolls_back_keeps_the_secret(self, session, vault) -> None:
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        with session_scope() as s:
            secrets.put(s, ref, KEY, org_id=oid)
        with pytest.raises(RuntimeError), session_scope() as s:
            secrets.delete(s, ref)
            raise RuntimeError("the request failed later")
        assert vault.read(ref) == KEY


class TestCheckAndSet:
    def test_saving_over_a_change_made_since_reading_is_a_conflict(self, session, vault) -> None:
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        with session_scope() as s:
            secrets.put(s, ref, KEY, org_id=oid)
        with Session(session.get_bind()) as mine:
            assert secrets.get(mine, ref) == KEY  # this session saw version 1
            with session_scope() as theirs:
                secrets.put(theirs, ref, "sk-theirs-123456", org_id=oid)  # version 2
            with pytest.raises(Conflict) as caught:
                secrets.put(mine, ref, "sk-mine-12345678", org_id=oid)
        assert "changed by someone else" in caught.value.message
        assert vault.read(ref) == "sk-theirs-123456"

    def test_every_write_carries_check_and_set(self, session, vault) -> None:
        """With cas_required on the path Vault refuses any write without a cas version."""
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        kv = vault.server.client().secrets.kv.v2
        kv.update_metadata(path=vault.path(ref), cas_required=True, mount_point=vault.mount)
        with session_scope() as s:
            secrets.put(s, ref, KEY, org_id=oid)  # new: cas=0
        with session_scope() as s:
            secrets.put(s, ref, "sk-updated-value-77", org_id=oid)  # update: cas=1
        assert vault.read(ref) == "sk-updated-value-77"
        with pytest.raises(hvac.exceptions.InvalidRequest):
            vault.write(ref, "sk-written-without-cas")  # the setting is really in force


def approle(vault: VaultEnv, *, ttl: str, max_ttl: str) -> tuple[str, str]:
    """An AppRole whose tokens may use only this test's prefix; returns (role_id, secret_id)."""
    root = vault.server.client()
    if "approle/" not in root.sys.list_auth_methods()["data"]:
        root.sys.enable_auth_method("approle")
    name = f"role-{vault.prefix}"
    rules = f"""
    path "{vault.mount}/data/{vault.prefix}/*" {{ capabilities = ["create", "read", "update"] }}
    path "{vault.mount}/metadata/{vault.prefix}/*" {{ capabilities = ["read", "list", "delete"] }}
    """
    root.sys.create_or_update_policy(name=name, policy=rules)
    root.auth.approle.create_or_update_approle(
        name, token_policies=[name], token_ttl=ttl, token_max_ttl=max_ttl
    )
    role_id = root.auth.approle.read_role_id(name)["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id(name)["data"]["secret_id"]
    return role_id, secret_id


def token_expiry(vault: VaultEnv, accessor: str) -> datetime:
    """When Vault itself says the token expires (its lookup, not our clock's guess)."""
    stamp = vault.server.client().auth.token.lookup_accessor(accessor)["data"]["expire_time"]
    whole, _, fraction = stamp.rstrip("Z").partition(".")  # Vault gives nanoseconds
    return datetime.fromisoformat(f"{whole}.{(fraction or '0')[:6]:0<6}+00:00")


def seconds_left(expiry: datetime) -> float:
    return (expiry - datetime.now(UTC)).total_seconds()


class TestAppRole:
    def test_logs_in_and_renews_the_token_before_it_expires(self, session, vault) -> None:
        role_id, secret_id = approle(vault, ttl="3s", max_ttl="60s")
        vault.configure(vault_token="", vault_role_id=role_id, vault_secret_id=secret_id)
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        with session_scope() as s:
            secrets.put(s, ref, KEY, org_id=oid)
        store = secrets.vault_store()
        first = store.status()
        assert (first.auth, first.logins, first.renewals) == ("approle", 1, 0)
        first_expiry = token_expiry(vault, first.token_accessor)
        wait_until(lambda: seconds_left(first_expiry) < 0.8, 10, what="a third of the TTL left")
        with session_scope() as s:
            assert secrets.get(s, ref) == KEY
        assert token_expiry(vault, first.token_accessor) > first_expiry  # Vault saw a renewal
        wait_until(lambda: seconds_left(first_expiry) < 0, 10, what="the first expiry passed")
        with session_scope() as s:  # only a renewed token still works now
            assert secrets.get(s, ref) == KEY
        after = store.status()
        assert after.logins == 1 and after.renewals >= 1
        assert after.token_accessor == first.token_accessor
        with session_scope() as s:  # the README's policy is enough for every operation
            assert secrets.list_refs(s) == [ref]
            secrets.delete(s, ref)
        assert vault.read(ref) is None and vault_audits(session) == []

    def test_logs_in_again_when_the_token_cannot_be_renewed(self, session, vault) -> None:
        role_id, secret_id = approle(vault, ttl="3s", max_ttl="3s")
        vault.configure(vault_token="", vault_role_id=role_id, vault_secret_id=secret_id)
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        with session_scope() as s:
            secrets.put(s, ref, KEY, org_id=oid)
        first = secrets.vault_store().status()
        expiry = token_expiry(vault, first.token_accessor)
        # Renewal would now give back at most the < 0.8 s left before the max TTL.
        wait_until(lambda: seconds_left(expiry) < 0.8, 10, what="a third of the TTL left")
        with session_scope() as s:
            assert secrets.get(s, ref) == KEY
        after = secrets.vault_store().status()
        assert after.logins == 2 and after.token_accessor != first.token_accessor

    def test_a_wrong_secret_id_is_a_clear_refusal(self, session, vault) -> None:
        role_id, _ = approle(vault, ttl="1m", max_ttl="1m")
        vault.configure(vault_token="", vault_role_id=role_id, vault_secret_id=str(uuid.uuid4()))
        oid = org_id(session)
        error, _ = fails_in_scope(
            lambda s: secrets.put(s, secrets.new_ref(oid, "llm"), KEY, org_id=oid)
        )
        assert "refused to log in" in error.message and "VAULT_SECRET_ID" in error.message
        [entry] = vault_audits(session)
        assert entry.details["reason"] == "login"


class TestFailures:
    def test_sealed_vault_fails_fast_audits_and_rolls_back_the_callers_work(
        self, session, vault: VaultEnv
    ) -> None:
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        with session_scope() as s:
            secrets.put(s, ref, KEY, org_id=oid)
        vault.server.seal()
        try:
            with pytest.raises(Unavailable) as caught, session_scope() as s:
                accounts.register(s, email="half@example.com", name="Half", password="long pw 123")
                start = time.monotonic()
                secrets.get(s, ref)
            elapsed = time.monotonic() - start
        finally:
            vault.server.unseal()
        assert elapsed < 1.0
        assert caught.value.message.startswith("The secret store (Vault) is sealed")
        session.expire_all()
        assert session.exec(select(User).where(User.email == "half@example.com")).first() is None
        [entry] = vault_audits(session)
        assert entry.org_id == oid
        assert entry.details["reason"] == "sealed" and entry.details["ref"] == ref
        assert ROOT_TOKEN not in str(entry.details)
        with session_scope() as s:
            assert secrets.get(s, ref) == KEY  # unsealed again: nothing was lost

    def test_a_delete_vault_misses_after_the_commit_is_audited(self, session, vault) -> None:
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        with session_scope() as s:
            secrets.put(s, ref, KEY, org_id=oid)
        try:
            with session_scope() as s:
                secrets.delete(s, ref)
                vault.server.seal()  # the commit succeeds; the deferred delete cannot
        finally:
            vault.server.unseal()
        assert vault.read(ref) == KEY  # left for an operator, and recorded
        [entry] = vault_audits(session)
        assert entry.details["operation"] == "delete" and entry.details["reason"] == "sealed"
        assert entry.org_id == oid

    def test_vault_down_is_unavailable_within_a_second(self, session, vault) -> None:
        url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        vault.configure(vault_url=url)
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        error, elapsed = fails_in_scope(lambda s: secrets.put(s, ref, KEY, org_id=oid))
        assert elapsed < 1.0
        assert error.message == (
            f"The secret store (Vault) is unreachable at {url}; "
            "check VAULT_URL and that Vault is running."
        )
        assert stored_rows(session) == 0  # no fallback to the local store
        [entry] = vault_audits(session)
        assert entry.details == {
            "store": "vault",
            "operation": "put",
            "reason": "unreachable",
            "ref": ref,
            "url": url,
        }

    def test_a_vault_that_never_answers_times_out_instead_of_hanging(self, session, vault) -> None:
        with socket.socket() as silent:  # accepts connections (backlog), never replies
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            url = f"http://127.0.0.1:{silent.getsockname()[1]}"
            vault.configure(vault_url=url)  # VAULT_TIMEOUT_SECONDS: default 1.0
            oid = org_id(session)
            error, elapsed = fails_in_scope(lambda s: secrets.get(s, secrets.new_ref(oid, "llm")))
        assert elapsed < 1.5
        assert error.message == (
            f"The secret store (Vault) is unreachable at {url}: no answer within 1 s."
        )

    def test_a_token_without_permission_is_refused_clearly(self, session, vault) -> None:
        weak = vault.server.client().auth.token.create(policies=["default"], ttl="10m")
        token = weak["auth"]["client_token"]
        vault.configure(vault_token=token)
        oid = org_id(session)
        ref = secrets.new_ref(oid, "llm")
        error, elapsed = fails_in_scope(lambda s: secrets.put(s, ref, KEY, org_id=oid))
        assert elapsed < 1.0
        assert error.message.startswith(
            "The secret store (Vault) refused access: check the token's policy"
        )
        assert token not in error.message
        assert vault.read(ref) is None and stored_rows(session) == 0


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_platform", *args],
        cwd=ROOT,
        env=dict(os.environ, **{k.upper(): v for k, v in env.items()}),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def local_secrets(session: Session, vault: VaultEnv) -> Iterator[dict[str, str]]:
    """Three secrets in the local store (SECRET_STORE=local), as before a migration."""
    vault.configure(secret_store="local")
    oid = org_id(session)
    values = {secrets.new_ref(oid, kind): f"sk-{kind}-{uuid.uuid4().hex}" for kind in "abc"}
    with session_scope() as s:
        for ref, value in values.items():
            secrets.put(s, ref, value, org_id=oid)
    assert stored_rows(session) == 3
    yield values


class TestMigrateSecrets:
    def test_moves_and_verifies_every_secret_then_deletes_the_local_rows(
        self, session, vault: VaultEnv, local_secrets: dict[str, str]
    ) -> None:
        already = next(iter(local_secrets))
        vault.write(already, local_secrets[already])  # a repeated run: same value is fine
        result = run_cli("migrate-secrets", secret_store="local")
        assert result.returncode == 0, result.stderr
        url = vault.server.url
        assert f"moved 3 secrets to Vault at {url}; all 3 verified" in result.stdout
        assert "SECRET_STORE=vault" in result.stdout
        assert stored_rows(session) == 0
        assert {ref: vault.read(ref) for ref in local_secrets} == local_secrets
        vault.configure(secret_store="vault")
        with session_scope() as s:
            assert {ref: secrets.get(s, ref) for ref in local_secrets} == local_secrets

    def test_a_different_value_in_vault_fails_and_deletes_nothing(
        self, session, vault: VaultEnv, local_secrets: dict[str, str]
    ) -> None:
        clash, *others = sorted(local_secrets)
        vault.write(clash, "sk-someone-elses-value")
        result = run_cli("migrate-secrets")
        assert result.returncode == 1
        assert f"error: {clash}: Vault already holds a different value" in result.stderr
        assert "Traceback" not in result.stderr
        assert stored_rows(session) == 3
        assert vault.read(clash) == "sk-someone-elses-value"
        assert [vault.read(ref) for ref in others] == [None, None]  # undone by the rollback

    def test_an_unreachable_vault_fails_with_one_line_and_deletes_nothing(
        self, session, vault: VaultEnv, local_secrets: dict[str, str]
    ) -> None:
        url = f"http://127.0.0.1:{free_port()}"
        result = run_cli("migrate-secrets", vault_url=url)
        assert result.returncode == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert f"is unreachable at {url}" in errors[0] and len(errors) == 2
        assert "Traceback" not in result.stderr and ROOT_TOKEN not in result.stderr
        assert stored_rows(session) == 3
        [entry] = vault_audits(session)
        assert entry.details["reason"] == "unreachable"
