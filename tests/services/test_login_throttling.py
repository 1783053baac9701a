"""Sign-in throttling: delays per (account, client) and per client, never a lock-out of the
owner; sign-up that does not confirm accounts; the client address behind trusted proxies."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable

import pytest
from sqlmodel import Session, select

from agent_platform.client_address import client_address
from agent_platform.db import session_scope
from agent_platform.models import User, UserSession
from agent_platform.settings import Settings, SettingsError, get_settings
from services import accounts
from services.errors import Conflict, Unauthenticated
from services.ratelimit import DelayPolicy, LoginLimiter, Throttled
from tests.factories import PASSWORD, audit_entries, limiter, make_user

ATTACKER, OWNER = "203.0.113.7", "198.51.100.1"


class Clock:
    """Time that moves only when the test says so: delays are checked without sleeping."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fail(session: Session, limit: LoginLimiter, email: str, client: str | None = ATTACKER) -> None:
    with pytest.raises(Unauthenticated):
        accounts.login(session, limit, email=email, password="wrong password!", client_ip=client)


def wait_then_fail(
    session: Session, limit: LoginLimiter, clock: Clock, email: str, client: str = ATTACKER
) -> None:
    """A patient attacker: waits out whatever delay there is, then guesses wrong again."""
    try:
        fail(session, limit, email, client)
    except Throttled as exc:
        clock.advance(exc.retry_after)
        fail(session, limit, email, client)


def sign_in(session: Session, limit: LoginLimiter, client: str | None = OWNER) -> str:
    return accounts.login(
        session, limit, email="ada@example.com", password=PASSWORD, client_ip=client
    ).token


class TestNoLockOut:
    def test_an_attackers_20_failures_do_not_stop_the_owner_on_another_client(self, session):
        make_user(session, email="ada@example.com")
        clock = Clock()
        limit = limiter(clock=clock)
        for _ in range(20):
            wait_then_fail(session, limit, clock, "ada@example.com")
        with pytest.raises(Throttled):
            sign_in(session, limit, client=ATTACKER)
        assert sign_in(session, limit, client=OWNER)

    def test_a_client_probing_many_accounts_is_slowed_but_others_are_not(self, session):
        make_user(session, email="ada@example.com")
        limit = limiter(free=5, client_free=20)
        for i in range(20):  # one guess per account: only the per-client count sees them
            fail(session, limit, f"probe-{i}@example.com")
        with pytest.raises(Throttled):
            sign_in(session, limit, client=ATTACKER)
        assert sign_in(session, limit, client=OWNER)

    def test_good_sign_ins_never_slow_a_shared_address(self, session):
        make_user(session, email="ada@example.com")
        limit = limiter(free=2, client_free=3)
        for _ in range(10):
            assert sign_in(session, limit, client="192.0.2.50")

    def test_success_clears_the_pair(self, session):
        make_user(session, email="ada@example.com")
        limit = limiter(free=3)
        for _ in range(2):
            fail(session, limit, "ada@example.com", OWNER)
        sign_in(session, limit)
        for _ in range(2):
            fail(session, limit, "ada@example.com", OWNER)
        assert sign_in(session, limit)


