"""The API surface of the running app (`up`), where Reflex serves the web app on the same
port: Swagger UI loads from this server, and unknown /api paths are JSON errors."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

from tests.e2e.conftest import RunningApp


def fetch(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read()


def test_api_docs_need_no_cdn(app_server: RunningApp) -> None:
    status, kind, body = fetch(app_server.url + "/api/docs")
    assert status == 200 and kind.startswith("text/html")
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", body.decode())
    assert urls and all(u.startswith("/api/") for u in urls), urls
    for url in urls:
        status, _, asset = fetch(app_server.url + url)
        assert status == 200 and len(asset) > 1000, url
    status, _, spec = fetch(app_server.url + "/api/openapi.json")
    assert status == 200 and "/api/v1/admin/orgs" in json.loads(spec)["paths"]


def test_unknown_api_paths_are_json_404_not_the_web_app(app_server: RunningApp) -> None:
    for path in ("/api/v1/nope", "/api/v1/org/extra", "/api/v2/anything"):
        status, kind, body = fetch(app_server.url + path)
        assert status == 404, (path, status, body[:200])
        assert kind.startswith("application/problem+json"), (path, kind)  # the one error shape
        problem = json.loads(body)
        assert problem["status"] == 404 and problem["detail"], problem
    status, kind, _ = fetch(app_server.url + "/agents")  # the web app still answers its pages
    assert status == 200 and kind.startswith("text/html")
