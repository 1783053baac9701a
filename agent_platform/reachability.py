"""Does the configured Redis / database answer? One line naming it when not, at once.

Why: a `REDIS_URL` or `DATABASE_URL` that does not answer used to cost minutes of silent
back-off (RQ's reconnect loop, psycopg's TCP timeout) before anything said which setting was
wrong. Every process checks both at start with short timeouts and refuses with one line.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from sqlalchemy.engine import make_url

TIMEOUT_SECONDS = 3.0


class Unreachable(RuntimeError):
    """A configured service does not answer; the message names the setting and its URL."""


def redacted(url: str) -> str:
    """The URL with its password replaced by `***`, safe for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: BaseException) -> str:
    text_ = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text_[:200]


def check_redis(url: str, timeout: float = TIMEOUT_SECONDS) -> None:
    client = Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure is "does not answer", said once
        raise Unreachable(f"REDIS_URL {redacted(url)} does not answer ({_reason(exc)})") from None
    finally:
        client.close()


def check_database(url: str, timeout: float = TIMEOUT_SECONDS) -> None:
    """One plain driver connection (no engine: `db.py` is the one place that makes those)."""
    if url.startswith("sqlite"):
        return  # a file: opened (and created) on first use
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, connect_timeout=max(1, int(timeout))) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure is "does not answer", said once
        raise Unreachable(
            f"DATABASE_URL {redacted(url)} does not answer ({_reason(exc)})"
        ) from None


def check_all(redis_url: str, database_url: str) -> None:
    """Both services, database first (migrations need it before Redis is of any use)."""
    check_database(database_url)
    check_redis(redis_url)