class TestDelays:
    def test_delays_double_after_the_free_attempts(self, session):
        make_user(session, email="ada@example.com")
        clock = Clock()
        limit = limiter(free=3, clock=clock)
        for _ in range(3):
            fail(session, limit, "ada@example.com")
        waits = []
        for _ in range(5):
            with pytest.raises(Throttled) as exc:
                sign_in(session, limit, client=ATTACKER)
            waits.append(exc.value.retry_after)
            clock.advance(exc.value.retry_after)
            fail(session, limit, "ada@example.com")
        assert waits == [1, 2, 4, 8, 16]

    def test_the_owner_gets_in_on_the_same_client_once_the_delay_has_passed(self, session):
        make_user(session, email="ada@example.com")
        clock = Clock()
        limit = limiter(free=3, clock=clock)
        for _ in range(3):
            fail(session, limit, "ada@example.com", OWNER)
        with pytest.raises(Throttled) as exc:
            sign_in(session, limit)
        assert exc.value.status == 429
        assert "Try again in 1 second" in exc.value.message
        clock.advance(0.5)
        with pytest.raises(Throttled):
            sign_in(session, limit)
        clock.advance(0.5)
        assert sign_in(session, limit)

    def test_delays_stop_growing_at_the_maximum(self, session):
        clock = Clock()
        limit = LoginLimiter(
            limiter().throttle.redis,
            pair=DelayPolicy(1, 1.0, 30.0),
            client=DelayPolicy(100, 1.0, 30.0),
            clock=clock,
        )
        for _ in range(12):
            wait_then_fail(session, limit, clock, "ghost@example.com")
        with pytest.raises(Throttled) as exc:
            fail(session, limit, "ghost@example.com")
        assert exc.value.retry_after == 30
        assert "30 seconds" in exc.value.message

    def test_email_case_does_not_give_fresh_attempts(self, session):
        make_user(session, email="ada@example.com")
        limit = limiter(free=3)
        for email in ("ada@example.com", "ADA@example.com", "Ada@Example.Com"):
            fail(session, limit, email)
        with pytest.raises(Throttled):
            sign_in(session, limit, client=ATTACKER)

    def test_a_throttled_attempt_opens_no_session_and_checks_no_password(self, session):
        make_user(session, email="ada@example.com")
        limit = limiter(free=2)
        for _ in range(2):  # through the scope, as a request is: it writes the refusal's entry
            with pytest.raises(Unauthenticated), session_scope() as scope:
                accounts.login(
                    scope, limit, email="ada@example.com", password="wrong!!", client_ip=ATTACKER
                )
        with pytest.raises(Throttled), session_scope() as scope:
            sign_in(scope, limit, client=ATTACKER)
        assert session.exec(select(UserSession)).all() == []
        assert audit_entries(session, "auth.login") == []
        assert len(audit_entries(session, "auth.login_failed")) == 2

    def test_parallel_guesses_cannot_slip_past_the_count(self):
        limit = limiter(free=3, client_free=1000)
        passed: list[bool] = []
        barrier = threading.Barrier(20)

        def guess() -> None:
            barrier.wait()
            try:
                limit.attempt("ada@example.com", ATTACKER)
                passed.append(True)
            except Throttled:
                passed.append(False)

        threads = [threading.Thread(target=guess) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert passed.count(True) == 3


class TestSignUpDoesNotConfirmAccounts:
    def sign_up(
        self, session: Session, limit: LoginLimiter, email: str, password: str = "another pw 42!"
    ) -> accounts.LoginResult:
        return accounts.sign_up(
            session, limit, email=email, name="Eve", password=password, client_ip=ATTACKER
        )

    def test_a_new_email_creates_the_account_and_signs_it_in(self, session):
        result = self.sign_up(session, limiter(), "new@example.com")
        assert result.user.email == "new@example.com"
        assert accounts.user_for_token(session, result.token) is not None

    def test_an_existing_email_gets_a_generic_answer_naming_no_field(self, session):
        make_user(session, email="ada@example.com")
        with pytest.raises(Conflict) as exc:
            self.sign_up(session, limiter(), "ADA@example.com")
        assert exc.value.message == accounts.SIGN_UP_REFUSED
        assert exc.value.fields == {}
        assert "ada@example.com" not in exc.value.message.lower()
        assert "exists" not in exc.value.message and "registered" not in exc.value.message
        assert len(session.exec(select(User)).all()) == 1

    def test_the_answer_is_the_same_for_active_and_deactivated_accounts(self, session):
        make_user(session, email="ada@example.com")
        gone = make_user(session, email="gone@example.com")
        gone.is_active = False
        session.add(gone)
        session.flush()
        answers = []
        for email in ("ada@example.com", "gone@example.com"):
            with pytest.raises(Conflict) as exc:
                self.sign_up(session, limiter(), email)
            answers.append((exc.value.message, exc.value.fields, exc.value.status))
        assert answers[0] == answers[1]

    def test_the_owner_signing_up_again_with_their_password_is_just_signed_in(self, session):
        owner = make_user(session, email="ada@example.com")
        result = self.sign_up(session, limiter(), "ada@example.com", password=PASSWORD)
        assert result.user.id == owner.id
        assert len(session.exec(select(User)).all()) == 1

    def test_the_owner_finds_the_attempt_in_their_audit_log(self, session):
        owner = make_user(session, email="ada@example.com")
        with pytest.raises(Conflict), session_scope() as scope:
            self.sign_up(scope, limiter(), "ada@example.com")
        [entry] = audit_entries(session, "auth.sign_up_existing")
        assert entry.actor_id == owner.id and entry.client_ip == ATTACKER

    def test_probing_emails_through_sign_up_is_throttled_like_guessing(self, session):
        make_user(session, email="ada@example.com")
        limit = limiter(free=3)
        for _ in range(3):
            with pytest.raises(Conflict):
                self.sign_up(session, limit, "ada@example.com")
        with pytest.raises(Throttled):
            self.sign_up(session, limit, "ada@example.com")
        assert sign_in(session, limit, client=OWNER)


class TestClientAddress:
    PROXIES = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]

    def test_forwarded_for_is_ignored_without_trusted_proxies(self):
        assert client_address("198.51.100.9", "1.2.3.4", []) == "198.51.100.9"

    def test_forwarded_for_is_ignored_when_the_peer_is_not_a_trusted_proxy(self):
        assert client_address("198.51.100.9", "1.2.3.4", self.PROXIES) == "198.51.100.9"

    def test_a_trusted_proxy_is_believed(self):
        assert client_address("10.0.0.2", "203.0.113.7", self.PROXIES) == "203.0.113.7"

    def test_an_address_the_client_wrote_itself_is_not_believed(self):
        # The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the real address.
        assert client_address("10.0.0.2", "1.2.3.4, 203.0.113.7", self.PROXIES) == "203.0.113.7"

    def test_a_chain_of_trusted_proxies_is_walked_from_the_right(self):
        chain = "203.0.113.7, 10.1.1.1, 10.2.2.2"
        assert client_address("10.0.0.2", chain, self.PROXIES) == "203.0.113.7"

    def test_ipv6_and_ports(self):
        assert client_address("fd00::5", "[2001:db8::7]:443", self.PROXIES) == "2001:db8::7"
        assert client_address("10.0.0.2", "203.0.113.7:5555", self.PROXIES) == "203.0.113.7"

    def test_garbage_falls_back_to_the_peer(self):
        assert client_address("10.0.0.2", "not-an-ip", self.PROXIES) == "10.0.0.2"

    def test_the_setting_takes_cidrs_and_refuses_nonsense(self, monkeypatch):
        monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
        assert [str(n) for n in Settings().trusted_proxy_networks] == ["10.0.0.0/8", "192.0.2.1/32"]
        monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8, proxy.local")
        get_settings.cache_clear()
        try:
            with pytest.raises(SettingsError, match="TRUSTED_PROXIES"):
                get_settings()
        finally:
            monkeypatch.delenv("TRUSTED_PROXIES")
            get_settings.cache_clear()

    def test_spoofed_forwarded_for_does_not_buy_fresh_attempts(self, session):
        """End to end with the throttle: a direct client rotating X-Forwarded-For stays one
        client."""
        make_user(session, email="ada@example.com")
        limit = limiter(free=3)
        address: Callable[[str], str | None] = lambda fake: client_address(  # noqa: E731
            ATTACKER, fake, self.PROXIES
        )
        for i in range(3):
            fail(session, limit, "ada@example.com", address(f"1.1.1.{i}"))
        with pytest.raises(Throttled):
            fail(session, limit, "ada@example.com", address("1.1.1.99"))
