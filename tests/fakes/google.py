"""Fake Google: OAuth, Gmail send, Calendar events and Sheets values, on one local origin."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from tests.fakes.http_fake import ALNUM, RecordedRequest, Response, json_response, random_string
from tests.fakes.oauth import AuthRequest, OAuthFake, Token, TokenFailure

GMAIL_SEND_SCOPES = (
    "https://www.googleapis.com/auth/gmail.send",
    "https://www.googleapis.com/auth/gmail.compose",
    "https://www.googleapis.com/auth/gmail.modify",
    "https://mail.google.com/",
)
CALENDAR_WRITE_SCOPES = (
    "https://www.googleapis.com/auth/calendar",
    "https://www.googleapis.com/auth/calendar.events",
)
SHEETS_WRITE_SCOPES = (
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.file",
)
SHEETS_READ_SCOPES = (*SHEETS_WRITE_SCOPES, "https://www.googleapis.com/auth/spreadsheets.readonly")
FAKE_SPREADSHEET_ID = "1FakeSheetAbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
_A1_CELLS = re.compile(r"([A-Za-z]{1,3})?(\d+)?(?::([A-Za-z]{1,3})?(\d+)?)?")
_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)


@dataclass(frozen=True)
class SentEmail:
    """A message sent through the fake Gmail: the decoded RFC 822 message and its parts."""

    id: str
    thread_id: str
    raw: bytes
    message: EmailMessage
    sender: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    body: str


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _col_letters(index: int) -> str:
    letters = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _sheet_ref(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_]+", name) else "'" + name.replace("'", "''") + "'"


def google_error(
    code: int,
    message: str,
    status: str,
    reason: str | None = None,
    *,
    domain: str = "global",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """Google's JSON error envelope (``{"error": {"code", "message", "errors", "status"}}``)."""
    error: dict[str, Any] = {"code": code, "message": message}
    if reason is not None:
        error["errors"] = [{"message": message, "domain": domain, "reason": reason, **extra}]
    error["status"] = status
    return json_response(
        {"error": error}, code, {"Vary": "Origin, X-Origin, Referer", **(headers or {})}
    )


