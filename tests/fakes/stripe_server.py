"""A small Stripe for tests: what `localstripe` lacks, in Stripe's real wire format.

localstripe (a stateful fake Stripe API, run as a real HTTP server by
tests/services/billing_helpers.py) has customers, charges, refunds and subscriptions but no
Connect accounts, account links, Checkout Sessions, billing portal, billing meter events or
transfers to connected accounts.
This server speaks those endpoints as Stripe does —
form-encoded bracketed parameters in (`line_items[0][price_data][currency]=usd`), JSON
objects out, `Idempotency-Key` honoured (the same key and path answer the first response
again), Stripe's error envelope — and forwards every other path to localstripe, so the
platform's one `STRIPE_API_BASE` reaches both and the real `stripe` client code runs.

Test knobs: `enable_charges(account_id)` (what finishing onboarding does at Stripe),
`pay(session_id)` (what paying on the Checkout page does; returns the completed session
object a webhook carries), and `requests` (every request: method, path, params, headers).
Webhook deliveries are signed with `sign()`: Stripe's scheme, `t=<unix>,v1=<HMAC-SHA256 of
"<t>.<body>" with the endpoint secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe sends with `payload`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(
    type_: str, obj: dict[str, Any], *, created: int | None = None, account: str | None = None
) -> dict[str, Any]:
    """An event object as Stripe delivers it (API version of our pinned SDK)."""
    body: dict[str, Any] = {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2025-04-30.basil",
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
    }
    if account:
        body["account"] = account
    return body


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's bracketed form encoding to nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for here in parts[:-1]:
            node = node.setdefault(here, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(k.isdigit() for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeStripe:
    localstripe: str = ""  # base URL everything unknown is forwarded to
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    meter_events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by identifier
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    _replies: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> FakeStripe:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

            def do_DELETE(self) -> None:
                fake._serve(self, "DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset(self) -> None:
        with self._lock:
            self.accounts.clear()
            self.sessions.clear()
            self.meter_events.clear()
            self.transfers.clear()
            self.requests.clear()
            self._replies.clear()

    # --- test knobs ----------------------------------------------------------------------

    def enable_charges(self, account_id: str) -> dict[str, Any]:
        account = self.accounts[account_id]
        account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
        return dict(account)

    def pay(self, session_id: str) -> dict[str, Any]:
        checkout = self.sessions[session_id]
        checkout.update(
            status="complete",
            payment_status="paid",
            payment_intent=f"pi_{secrets.token_hex(12)}" if checkout["mode"] == "payment" else None,
        )
        return json.loads(json.dumps(checkout))

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    # --- the wire ------------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(handler.path)
        raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        text = raw.decode()
        params = decode_form(text if method == "POST" else url.query)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.requests.append(Seen(method, url.path, params, headers))
        route = self._route(method, url.path)
        if route is None:
            status, body = self._forward(method, handler.path, raw, headers)
        else:
            key = headers.get("idempotency-key")
            with self._lock:
                cached = self._replies.get((key, url.path)) if key else None
            if cached is not None:
                status, body = cached
            else:
                status, answer = route(params, url.path)
                body = json.dumps(answer).encode()
                if key:
                    with self._lock:
                        self._replies[(key, url.path)] = (status, body)
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Request-Id", f"req_{secrets.token_hex(8)}")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _route(self, method: str, path: str) -> Any:
        if method == "POST" and path == "/v1/accounts":
            return self._create_account
        if method == "GET" and re.fullmatch(r"/v1/accounts/acct_\w+", path):
            return self._get_account
        if method == "POST" and path == "/v1/account_links":
            return self._account_link
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._checkout
        if method == "POST" and path == "/v1/billing_portal/sessions":
            return self._portal
        if method == "POST" and path == "/v1/billing/meter_events":
            return self._meter_event
        if method == "POST" and path == "/v1/transfers":
            return self._transfer
        return None

    def _forward(
        self, method: str, path: str, raw: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if not self.localstripe:
            return _error(404, f"Unrecognized request URL ({method}: {path}).")
        keep = {k: v for k, v in headers.items() if k in ("authorization", "content-type")}
        request = urllib.request.Request(
            self.localstripe + path, data=raw or None, method=method, headers=keep
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def _create_account(self, params: dict[str, Any], _path: str) -> tuple[int, Any]:
        account = {
            "id": f"acct_{secrets.token_hex(8)}",
            "object": "account",
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "controller": params.get("controller", {}),
            "capabilities": {k: "inactive" for k in params.get("capabilities", {})},
            "metadata": params.get("metadata", {}),
            "created": int(time.time()),
        }
        with self._lock:
            self.accounts[account["id"]] = account
        return 200, account

    def _get_account(self, _params: dict[str, Any], path: str) -> tuple[int, Any]:
        account = self.accounts.get(path.rsplit("/", 1)[1])
        if account is None:
            return 404, json.loads(_error(404, "No such account")[1])
        return 200, account

    def _account_link(self, params: dict[str, Any], _path: str) -> tuple[int, Any]:
        if params.get("account") not in self.accounts:
            return 400, json.loads(_error(400, "No such account", "account")[1])
        for name in ("refresh_url", "return_url", "type"):
            if not params.get(name):
                return 400, json.loads(_error(400, f"Missing required param: {name}.", name)[1])
        return 200, {
            "object": "account_link",
            "created": int(time.time()),
            "expires_at": int(time.time()) + 300,
            "url": f"https://connect.stripe.com/setup/e/{params['account']}/{secrets.token_hex(6)}",
        }

    def _checkout(self, params: dict[str, Any], _path: str) -> tuple[int, Any]:
        mode = params.get("mode")
        items = params.get("line_items") or []
        if mode not in ("payment", "subscription") or not items:
            return 400, json.loads(_error(400, "Invalid checkout parameters", "mode")[1])
        if mode == "payment":
            transfer = (params.get("payment_intent_data") or {}).get("transfer_data") or {}
            if transfer.get("destination") not in self.accounts:
                return 400, json.loads(_error(400, "No such destination", "payment_intent_data")[1])
        amount = sum(
            int(i.get("price_data", {}).get("unit_amount") or 0) * int(i.get("quantity") or 1)
            for i in items
        )
        session_id = f"cs_test_{secrets.token_hex(12)}"
        checkout = {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount,
            "currency": (items[0].get("price_data") or {}).get("currency", "usd"),
            "client_reference_id": params.get("client_reference_id"),
            "customer": params.get("customer"),
            "metadata": params.get("metadata", {}),
            "payment_intent": None,
            "subscription": None,
            "success_url": params.get("success_url"),
            "cancel_url": params.get("cancel_url"),
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "created": int(time.time()),
        }
        with self._lock:
            self.sessions[session_id] = checkout
        return 200, checkout

    def _portal(self, params: dict[str, Any], _path: str) -> tuple[int, Any]:
        if not params.get("customer"):
            return 400, json.loads(_error(400, "Missing required param: customer.", "customer")[1])
        return 200, {
            "id": f"bps_{secrets.token_hex(8)}",
            "object": "billing_portal.session",
            "customer": params["customer"],
            "return_url": params.get("return_url"),
            "url": f"https://billing.stripe.com/p/session/{secrets.token_hex(8)}",
        }

    def _meter_event(self, params: dict[str, Any], _path: str) -> tuple[int, Any]:
        identifier = params.get("identifier") or f"id_{secrets.token_hex(8)}"
        payload = params.get("payload") or {}
        if not params.get("event_name") or not payload.get("stripe_customer_id"):
            return 400, json.loads(_error(400, "Missing event_name or customer", "payload")[1])
        with self._lock:
            if identifier in self.meter_events:  # Stripe keeps one event per identifier
                return 400, json.loads(
                    _error(400, f"An event with identifier {identifier} already exists.")[1]
                )
            event = {
                "object": "billing.meter_event",
                "created": int(time.time()),
                "event_name": params["event_name"],
                "identifier": identifier,
                "livemode": False,
                "payload": payload,
                "timestamp": int(params.get("timestamp") or time.time()),
            }
            self.meter_events[identifier] = event
        return 200, event

    def _transfer(self, params: dict[str, Any], _path: str) -> tuple[int, Any]:
        for name in ("amount", "currency", "destination"):
            if not params.get(name):
                return 400, json.loads(_error(400, f"Missing required param: {name}.", name)[1])
        if not str(params["amount"]).isdigit() or int(params["amount"]) <= 0:
            return 400, json.loads(_error(400, "Invalid positive integer", "amount")[1])
        if params["destination"] not in self.accounts:
            return 400, json.loads(_error(400, "No such destination", "destination")[1])
        transfer = {
            "id": f"tr_{secrets.token_hex(12)}",
            "object": "transfer",
            "amount": int(params["amount"]),
            "amount_reversed": 0,
            "currency": params["currency"],
            "created": int(time.time()),
            "description": params.get("description"),
            "destination": params["destination"],
            "livemode": False,
            "metadata": params.get("metadata", {}),
            "reversed": False,
            "transfer_group": params.get("transfer_group"),
        }
        with self._lock:
            self.transfers[transfer["id"]] = transfer
        return 200, transfer


def _error(status: int, message: str, param: str | None = None) -> tuple[int, bytes]:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if param:
        error["param"] = param
    return status, json.dumps({"error": error}).encode()
