"""The provider fakes hold their own contract: plain httpx drives each full OAuth cycle
(authorize → Allow → token → API → expire → refresh → revoke) against the real wire formats.

Why test fakes: integration tests trust these servers to behave like Slack, GitHub and Google;
a fake that silently accepted a wrong verifier or an expired token would make those tests lie.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from email.message import EmailMessage
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.fakes.echo_api import EchoAPI
from tests.fakes.github import FakeGitHub
from tests.fakes.google import FakeGoogle
from tests.fakes.http_fake import pkce_pair
from tests.fakes.oauth import AuthorizeError
from tests.fakes.slack import FakeSlack

CALLBACK = "http://app.test/integrations/oauth/callback"
GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
CALENDAR = "https://www.googleapis.com/auth/calendar.events"
SHEETS = "https://www.googleapis.com/auth/spreadsheets"


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


def callback_params(location: str) -> dict[str, str]:
    assert location.startswith(CALLBACK + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def hidden_fields(page: str, decision: str) -> dict[str, str]:
    """The hidden inputs of the consent page's Allow or Deny form, as a browser would post."""
    for form in re.findall(r"<form .*?</form>", page, re.S):
        fields = dict(
            re.findall(r'<input type=hidden name="?([^" >]+)"? value="?([^">]*)"?>', form)
        )
        if fields.get("decision") == decision:
            return fields
    raise AssertionError(f"no {decision} form")


def authorize_via_browser(
    client: httpx.Client, base: str, path: str, params: dict[str, str], title: str
) -> str:
    """GET the consent page, check it, POST its Allow form; returns the Location."""
    page = client.get(f"{base}{path}", params=params)
    assert page.status_code == 200
    assert f"<title>{title} — authorize</title>" in page.text
    assert "<button type=submit>Allow</button>" in page.text
    assert "<button type=submit>Deny</button>" in page.text
    post = client.post(f"{base}{path}", data=hidden_fields(page.text, "allow"))
    assert post.status_code == 302
    return post.headers["location"]


# --------------------------------------------------------------------------- Slack