class FakeGoogle(OAuthFake):
    """Google OAuth + Gmail / Calendar / Sheets / userinfo on one origin (real paths of
    accounts.google.com, oauth2.googleapis.com, gmail.googleapis.com, www.googleapis.com and
    sheets.googleapis.com).

    Refresh tokens come only from the code grant with ``access_type=offline`` (as on Google)
    and are not rotated. ``sent`` holds :class:`SentEmail` objects, ``events`` created
    calendar events, ``spreadsheets`` maps spreadsheet id → sheet title → rows; one
    spreadsheet (``spreadsheet_id``, tab "Sheet1") is seeded.
    """

    title = "Google"
    authorize_path = "/o/oauth2/v2/auth"
    access_prefix = "ya29.a0"
    refresh_prefix = "1//0"
    scope_out_sep = " "
    redirect_uri_required = True
    response_type_required = True
    scope_required = True
    grant_type_required = True
    rotate_refresh = False

    def __init__(
        self,
        client_id: str = "123456789012-fakeclient.apps.googleusercontent.com",
        client_secret: str = "GOCSPX-fake-google-client-secret",
        redirect_uri: str | None = None,
        *,
        expires_in: int | None = 3599,
        email: str = "fake.user@example.com",
        name: str = "Fake User",
        spreadsheet_id: str = FAKE_SPREADSHEET_ID,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(
            client_id, client_secret, redirect_uri, expires_in=expires_in, host=host, port=port
        )
        self.email, self.name, self.sub = email, name, "109876543210987654321"
        self.account_label = f"your Google Account {email}"
        self.spreadsheet_id = spreadsheet_id
        self.spreadsheets: dict[str, dict[str, list[list[Any]]]] = {spreadsheet_id: {"Sheet1": []}}
        self.calendars: set[str] = {"primary", email}
        self.sent: list[SentEmail] = []
        self.events: list[dict[str, Any]] = []

    def rows(self, spreadsheet_id: str | None = None, sheet: str = "Sheet1") -> list[list[Any]]:
        """Rows of one tab (default: the seeded spreadsheet's Sheet1)."""
        with self._lock:
            return list(self.spreadsheets[spreadsheet_id or self.spreadsheet_id][sheet])

    def _token_value(self, prefix: str) -> str:
        return prefix + random_string(150 if prefix == self.access_prefix else 99, ALNUM + "-_")

    def _new_code(self) -> str:
        return "4/0A" + random_string(70, ALNUM + "-_")

    def _issues_refresh(self, request: AuthRequest) -> bool:
        return request.params.get("access_type") == "offline"

    def _callback_extras(self, request: AuthRequest) -> dict[str, str | None]:
        return {
            "scope": " ".join(request.scopes),
            "authuser": "0",
            "prompt": "consent" if request.params.get("prompt") == "consent" else "none",
        }

    def _routes(self) -> list[tuple[str, str, Callable[..., Response]]]:
        return [
            ("GET", r"/o/oauth2/v2/auth", self._authorize_get),
            ("POST", r"/o/oauth2/v2/auth", self._authorize_post),
            ("POST", r"/token", self._token_endpoint),
            ("*", r"/revoke", self._revoke),
            ("GET", r"/oauth2/v3/userinfo", self._userinfo),
            ("GET", r"/oauth2/v3/tokeninfo", self._tokeninfo),
            ("POST", r"/gmail/v1/users/([^/]+)/messages/send", self._gmail_send),
            ("POST", r"/calendar/v3/calendars/([^/]+)/events", self._calendar_insert),
            ("POST", r"/v4/spreadsheets/([^/]+)/values/(.+):append", self._sheets_append),
            ("GET", r"/v4/spreadsheets/([^/]+)/values/([^/]+)", self._sheets_get),
        ]

    def _not_found(self, req: RecordedRequest, path_matched: bool) -> Response:
        if path_matched:
            return google_error(405, "Method Not Allowed", "INVALID_ARGUMENT")
        return google_error(404, "Not Found", "NOT_FOUND", "notFound")

    # ------------------------------------------------------------------ OAuth

    def _token_error(self, req: RecordedRequest, failure: TokenFailure) -> Response:
        status, error, description = {
            "unknown_client": (401, "invalid_client", "The OAuth client was not found."),
            "bad_secret": (401, "invalid_client", "Unauthorized"),
            "invalid_request": (400, "invalid_request", failure.detail),
            "bad_code": (400, "invalid_grant", "Bad Request"),
            "redirect_mismatch": (400, "redirect_uri_mismatch", "Bad Request"),
            "pkce_missing": (400, "invalid_grant", "Missing code verifier."),
            "pkce_mismatch": (400, "invalid_grant", "Invalid code verifier."),
            "bad_refresh": (400, "invalid_grant", "Token has been expired or revoked."),
            "unsupported_grant": (400, "unsupported_grant_type", failure.detail),
        }[failure.kind]
        return json_response(
            {"error": error, "error_description": description},
            status,
            {"Cache-Control": "no-store"},
        )

    def _token_success(
        self, req: RecordedRequest, access: Token, refresh: Token | None, grant_type: str
    ) -> Response:
        body: dict[str, Any] = {"access_token": access.value}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if refresh is not None and grant_type == "authorization_code":
            body["refresh_token"] = refresh.value
        body["scope"] = " ".join(access.scopes or ())
        body["token_type"] = "Bearer"
        return json_response(body, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _revoke(self, req: RecordedRequest) -> Response:
        value = req.query.get("token") or req.form.get("token")
        with self._lock:
            token = self._tokens.get(value or "")
        if token is None or token.value in self.revoked:
            return json_response(
                {"error": "invalid_token", "error_description": "Token expired or revoked"}, 400
            )
        self._revoke_grant(token.grant_id)  # Google revokes the whole grant, both token kinds
        return json_response({})

    # ------------------------------------------------------------------ API helpers

    def _api_auth(
        self, req: RecordedRequest, scopes: Iterable[str] = (), service: str = "googleapis.com"
    ) -> tuple[Response | None, Token | None]:
        value = req.bearer or req.query.get("access_token")
        state, token = self._token_state(value)
        if state != "ok":
            headers = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
            if state != "missing":
                headers["WWW-Authenticate"] += ', error="invalid_token"'
            return (
                google_error(
                    401,
                    _UNAUTHENTICATED,
                    "UNAUTHENTICATED",
                    "authError",
                    headers=headers,
                    location="Authorization",
                    locationType="header",
                ),
                None,
            )
        scopes = tuple(scopes)
        if scopes and not self._has_scope(token, scopes):
            headers = {
                "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", '
                f'error="insufficient_scope", scope="{" ".join(scopes)}"'
            }
            resp = google_error(
                403,
                "Request had insufficient authentication scopes.",
                "PERMISSION_DENIED",
                "insufficientPermissions",
                headers=headers,
            )
            body = json.loads(resp.body)
            body["error"]["errors"][0]["message"] = "Insufficient Permission"
            body["error"]["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                    "domain": "googleapis.com",
                    "metadata": {"service": service},
                }
            ]
            resp.body = json.dumps(body).encode()
            return resp, None
        return None, token

    @staticmethod
    def _invalid(message: str, reason: str = "invalid") -> Response:
        return google_error(400, message, "INVALID_ARGUMENT", reason)

    # ------------------------------------------------------------------ userinfo

    def _userinfo(self, req: RecordedRequest) -> Response:
        error, _token = self._api_auth(req)
        if error is not None:
            return error
        return json_response(
            {
                "sub": self.sub,
                "name": self.name,
                "given_name": self.name.split(" ")[0],
                "family_name": self.name.split(" ")[-1],
                "picture": "https://lh3.googleusercontent.com/a/fake=s96-c",
                "email": self.email,
                "email_verified": True,
            }
        )

    def _tokeninfo(self, req: RecordedRequest) -> Response:
        state, token = self._token_state(req.query.get("access_token"))
        if state != "ok" or token is None:
            return json_response(
                {"error": "invalid_token", "error_description": "Invalid Value"}, 400
            )
        remaining = 0 if token.expires_at is None else int(token.expires_at - time.monotonic())
        return json_response(
            {
                "azp": token.client_id,
                "aud": token.client_id,
                "sub": self.sub,
                "scope": " ".join(token.scopes or ()),
                "exp": str(int(time.time()) + remaining),
                "expires_in": str(remaining),
                "email": self.email,
                "email_verified": "true",
                "access_type": "offline",
            }
        )

    # ------------------------------------------------------------------ Gmail

    def _gmail_send(self, req: RecordedRequest, user_id: str) -> Response:
        error, _token = self._api_auth(req, GMAIL_SEND_SCOPES, "gmail.googleapis.com")
        if error is not None:
            return error
        if user_id not in ("me", self.email):
            return google_error(403, "Delegation denied for " + self.email, "PERMISSION_DENIED",
                                "forbidden")  # fmt: skip
        if not isinstance(req.json, dict):
            return self._invalid("Invalid JSON payload received.")
        raw = req.json.get("raw")
        if not raw:
            return self._invalid(
                "'raw' RFC822 payload message string or uploading message via /upload/* URL "
                "required",
                "invalidArgument",
            )
        try:
            if not isinstance(raw, str):
                raise ValueError("raw must be a string")
            text = raw.strip().replace("-", "+").replace("_", "/")  # proto bytes: both alphabets
            data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (ValueError, binascii.Error):
            return self._invalid(
                "Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed for "
                f'"{str(raw)[:40]}"'
            )
        message = BytesParser(policy=policy.default).parsebytes(data)
        assert isinstance(message, EmailMessage)

        def addresses(header: str) -> list[str] | None:
            values = message.get_all(header) or []
            found = [addr for _name, addr in getaddresses([str(v) for v in values])]
            return None if any("@" not in a for a in found) else found

        to, cc, bcc = addresses("To"), addresses("Cc"), addresses("Bcc")
        for header, value in (("To", to), ("Cc", cc), ("Bcc", bcc)):
            if value is None:
                return self._invalid(f"Invalid {header} header", "invalidArgument")
        assert to is not None and cc is not None and bcc is not None
        if not (to or cc or bcc):
            return self._invalid("Recipient address required", "invalidArgument")
        part = message.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if isinstance(part, EmailMessage) else ""
        message_id = secrets.token_hex(8)
        thread_id = str(req.json.get("threadId") or message_id)
        sent = SentEmail(
            id=message_id,
            thread_id=thread_id,
            raw=data,
            message=message,
            sender=str(message.get("From") or self.email),
            to=to,
            cc=cc,
            bcc=bcc,
            subject=str(message.get("Subject") or ""),
            body=body,
        )
        with self._lock:
            self.sent.append(sent)
        return json_response({"id": message_id, "threadId": thread_id, "labelIds": ["SENT"]})

    # ------------------------------------------------------------------ Calendar

    @staticmethod
    def _event_time(value: Any, which: str) -> tuple[datetime | date | None, str | None]:
        """(parsed instant or day, error message)."""
        if not isinstance(value, dict) or not (value.get("dateTime") or value.get("date")):
            return None, f"Missing {which} time."
        zone = value.get("timeZone")
        if zone is not None:
            try:
                zoneinfo.ZoneInfo(str(zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                return None, f"Invalid time zone definition for {which} time."
        try:
            if value.get("dateTime"):
                instant = datetime.fromisoformat(str(value["dateTime"]))
                if instant.tzinfo is None:
                    if zone is None:
                        return None, f"Missing time zone definition for {which} time."
                    instant = instant.replace(tzinfo=zoneinfo.ZoneInfo(str(zone)))
                return instant, None
            return date.fromisoformat(str(value["date"])), None
        except ValueError:
            return None, f"Invalid {which} time."

    def _calendar_insert(self, req: RecordedRequest, calendar_id: str) -> Response:
        error, _token = self._api_auth(req, CALENDAR_WRITE_SCOPES, "calendar-json.googleapis.com")
        if error is not None:
            return error
        if calendar_id not in self.calendars:
            return google_error(404, "Not Found", "NOT_FOUND", "notFound")
        event = req.json
        if not isinstance(event, dict):
            return self._invalid("Invalid JSON payload received.")
        start, problem = self._event_time(event.get("start"), "start")
        if problem is None:
            end, problem = self._event_time(event.get("end"), "end")
        if problem is not None:
            return self._invalid(problem, "required" if "Missing" in problem else "invalid")
        if type(start) is not type(end):
            return self._invalid(
                "Start and end times must either both be date or both be dateTime."
            )
        if end < start:
            return self._invalid("The specified time range is empty.", "timeRangeEmpty")
        owner = self.email if calendar_id == "primary" else calendar_id
        event_id = random_string(26, "0123456789abcdefghijklmnopqrstuv")
        eid = base64.urlsafe_b64encode(f"{event_id} {owner}".encode()).decode().rstrip("=")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        resource: dict[str, Any] = {
            "kind": "calendar#event",
            "etag": f'"{secrets.randbelow(10**16)}"',
            "id": event_id,
            "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={eid}",
            "created": now,
            "updated": now,
            "summary": event.get("summary", ""),
        }
        for key in ("description", "location"):
            if event.get(key):
                resource[key] = event[key]
        resource |= {
            "creator": {"email": self.email, "self": True},
            "organizer": {"email": owner, "self": owner == self.email},
            "start": event["start"],
            "end": event["end"],
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
        }
        if event.get("attendees"):
            resource["attendees"] = [
                {**a, "responseStatus": a.get("responseStatus", "needsAction")}
                for a in event["attendees"]
                if isinstance(a, dict)
            ]
        resource["reminders"] = event.get("reminders") or {"useDefault": True}
        resource["eventType"] = "default"
        with self._lock:
            self.events.append(resource)
        return json_response(resource)

    # ------------------------------------------------------------------ Sheets

    def _parse_range(
        self, spreadsheet: dict[str, list[list[Any]]], a1: str
    ) -> tuple[str, int] | None:
        """(sheet title, first column index) of an A1 range, or None when it does not parse."""
        sheet_part, bang, cells = a1.rpartition("!")
        if not bang:
            if a1 in spreadsheet:
                return a1, 1
            sheet_part, cells = next(iter(spreadsheet)), a1
        elif sheet_part.startswith("'") and sheet_part.endswith("'") and len(sheet_part) > 1:
            sheet_part = sheet_part[1:-1].replace("''", "'")
        match = _A1_CELLS.fullmatch(cells)
        # A1 needs a row or a colon ("A1", "A:D", "2:5"); a bare "Foo" is an unknown sheet.
        if sheet_part not in spreadsheet or match is None or not re.search(r"[\d:]", cells):
            return None
        return sheet_part, _col_index(match.group(1)) if match.group(1) else 1

    def _sheets_append(self, req: RecordedRequest, spreadsheet_id: str, a1: str) -> Response:
        error, _token = self._api_auth(req, SHEETS_WRITE_SCOPES, "sheets.googleapis.com")
        if error is not None:
            return error
        option = req.query.get("valueInputOption")
        if not option:
            return google_error(
                400, "'valueInputOption' is required but not specified", "INVALID_ARGUMENT"
            )
        if option not in ("RAW", "USER_ENTERED", "INPUT_VALUE_OPTION_UNSPECIFIED"):
            return google_error(
                400,
                "Invalid value at 'value_input_option' "
                f'(type.googleapis.com/google.apps.sheets.v4.ValueInputOption), "{option}"',
                "INVALID_ARGUMENT",
            )
        with self._lock:
            spreadsheet = self.spreadsheets.get(spreadsheet_id)
            if spreadsheet is None:
                return google_error(404, "Requested entity was not found.", "NOT_FOUND")
            parsed = self._parse_range(spreadsheet, a1)
            if parsed is None:
                return google_error(400, f"Unable to parse range: {a1}", "INVALID_ARGUMENT")
            sheet, first_col = parsed
            body = req.json
            values = body.get("values") if isinstance(body, dict) else None
            if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
                return google_error(
                    400, "Invalid JSON payload received. 'values' must be a list of lists.",
                    "INVALID_ARGUMENT",
                )  # fmt: skip
            if isinstance(body, dict) and body.get("majorDimension") == "COLUMNS":
                width = max((len(c) for c in values), default=0)
                values = [[c[i] if i < len(c) else "" for c in values] for i in range(width)]
            rows = spreadsheet[sheet]
            existing = len(rows)
            ref = _sheet_ref(sheet)
            result: dict[str, Any] = {"spreadsheetId": spreadsheet_id}
            if existing:
                last = _col_letters(first_col + max(len(r) for r in rows) - 1)
                result["tableRange"] = f"{ref}!{_col_letters(first_col)}1:{last}{existing}"
            width = max((len(r) for r in values), default=0)
            rows.extend(list(r) for r in values)
            start, end = _col_letters(first_col), _col_letters(first_col + max(width, 1) - 1)
            updated_range = f"{ref}!{start}{existing + 1}:{end}{existing + len(values)}"
            updates: dict[str, Any] = {
                "spreadsheetId": spreadsheet_id,
                "updatedRange": updated_range,
                "updatedRows": len(values),
                "updatedColumns": width,
                "updatedCells": sum(len(r) for r in values),
            }
            if req.query.get("includeValuesInResponse") == "true":
                updates["updatedData"] = {
                    "range": updated_range, "majorDimension": "ROWS", "values": values
                }  # fmt: skip
            result["updates"] = updates
        return json_response(result)

    def _sheets_get(self, req: RecordedRequest, spreadsheet_id: str, a1: str) -> Response:
        error, _token = self._api_auth(req, SHEETS_READ_SCOPES, "sheets.googleapis.com")
        if error is not None:
            return error
        with self._lock:
            spreadsheet = self.spreadsheets.get(spreadsheet_id)
            if spreadsheet is None:
                return google_error(404, "Requested entity was not found.", "NOT_FOUND")
            parsed = self._parse_range(spreadsheet, a1)
            if parsed is None:
                return google_error(400, f"Unable to parse range: {a1}", "INVALID_ARGUMENT")
            rows = [list(r) for r in spreadsheet[parsed[0]]]
        body: dict[str, Any] = {
            "range": f"{_sheet_ref(parsed[0])}!A1:Z1000",
            "majorDimension": "ROWS",
        }
        if rows:
            body["values"] = rows
        return json_response(body)
