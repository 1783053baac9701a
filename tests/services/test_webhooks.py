"""Webhook triggers: signing, timestamp tolerance, replay, idempotency, mapping, limits and
who a call acts as — real DB, real Redis, real secret store."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from redis.asyncio import Redis as AsyncRedis
from sqlmodel import Session, select

from agent_platform.db import session_scope
from agent_platform.models import Execution, Membership, Role, StoredSecret, WebhookTrigger
from agent_platform.settings import get_settings
from services import secrets, webhook_calls, webhooks
from services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from services.ratelimit import Throttled
from services.tokens import token_hash
from services.webhook_calls import Call
from services.webhook_delivery import (
    BadRequest,
    check_mapping,
    map_payload,
    sign,
    verify_signature,
    wait_seconds,
)
from tests.factories import add_member, audit_entries
from tests.services.webhook_helpers import make_trigger, org_with_agent, signed_headers

BODY = json.dumps({"order": {"id": "A-17", "total": 42}, "note": "rush"}).encode()


def call(
    headers: dict[str, str] | None = None,
    body: bytes = BODY,
    *,
    key: str | None = None,
    client_ip: str | None = None,
    now: float | None = None,
) -> Call:
    h = headers or {}
    return Call(
        body=body,
        signature=h.get("X-Signature"),
        timestamp=h.get("X-Timestamp"),
        key=key,
        client_ip=client_ip,
        now=now,
    )


def runs_of(session: Session, trigger_id: uuid.UUID) -> list[Execution]:
    session.expire_all()
    return list(
        session.exec(select(Execution).where(Execution.webhook_trigger_id == trigger_id)).all()
    )


class TestSignature:
    SECRET = "whsec_test-secret"

    def test_a_correct_signature_within_the_tolerance_passes(self) -> None:
        now = 1_700_000_000
        signature = sign(self.SECRET, str(now), BODY)
        assert signature.startswith("sha256=") and len(signature) == 7 + 64
        verify_signature(
            self.SECRET,
            body=BODY,
            signature=signature,
            timestamp=str(now),
            tolerance_seconds=300,
            now=now + 299,
        )

    @pytest.mark.parametrize("skew", [301, -301, 10_000])
    def test_a_timestamp_outside_the_tolerance_is_refused(self, skew: int) -> None:
        sent = 1_700_000_000
        with pytest.raises(Unauthenticated, match="at most 300 s"):
            verify_signature(
                self.SECRET,
                body=BODY,
                signature=sign(self.SECRET, str(sent), BODY),
                timestamp=str(sent),
                tolerance_seconds=300,
                now=sent + skew,
            )

    def test_a_changed_body_timestamp_or_secret_does_not_match(self) -> None:
        now = 1_700_000_000
        good = sign(self.SECRET, str(now), BODY)
        cases = [
            (BODY + b" ", str(now), good),  # body changed
            (BODY, str(now + 1), good),  # re-dated
            (BODY, str(now), sign("whsec_other", str(now), BODY)),  # another secret
            (BODY, str(now), "sha256=" + "0" * 64),
        ]
        for body, timestamp, signature in cases:
            with pytest.raises(Unauthenticated, match="signature does not match"):
                verify_signature(
                    self.SECRET,
                    body=body,
                    signature=signature,
                    timestamp=timestamp,
                    tolerance_seconds=300,
                    now=now,
                )

    @pytest.mark.parametrize(
        ("signature", "timestamp", "words"),
        [
            (None, "1700000000", "X-Signature header is missing"),
            ("sha256=ab", None, "X-Timestamp header is missing"),
            ("sha256=ab", "yesterday", "Unix time in whole seconds"),
        ],
    )
    def test_missing_or_malformed_headers_are_named(
        self, signature: str | None, timestamp: str | None, words: str
    ) -> None:
        with pytest.raises(Unauthenticated, match=words):
            verify_signature(
                self.SECRET,
                body=BODY,
                signature=signature,
                timestamp=timestamp,
                tolerance_seconds=300,
                now=1_700_000_000,
            )


class TestMapping:
    PAYLOAD = {"order": {"id": "A-17", "items": [{"sku": "X1"}]}, "customer": {"mail": "a@b.c"}}

    def test_template_path_and_variables(self) -> None:
        mapping = {
            "message": "New order {{payload.order.id}} of {{ payload.order.items.0.sku }}",
            "variables": {"email": "payload.customer.mail", "order": "payload.order"},
        }
        out = map_payload(check_mapping(mapping), self.PAYLOAD)
        assert out.message == "New order A-17 of X1"
        assert out.variables["email"] == "a@b.c"
        assert json.loads(out.variables["order"])["id"] == "A-17"  # non-text as JSON

    def test_a_single_path_and_the_default_whole_payload(self) -> None:
        assert map_payload({"message": "payload.order.id"}, self.PAYLOAD).message == "A-17"
        assert json.loads(map_payload({}, self.PAYLOAD).message) == self.PAYLOAD

    def test_a_missing_field_is_named(self) -> None:
        with pytest.raises(Invalid, match="no field 'order.ref' \\(needed for the message\\)"):
            map_payload({"message": "Order {{payload.order.ref}}"}, self.PAYLOAD)
        with pytest.raises(Invalid, match="no field 'customer.phone'.*variable 'phone'") as exc:
            map_payload({"variables": {"phone": "payload.customer.phone"}}, self.PAYLOAD)
        assert exc.value.fields == {"customer.phone": "is required"}

    @pytest.mark.parametrize(
        "mapping",
        [
            {"message": "{{payload.a + 1}}"},
            {"message": "{{ __import__('os') }}"},
            {"message": "order.id"},
            {"variables": {"bad name": "payload.a"}},
            {"variables": {"ok": "customer.mail"}},
        ],
    )
    def test_only_plain_payload_paths_are_accepted_when_saved(self, mapping: dict) -> None:
        with pytest.raises(Invalid):
            check_mapping(mapping)

    def test_wait_from_query_or_prefer_header(self) -> None:
        assert wait_seconds("5", None) == 5
        assert wait_seconds(None, "respond-async, wait=12") == 12
        assert wait_seconds(None, None) == 0
        with pytest.raises(BadRequest, match="whole number"):
            wait_seconds("soon", None)


class TestCreateAndManage:
    def test_token_and_secret_are_shown_once_and_only_hashed_or_in_the_store(
        self, session: Session
    ) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(session, actor, agent_id, require_signature=True)
        trigger = session.get(WebhookTrigger, issued.trigger.id)
        assert issued.token.startswith("wh_") and issued.secret.startswith("whsec_")
        assert trigger.token_hash == token_hash(issued.token)
        assert trigger.token_hint == issued.token[-6:]
        row = json.dumps({k: str(v) for k, v in trigger.model_dump().items()}, ensure_ascii=False)
        assert issued.token not in row and issued.secret not in row
        assert secrets.get(session, trigger.secret_ref) == issued.secret
        stored = session.get(StoredSecret, trigger.secret_ref)
        assert issued.secret not in str(stored.model_dump())  # encrypted at rest
        [entry] = audit_entries(session, "webhook.created", org_id=actor.org_id)
        assert issued.secret not in json.dumps(entry.details)
        assert webhooks.hook_url(issued.token).endswith(f"/api/v1/hooks/{issued.token}")

    def test_a_viewer_cannot_create_or_change_triggers(self, session: Session) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(session, actor, agent_id)
        _, viewer = add_member(session, actor.org_id, role=Role.VIEWER)
        with pytest.raises(Forbidden):
            webhooks.create_webhook(session, viewer, agent_id, data={"name": "x"})
        with pytest.raises(Forbidden):
            webhooks.update_webhook(session, viewer, issued.trigger.id, data={"enabled": False})
        with pytest.raises(Forbidden):
            webhooks.delete_webhook(session, viewer, issued.trigger.id)

    def test_rotating_the_token_retires_the_old_url(self, session: Session) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(session, actor, agent_id)
        rotated = webhooks.rotate_webhook(session, actor, issued.trigger.id, secret=False)
        session.commit()
        assert rotated.token and rotated.token != issued.token and rotated.secret == ""
        with pytest.raises(NotFound, match="No webhook trigger at this address"):
            webhook_calls.receive(session, issued.token, call())
        assert webhook_calls.receive(session, rotated.token, call()).created

    def test_rotating_the_secret_retires_old_signatures(self, session: Session) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(session, actor, agent_id, require_signature=True)
        rotated = webhooks.rotate_webhook(session, actor, issued.trigger.id, token=False)
        session.commit()
        assert rotated.token == "" and rotated.secret != issued.secret
        with pytest.raises(Unauthenticated, match="does not match"):
            webhook_calls.receive(session, issued.token, call(signed_headers(issued.secret, BODY)))
        ok = webhook_calls.receive(
            session, issued.token, call(signed_headers(rotated.secret, BODY))
        )
        assert ok.created

    def test_update_checks_the_mapping_and_changes_only_what_is_given(
        self, session: Session
    ) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(session, actor, agent_id, rate_limit_per_minute=7)
        with pytest.raises(Invalid):
            webhooks.update_webhook(
                session, actor, issued.trigger.id, data={"input_mapping": {"message": "{{x}}"}}
            )
        session.rollback()
        trigger = webhooks.update_webhook(
            session, actor, issued.trigger.id, data={"enabled": False}
        )
        assert trigger.enabled is False and trigger.rate_limit_per_minute == 7

    def test_delete_removes_the_row_and_its_secret_with_the_commit(self) -> None:
        with session_scope() as s:
            actor, agent_id = org_with_agent(s)
            issued = make_trigger(s, actor, agent_id)
            ref = issued.trigger.secret_ref
            assert webhook_calls.receive(s, issued.token, call()).created
        with session_scope() as s:
            webhooks.delete_webhook(s, actor, issued.trigger.id)
        with session_scope() as s:
            assert s.get(WebhookTrigger, issued.trigger.id) is None
            assert s.get(StoredSecret, ref) is None
            assert len(s.exec(select(Execution)).all()) == 1  # its runs stay
            assert audit_entries(s, "webhook.deleted", org_id=actor.org_id)


class TestReceiving:
    def test_an_unsigned_call_starts_a_run_with_the_mapped_input(self, session: Session) -> None:
        actor, agent_id = org_with_agent(session)
        mapping = {"message": "Order {{payload.order.id}}", "variables": {"n": "payload.note"}}
        issued = make_trigger(session, actor, agent_id, input_mapping=mapping)
        delivery = webhook_calls.receive(session, issued.token, call(client_ip="203.0.113.9"))
        session.commit()
        run = delivery.run
        assert delivery.created and run.webhook_trigger_id == issued.trigger.id
        assert run.input == {"message": "Order A-17", "variables": {"n": "rush"}}
        assert run.agent_id == agent_id and run.triggered_by_id == actor.user_id
        assert delivery.actor.client_ip == "203.0.113.9"
        assert session.get(WebhookTrigger, issued.trigger.id).last_called_at is not None

    def test_a_trigger_that_requires_signatures_refuses_unsigned_calls(
        self, session: Session
    ) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(session, actor, agent_id, require_signature=True)
        with pytest.raises(Unauthenticated, match="X-Signature header is missing"):
            webhook_calls.receive(session, issued.token, call())
        assert runs_of(session, issued.trigger.id) == []

    def test_a_sent_signature_is_checked_even_when_not_required(self, session: Session) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(session, actor, agent_id, require_signature=False)
        with pytest.raises(Unauthenticated, match="does not match"):
            webhook_calls.receive(session, issued.token, call(signed_headers("whsec_wrong", BODY)))

    def test_a_stale_signed_call_is_refused(self, session: Session) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(
            session, actor, agent_id, require_signature=True, tolerance_seconds=60
        )
        old = signed_headers(issued.secret, BODY, at=time.time() - 61)
        with pytest.raises(Unauthenticated, match="at most 60 s"):
            webhook_calls.receive(session, issued.token, call(old))

    def test_a_replayed_signed_call_is_the_same_delivery(self, session: Session) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(session, actor, agent_id, require_signature=True)
        headers = signed_headers(issued.secret, BODY)
        first = webhook_calls.receive(session, issued.token, call(headers))
        session.commit()
        again = webhook_calls.receive(session, issued.token, call(headers))
        session.commit()
        assert first.created and not again.created and again.run.id == first.run.id
        assert len(runs_of(session, issued.trigger.id)) == 1
        # Once the timestamp leaves the tolerance, the replay is refused outright.
        late = call(headers, now=int(headers["X-Timestamp"]) + issued.trigger.tolerance_seconds + 1)
        with pytest.raises(Unauthenticated):
            webhook_calls.receive(session, issued.token, late)

    def test_the_same_idempotency_key_is_the_same_run(self, session: Session) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(session, actor, agent_id)
        first = webhook_calls.receive(session, issued.token, call(key="delivery-1"))
        session.commit()
        again = webhook_calls.receive(session, issued.token, call(key="delivery-1"))
        other = webhook_calls.receive(session, issued.token, call(key="delivery-2"))
        session.commit()
        assert again.run.id == first.run.id and not again.created
        assert other.created and other.run.id != first.run.id
        assert len(runs_of(session, issued.trigger.id)) == 2
        stored = session.get(Execution, first.run.id).idempotency_key
        assert stored == f"webhook:{issued.trigger.id}:delivery-1"

    def test_a_key_reused_with_another_payload_is_a_conflict(self, session: Session) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(session, actor, agent_id)
        webhook_calls.receive(session, issued.token, call(key="k"))
        session.commit()
        with pytest.raises(Conflict, match="different payload"):
            webhook_calls.receive(session, issued.token, call(key="k", body=b'{"other": 1}'))

    def test_one_key_on_two_triggers_is_two_runs(self, session: Session) -> None:
        actor, agent_id = org_with_agent(session)
        a = make_trigger(session, actor, agent_id, name="A")
        b = make_trigger(session, actor, agent_id, name="B")
        run_a = webhook_calls.receive(session, a.token, call(key="same")).run
        session.commit()
        run_b = webhook_calls.receive(session, b.token, call(key="same")).run
        session.commit()
        assert run_a.id != run_b.id

    @pytest.mark.parametrize(
        ("body", "error", "words"),
        [
            (b"{not json", BadRequest, "not valid JSON \\(line 1, column 2"),
            (b"[1, 2]", BadRequest, "must be a JSON object, not an array"),
            (b"", BadRequest, "empty"),
            (b'{"order": {}}', Invalid, "no field 'order.id'"),
        ],
    )
    def test_bad_payloads_are_refused_in_words(
        self, session: Session, body: bytes, error: type[Exception], words: str
    ) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(
            session, actor, agent_id, input_mapping={"message": "{{payload.order.id}}"}
        )
        with pytest.raises(error, match=words):
            webhook_calls.receive(session, issued.token, call(body=body))

    def test_unknown_and_disabled_triggers(self, session: Session) -> None:
        actor, agent_id = org_with_agent(session)
        issued = make_trigger(session, actor, agent_id)
        for token in ("wh_nope", "not-even-a-token", issued.token + "x"):
            with pytest.raises(NotFound):
                webhook_calls.receive(session, token, call())
        webhooks.update_webhook(session, actor, issued.trigger.id, data={"enabled": False})
        session.commit()
        with pytest.raises(Forbidden, match="disabled"):
            webhook_calls.receive(session, issued.token, call())

    def test_a_call_acts_as_the_creator_and_stops_when_they_leave(self, session: Session) -> None:
        owner, agent_id = org_with_agent(session)
        user, builder = add_member(session, owner.org_id, role=Role.BUILDER)
        issued = make_trigger(session, builder, agent_id)
        assert webhook_calls.receive(session, issued.token, call()).actor.user_id == user.id
        membership = session.exec(
            select(Membership).where(
                Membership.user_id == user.id, Membership.org_id == owner.org_id
            )
        ).one()
        membership.role = Role.VIEWER
        session.add(membership)
        session.commit()
        with pytest.raises(Forbidden, match="their role is viewer"):
            webhook_calls.receive(session, issued.token, call(key="after-demotion"))
        session.rollback()
        session.delete(membership)
        session.commit()
        with pytest.raises(Forbidden, match="no longer a member"):
            webhook_calls.receive(session, issued.token, call(key="after-leaving"))


def _deliver(token: str, c: Call) -> webhook_calls.Delivery:
    async def go() -> webhook_calls.Delivery:
        redis = AsyncRedis.from_url(get_settings().resolved_redis_url)
        try:
            return await webhook_calls.deliver(session_scope, redis, token, c)
        finally:
            await redis.aclose()

    return asyncio.run(go())


class TestRateLimit:
    def test_calls_over_the_limit_are_refused_with_the_wait(self) -> None:
        with session_scope() as s:
            actor, agent_id = org_with_agent(s)
            issued = make_trigger(s, actor, agent_id, rate_limit_per_minute=3)
            other = make_trigger(s, actor, agent_id, rate_limit_per_minute=3, name="Other")
        for n in range(3):
            assert _deliver(issued.token, call(key=f"k{n}")).created
        with pytest.raises(Throttled) as refused:
            _deliver(issued.token, call(key="k3"))
        assert 0 < refused.value.retry_after <= 60
        assert "at most 3 a minute" in refused.value.message
        assert _deliver(other.token, call()).created  # per trigger, not per org
        with session_scope() as s:
            assert len(runs_of(s, issued.trigger.id)) == 3

    def test_a_delivered_run_is_committed_and_listed(self) -> None:
        with session_scope() as s:
            actor, agent_id = org_with_agent(s)
            issued = make_trigger(s, actor, agent_id)
        delivery = _deliver(issued.token, call())
        with session_scope() as s:
            listed = webhooks.recent_deliveries(s, actor, issued.trigger.id)
            assert [r.id for r in listed] == [delivery.run.id]
