"""Google: Gmail, Calendar and Sheets APIs with one OAuth connection (offline access)."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

from services.integrations.catalog import (
    Action,
    ApiRequest,
    OAuthSpec,
    Provider,
    default_error,
    object_schema,
)

GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events"
SHEETS = "https://www.googleapis.com/auth/spreadsheets"


def _send(args: dict[str, Any], _settings: dict[str, Any]) -> ApiRequest:
    message = EmailMessage()
    message["To"] = args["to"]
    message["Subject"] = args["subject"]
    if args.get("cc"):
        message["Cc"] = args["cc"]
    message.set_content(args["body"])
    raw = base64.urlsafe_b64encode(message.as_bytes()).decode().rstrip("=")
    return ApiRequest("POST", "/gmail/v1/users/me/messages/send", host="gmail", json={"raw": raw})


def _event(args: dict[str, Any], _settings: dict[str, Any]) -> ApiRequest:
    zone = args.get("time_zone") or "UTC"
    payload: dict[str, Any] = {
        "summary": args["summary"],
        "start": {"dateTime": args["start"], "timeZone": zone},
        "end": {"dateTime": args["end"], "timeZone": zone},
    }
    if args.get("description"):
        payload["description"] = args["description"]
    if args.get("attendees"):
        payload["attendees"] = [{"email": e} for e in args["attendees"]]
    calendar = quote(args.get("calendar_id") or "primary", safe="@.")
    return ApiRequest(
        "POST", f"/calendar/v3/calendars/{calendar}/events", host="calendar", json=payload
    )


def _append(args: dict[str, Any], _settings: dict[str, Any]) -> ApiRequest:
    sheet = quote(args["spreadsheet_id"], safe="")
    cells = quote(args.get("range") or "Sheet1", safe="!:")
    return ApiRequest(
        "POST",
        f"/v4/spreadsheets/{sheet}/values/{cells}:append",
        host="sheets",
        params={"valueInputOption": "USER_ENTERED"},
        json={"values": [list(args["values"])]},
    )


PROVIDER = Provider(
    key="google",
    label="Google (Gmail, Calendar, Sheets)",
    auth_kinds=("oauth2",),
    hosts={
        "gmail": "https://gmail.googleapis.com",
        "calendar": "https://www.googleapis.com",
        "sheets": "https://sheets.googleapis.com",
        "api": "https://www.googleapis.com",
    },
    oauth=OAuthSpec(
        authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
        token_url="https://oauth2.googleapis.com/token",
        scopes=("openid", "email", GMAIL_SEND, CALENDAR_EVENTS, SHEETS),
        extra_params={"access_type": "offline", "prompt": "consent"},
        revoke="google",
    ),
    check=ApiRequest("GET", "/oauth2/v3/userinfo"),
    error_of=default_error,
    auth_failed=lambda status, _body: status == 401,
    account_of=lambda body: str(body.get("email") or ""),
    actions=(
        Action(
            name="gmail.send",
            description="Send an email from the connected Gmail account.",
            parameters=object_schema(
                {
                    "to": {"type": "string", "description": "Recipient address(es)"},
                    "subject": {"type": "string"},
                    "body": {"type": "string", "description": "Plain-text body"},
                    "cc": {"type": "string"},
                },
                ["to", "subject", "body"],
            ),
            build=_send,
            scopes=(GMAIL_SEND,),
            side_effect=True,
            shape=lambda body: {"id": body.get("id"), "thread_id": body.get("threadId")},
        ),
        Action(
            name="calendar.create_event",
            description="Create an event in a Google Calendar (ISO 8601 start and end).",
            parameters=object_schema(
                {
                    "summary": {"type": "string"},
                    "start": {"type": "string", "description": "2026-12-01T10:00:00"},
                    "end": {"type": "string"},
                    "time_zone": {"type": "string", "description": "IANA zone, default UTC"},
                    "description": {"type": "string"},
                    "attendees": {"type": "array", "items": {"type": "string"}},
                    "calendar_id": {"type": "string", "description": "default: primary"},
                },
                ["summary", "start", "end"],
            ),
            build=_event,
            scopes=(CALENDAR_EVENTS,),
            side_effect=True,
            shape=lambda body: {
                "id": body.get("id"),
                "status": body.get("status"),
                "url": body.get("htmlLink"),
            },
        ),
        Action(
            name="sheets.append_row",
            description="Append one row of values to a Google Sheet.",
            parameters=object_schema(
                {
                    "spreadsheet_id": {"type": "string"},
                    "range": {"type": "string", "description": "e.g. Sheet1 or Sheet1!A:D"},
                    "values": {"type": "array", "items": {"type": ["string", "number", "boolean"]}},
                },
                ["spreadsheet_id", "values"],
            ),
            build=_append,
            scopes=(SHEETS,),
            side_effect=True,
            shape=lambda body: {
                "updated_range": (body.get("updates") or {}).get("updatedRange"),
                "updated_rows": (body.get("updates") or {}).get("updatedRows"),
            },
        ),
    ),
)