def test_slack_full_cycle(client: httpx.Client) -> None:
    with FakeSlack(redirect_uri=CALLBACK, expires_in=3600) as slack:
        base = slack.base_url
        verifier, challenge = pkce_pair()
        params = {
            "client_id": slack.client_id,
            "scope": "chat:write,channels:read",
            "redirect_uri": CALLBACK,
            "state": "st-1",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        page = client.get(f"{base}/oauth/v2/authorize", params=params)
        assert "<li>chat:write</li>" in page.text and "<li>channels:read</li>" in page.text
        location = authorize_via_browser(client, base, "/oauth/v2/authorize", params, "Slack")
        got = callback_params(location)
        assert got["state"] == "st-1" and got["code"]

        token_form = {
            "code": got["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        }
        # Client credentials through HTTP basic, as Slack recommends.
        tokens = client.post(
            f"{base}/api/oauth.v2.access",
            data=token_form,
            auth=(slack.client_id, slack.client_secret),
        ).json()
        assert tokens["ok"] is True
        assert tokens["access_token"].startswith("xoxb-")
        assert tokens["refresh_token"].startswith("xoxe-1-")
        assert tokens["expires_in"] == 3600
        assert tokens["scope"] == "chat:write,channels:read"
        assert tokens["team"] == {"id": slack.team_id, "name": "Fake Team"}
        # The code is single use.
        again = client.post(
            f"{base}/api/oauth.v2.access",
            data={**token_form, "client_id": slack.client_id, "client_secret": slack.client_secret},
        ).json()
        assert again == {"ok": False, "error": "invalid_code"}

        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        who = client.post(f"{base}/api/auth.test", headers=auth).json()
        assert who["ok"] and who["team_id"] == slack.team_id and who["bot_id"] == slack.bot_id
        posted = client.post(
            f"{base}/api/chat.postMessage",
            headers=auth,
            json={"channel": "C0GENERAL", "text": "hello"},
        ).json()
        assert posted["ok"] and posted["channel"] == "C0GENERAL"
        assert posted["message"]["text"] == "hello" and posted["ts"] == posted["message"]["ts"]
        by_name = client.post(
            f"{base}/api/chat.postMessage", headers=auth, data={"channel": "#random", "text": "x"}
        ).json()
        assert by_name["channel"] == "C0RANDOM"
        assert [p["text"] for p in slack.posted] == ["hello", "x"]
        missing = client.post(
            f"{base}/api/chat.postMessage", headers=auth, json={"channel": "C404", "text": "x"}
        ).json()
        assert missing == {"ok": False, "error": "channel_not_found"}
        listed = client.get(f"{base}/api/conversations.list", headers=auth).json()
        assert {c["name"] for c in listed["channels"]} == {"general", "random"}
        assert listed["response_metadata"] == {"next_cursor": ""}
        bad = client.post(f"{base}/api/auth.test", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 200 and bad.json() == {"ok": False, "error": "invalid_auth"}
        assert client.post(f"{base}/api/auth.test").json()["error"] == "not_authed"

        slack.expire_all_tokens()
        expired = client.post(f"{base}/api/auth.test", headers=auth).json()
        assert expired == {"ok": False, "error": "token_expired"}
        refreshed = client.post(
            f"{base}/api/oauth.v2.access",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": slack.client_id,
                "client_secret": slack.client_secret,
            },
        ).json()
        assert refreshed["ok"] and refreshed["access_token"] != tokens["access_token"]
        assert slack.refresh_count == 1
        reused = client.post(
            f"{base}/api/oauth.v2.access",
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                "client_id": slack.client_id,
                "client_secret": slack.client_secret,
            },
        ).json()
        assert reused == {"ok": False, "error": "invalid_refresh_token"}  # rotated out
        auth = {"Authorization": f"Bearer {refreshed['access_token']}"}
        assert client.post(f"{base}/api/auth.test", headers=auth).json()["ok"] is True

        revoked = client.post(f"{base}/api/auth.revoke", headers=auth).json()
        assert revoked == {"ok": True, "revoked": True}
        assert refreshed["access_token"] in slack.revoked
        after = client.post(f"{base}/api/auth.test", headers=auth).json()
        assert after == {"ok": False, "error": "token_revoked"}
        assert any(r.path == "/api/chat.postMessage" for r in slack.requests)


def test_slack_pkce_and_client_checks(client: httpx.Client) -> None:
    with FakeSlack(redirect_uri=CALLBACK) as slack:
        verifier, challenge = pkce_pair()
        url = f"{slack.base_url}/oauth/v2/authorize?" + urlencode(
            {
                "client_id": slack.client_id,
                "scope": "chat:write",
                "state": "s",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        code = callback_params(slack.approve(url))["code"]
        token_url = f"{slack.base_url}/api/oauth.v2.access"
        creds = {"client_id": slack.client_id, "client_secret": slack.client_secret}
        wrong = client.post(token_url, data={**creds, "code": code, "code_verifier": "x" * 43})
        assert wrong.status_code == 200 and wrong.json() == {"ok": False, "error": "invalid_grant"}
        bad_secret = {**creds, "client_secret": "nope", "code": code, "code_verifier": verifier}
        assert client.post(token_url, data=bad_secret).json()["error"] == "bad_client_secret"
        ok = client.post(token_url, data={**creds, "code": code, "code_verifier": verifier}).json()
        assert ok["ok"] and "refresh_token" not in ok and "expires_in" not in ok

        # Without PKCE the request is sent back with an error; a bad client gets an error page.
        no_pkce = url.replace("code_challenge_method=S256", "code_challenge_method=plain")
        assert callback_params(slack.approve(no_pkce))["error"] == "invalid_request"
        with pytest.raises(AuthorizeError):
            slack.approve(url.replace(slack.client_id, "someone-else"))
        page = client.get(url.replace("state=s", f"redirect_uri={CALLBACK}x&state=s"))
        assert page.status_code == 400
        denied = callback_params(slack.deny(url))
        assert denied == {"error": "access_denied", "state": "s"}


def test_set_token_plants_the_next_access_token(client: httpx.Client) -> None:
    with FakeSlack(redirect_uri=CALLBACK) as slack:
        slack.set_token("xoxb-canary-0000")
        verifier, challenge = pkce_pair()
        url = "http://x/oauth/v2/authorize?" + urlencode(
            {
                "client_id": slack.client_id,
                "scope": "chat:write",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        code = callback_params(slack.approve(url))["code"]
        body = client.post(
            f"{slack.base_url}/api/oauth.v2.access",
            data={
                "client_id": slack.client_id,
                "client_secret": slack.client_secret,
                "code": code,
                "code_verifier": verifier,
            },
        ).json()
        assert body["access_token"] == "xoxb-canary-0000"
        assert slack.is_valid("xoxb-canary-0000")


# --------------------------------------------------------------------------- GitHub


def test_github_full_cycle(client: httpx.Client) -> None:
    with FakeGitHub(redirect_uri=CALLBACK, expires_in=28800) as gh:
        base = gh.base_url
        verifier, challenge = pkce_pair()
        params = {
            "client_id": gh.client_id,
            "redirect_uri": CALLBACK,
            "scope": "repo",
            "state": "gh-state",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        location = authorize_via_browser(client, base, "/login/oauth/authorize", params, "GitHub")
        code = callback_params(location)["code"]
        creds = {"client_id": gh.client_id, "client_secret": gh.client_secret}

        # PKCE mismatch first (the code stays usable), then the real exchange without
        # Accept: application/json, which GitHub answers form-encoded.
        wrong = client.post(
            f"{base}/login/oauth/access_token",
            data={**creds, "code": code, "code_verifier": "y" * 43, "redirect_uri": CALLBACK},
            headers={"Accept": "application/json"},
        )
        assert wrong.status_code == 200 and wrong.json()["error"] == "bad_verification_code"
        plain = client.post(
            f"{base}/login/oauth/access_token",
            data={**creds, "code": code, "code_verifier": verifier, "redirect_uri": CALLBACK},
        )
        assert plain.headers["content-type"].startswith("application/x-www-form-urlencoded")
        tokens = {k: v[0] for k, v in parse_qs(plain.text).items()}
        assert tokens["access_token"].startswith("gho_")
        assert tokens["refresh_token"].startswith("ghr_")
        assert tokens["token_type"] == "bearer" and tokens["scope"] == "repo"
        assert tokens["expires_in"] == "28800"

        api = {
            "Authorization": f"Bearer {tokens['access_token']}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        user = client.get(f"{base}/user", headers=api)
        assert user.json()["login"] == "octo-fake"
        assert user.headers["x-ratelimit-remaining"].isdigit()
        created = client.post(
            f"{base}/repos/octo-fake/hello-world/issues",
            headers=api,
            json={"title": "Fake bug", "body": "details", "labels": ["bug"]},
        )
        assert created.status_code == 201
        issue = created.json()
        assert issue["state"] == "open" and issue["number"] == 4
        assert issue["labels"][0]["name"] == "bug" and issue["user"]["login"] == "octo-fake"
        assert issue["html_url"] == "https://github.com/octo-fake/hello-world/issues/4"
        nope = client.post(f"{base}/repos/octo-fake/nope/issues", headers=api, json={"title": "t"})
        assert nope.status_code == 404 and nope.json()["message"] == "Not Found"
        invalid = client.post(f"{base}/repos/octo-fake/hello-world/issues", headers=api, json={})
        assert invalid.status_code == 422
        assert invalid.json()["errors"][0]["field"] == "title"
        found = client.get(
            f"{base}/search/issues",
            headers=api,
            params={"q": "repo:octo-fake/hello-world is:open fake"},
        ).json()
        assert found["total_count"] == 1 and found["items"][0]["title"] == "Fake bug"
        assert found["incomplete_results"] is False
        everything = client.get(f"{base}/search/issues", headers=api, params={"q": "is:open"})
        assert everything.json()["total_count"] == 3  # two seeded open issues + ours
        bad = client.get(f"{base}/user", headers={**api, "Authorization": "Bearer gho_nope"})
        assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"

        gh.expire_all_tokens()
        assert client.get(f"{base}/user", headers=api).status_code == 401
        refreshed = client.post(
            f"{base}/login/oauth/access_token",
            json={**creds, "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            headers={"Accept": "application/json"},
        ).json()
        assert refreshed["access_token"].startswith("gho_") and gh.refresh_count == 1
        api["Authorization"] = f"Bearer {refreshed['access_token']}"
        assert client.get(f"{base}/user", headers=api).status_code == 200

        unauthorized = client.request(
            "DELETE",
            f"{base}/applications/{gh.client_id}/token",
            json={"access_token": refreshed["access_token"]},
        )
        assert unauthorized.status_code == 401
        deleted = client.request(
            "DELETE",
            f"{base}/applications/{gh.client_id}/token",
            json={"access_token": refreshed["access_token"]},
            auth=(gh.client_id, gh.client_secret),
        )
        assert deleted.status_code == 204
        assert client.get(f"{base}/user", headers=api).status_code == 401
        assert gh.created[0]["title"] == "Fake bug"


# --------------------------------------------------------------------------- Google


def google_message() -> str:
    message = EmailMessage()
    message["To"] = "someone@example.org"
    message["Subject"] = "Quarterly numbers"
    message.set_content("See attached.")
    return base64.urlsafe_b64encode(message.as_bytes()).decode().rstrip("=")


def test_google_full_cycle(client: httpx.Client) -> None:
    with FakeGoogle(redirect_uri=CALLBACK) as google:
        base = google.base_url
        verifier, challenge = pkce_pair()
        params = {
            "client_id": google.client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": f"openid email {GMAIL_SEND} {CALENDAR} {SHEETS}",
            "state": "g-state",
            "access_type": "offline",
            "prompt": "consent",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        location = authorize_via_browser(client, base, "/o/oauth2/v2/auth", params, "Google")
        got = callback_params(location)
        assert got["state"] == "g-state"
        token_form = {
            "grant_type": "authorization_code",
            "code": got["code"],
            "redirect_uri": CALLBACK,
            "client_id": google.client_id,
            "client_secret": google.client_secret,
        }
        missing = client.post(f"{base}/token", data=token_form)
        assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
        bad_client = client.post(
            f"{base}/token", data={**token_form, "client_secret": "x", "code_verifier": verifier}
        )
        assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
        tokens = client.post(f"{base}/token", data={**token_form, "code_verifier": verifier}).json()
        assert tokens["access_token"].startswith("ya29.")
        assert tokens["refresh_token"].startswith("1//")
        assert tokens["expires_in"] == 3599 and tokens["token_type"] == "Bearer"

        api = {"Authorization": f"Bearer {tokens['access_token']}"}
        info = client.get(f"{base}/oauth2/v3/userinfo", headers=api).json()
        assert info["email"] == "fake.user@example.com" and info["email_verified"] is True
        sent = client.post(
            f"{base}/gmail/v1/users/me/messages/send", headers=api, json={"raw": google_message()}
        )
        assert sent.status_code == 200 and sent.json()["labelIds"] == ["SENT"]
        assert google.sent[0].to == ["someone@example.org"]
        assert google.sent[0].subject == "Quarterly numbers"
        assert google.sent[0].body.strip() == "See attached."
        broken = client.post(
            f"{base}/gmail/v1/users/me/messages/send", headers=api, json={"raw": "!!not base64"}
        )
        assert broken.status_code == 400 and broken.json()["error"]["status"] == "INVALID_ARGUMENT"

        event = client.post(
            f"{base}/calendar/v3/calendars/primary/events",
            headers=api,
            json={
                "summary": "Review",
                "start": {"dateTime": "2026-12-01T10:00:00", "timeZone": "Europe/Paris"},
                "end": {"dateTime": "2026-12-01T11:00:00", "timeZone": "Europe/Paris"},
                "attendees": [{"email": "a@example.org"}],
            },
        ).json()
        assert event["kind"] == "calendar#event" and event["status"] == "confirmed"
        assert event["summary"] == "Review" and event["htmlLink"].startswith("https://")
        assert event["attendees"][0]["responseStatus"] == "needsAction"

        sheet = google.spreadsheet_id
        append_url = f"{base}/v4/spreadsheets/{sheet}/values/Sheet1!A:C:append"
        first = client.post(
            append_url,
            headers=api,
            params={"valueInputOption": "USER_ENTERED"},
            json={"values": [["a", 1, True]]},
        ).json()
        assert first["updates"]["updatedRange"] == "Sheet1!A1:C1"
        second = client.post(
            append_url,
            headers=api,
            params={"valueInputOption": "RAW"},
            json={"values": [["b", 2]]},
        ).json()
        assert second["tableRange"] == "Sheet1!A1:C1"
        assert second["updates"] == {
            "spreadsheetId": sheet,
            "updatedRange": "Sheet1!A2:B2",
            "updatedRows": 1,
            "updatedColumns": 2,
            "updatedCells": 2,
        }
        assert google.rows() == [["a", 1, True], ["b", 2]]
        unknown = client.post(
            f"{base}/v4/spreadsheets/unknown/values/Sheet1:append",
            headers=api,
            params={"valueInputOption": "RAW"},
            json={"values": [["x"]]},
        )
        assert unknown.status_code == 404 and unknown.json()["error"]["status"] == "NOT_FOUND"

        google.expire_all_tokens()
        expired = client.get(f"{base}/oauth2/v3/userinfo", headers=api)
        assert expired.status_code == 401
        assert expired.json()["error"]["status"] == "UNAUTHENTICATED"
        refresh_form = {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": google.client_id,
            "client_secret": google.client_secret,
        }
        refreshed = client.post(f"{base}/token", data=refresh_form).json()
        assert "refresh_token" not in refreshed and google.refresh_count == 1
        api = {"Authorization": f"Bearer {refreshed['access_token']}"}
        assert client.get(f"{base}/oauth2/v3/userinfo", headers=api).status_code == 200

        revoked = client.post(f"{base}/revoke", params={"token": tokens["refresh_token"]})
        assert revoked.status_code == 200 and revoked.json() == {}
        assert client.get(f"{base}/oauth2/v3/userinfo", headers=api).status_code == 401
        again = client.post(f"{base}/token", data=refresh_form)
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_google_requires_offline_for_refresh_and_pkce(client: httpx.Client) -> None:
    with FakeGoogle() as google:  # no registered redirect_uri: any absolute URL is accepted
        verifier, challenge = pkce_pair()
        query = {
            "client_id": google.client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid email",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        code = callback_params(google.approve("http://x/o/oauth2/v2/auth?" + urlencode(query)))
        form = {
            "grant_type": "authorization_code",
            "code": code["code"],
            "redirect_uri": CALLBACK,
            "client_id": google.client_id,
            "client_secret": google.client_secret,
        }
        wrong = client.post(f"{google.base_url}/token", data={**form, "code_verifier": "z" * 50})
        assert wrong.status_code == 400
        assert wrong.json() == {
            "error": "invalid_grant",
            "error_description": "Invalid code verifier.",
        }
        ok = client.post(f"{google.base_url}/token", data={**form, "code_verifier": verifier})
        assert ok.status_code == 200 and "refresh_token" not in ok.json()


# --------------------------------------------------------------------------- echo API


def test_echo_api_echoes_everything_and_enforces_auth(client: httpx.Client) -> None:
    with EchoAPI(required_auth=("header", "X-Api-Key", "k-123")) as echo:
        url = f"{echo.base_url}/anything/items"
        assert client.get(url).status_code == 401
        assert client.get(url).json() == {"error": "unauthorized"}
        body = client.post(
            url, params={"a": "1"}, headers={"X-Api-Key": "k-123"}, json={"x": 1}
        ).json()
        assert body["method"] == "POST" and body["path"] == "/anything/items"
        assert body["query"] == {"a": "1"} and body["json"] == {"x": 1}
        assert body["headers"]["X-Api-Key"] == "k-123"  # echoed on purpose (exfiltration tests)

        echo.required_auth = ("bearer", "tok")
        headers = {"Authorization": "Bearer tok"}
        assert client.get(url, headers=headers).json()["headers"]["Authorization"] == "Bearer tok"
        assert client.get(url, headers={"Authorization": "Bearer other"}).status_code == 401
        echo.required_auth = ("basic", "u", "p")
        assert client.get(url, auth=("u", "p")).status_code == 200
        assert client.get(url, auth=("u", "x")).status_code == 401
        echo.required_auth = None
        injected = client.get(f"{echo.base_url}/injected")
        assert "Ignore previous instructions" in injected.text
        assert "Authorization header" in injected.text
        assert client.get(f"{echo.base_url}/status/503").status_code == 503
        assert echo.requests[-1].path == "/status/503"
