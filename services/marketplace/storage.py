"""Listing files (icons, screenshots) behind one interface: a folder under DATA_DIR by default,
any S3-compatible store (AWS, MinIO, R2, …) when MARKETPLACE_S3_BUCKET is set.

Why keys, not paths or URLs, in the database: the same listing row works whichever store is
configured, and the web app serves every file through one route (`/api/v1/marketplace/files/
<key>`) that asks the store, so nothing about the store leaks into pages. Keys are made here
(`new_key`) from random ids; a key a client sends is checked against that shape before any
store sees it, so `../` cannot name a file outside the folder.

The S3 endpoint is an operator's setting, like DATABASE_URL, never a user's input: it does not
go through the outbound guard, which exists for URLs that users type.
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from agent_platform.settings import get_settings
from services.errors import Invalid, NotFound

MAX_IMAGE_BYTES = 2_000_000
MAX_SCREENSHOTS = 6
# What we accept, told by the file's first bytes (never by the name or the claimed type).
IMAGE_TYPES: dict[str, tuple[bytes, ...]] = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "webp": (b"RIFF",),
    "gif": (b"GIF87a", b"GIF89a"),
}
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}
KEY_PATTERN = re.compile(r"^listings/[0-9a-f]{32}/[0-9a-f]{32}\.(png|jpg|webp|gif)$")


class FileStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...


def image_kind(data: bytes) -> str:
    """The image's kind by its magic bytes; anything else is refused in words."""
    if not data:
        raise Invalid("The file is empty.")
    if len(data) > MAX_IMAGE_BYTES:
        raise Invalid(f"Images may be at most {MAX_IMAGE_BYTES // 1_000_000} MB.")
    for kind, prefixes in IMAGE_TYPES.items():
        if data.startswith(prefixes) and (kind != "webp" or data[8:12] == b"WEBP"):
            return kind
    raise Invalid("Only PNG, JPEG, WebP or GIF images can be uploaded.")


def new_key(listing_id: uuid.UUID, kind: str) -> str:
    return f"listings/{listing_id.hex}/{uuid.uuid4().hex}.{kind}"


def check_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise NotFound("No such file.")
    return key


def content_type_of(key: str) -> str:
    return CONTENT_TYPES[check_key(key).rsplit(".", 1)[1]]


class LocalFileStore:
    """Files under `root` (DATA_DIR/marketplace by default), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        partial.replace(path)

    def get(self, key: str) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise NotFound("No such file.")
        return path.read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


class S3FileStore:
    """The same contract on an S3-compatible bucket through boto3 (`client` is a boto3 S3
    client; tests hand in one with botocore's Stubber, which speaks the real wire shapes)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self._name(key), Body=data, ContentType=content_type
        )

    def get(self, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except self.client.exceptions.NoSuchKey as exc:
            raise NotFound("No such file.") from exc
        body: bytes = answer["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))


@lru_cache(maxsize=1)
def file_store() -> FileStore:
    """The configured store (one per process)."""
    settings = get_settings()
    if not settings.marketplace_s3_bucket:
        return LocalFileStore(settings.data_dir / "marketplace")
    import boto3  # type: ignore[import-untyped]  # no stubs; imported only when configured

    client = boto3.client(
        "s3",
        endpoint_url=settings.marketplace_s3_endpoint_url or None,
        region_name=settings.marketplace_s3_region or None,
        aws_access_key_id=settings.marketplace_s3_access_key_id or None,
        aws_secret_access_key=settings.marketplace_s3_secret_access_key or None,
    )
    return S3FileStore(client, settings.marketplace_s3_bucket, settings.marketplace_s3_prefix)
