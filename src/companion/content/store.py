"""Where published content lives: a local folder or an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO).

Both stores are plain blocking code; async callers run them in a thread.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from companion.config import Settings

if TYPE_CHECKING:  # boto3 and botocore are imported only by a server whose content is in a bucket
    from botocore.exceptions import ClientError

# Keys are "/"-separated parts of URL-safe characters, so no key can climb out of the store's root.
_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


class ContentStore(Protocol):
    """Blob storage addressed by relative keys such as "courses/x/current.json"."""

    def read(self, key: str) -> bytes | None:
        """The bytes stored under `key`, or None when there are none."""
        ...

    def write(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing any previous value in one step."""
        ...

    def exists(self, key: str) -> bool:
        """Whether something is stored under `key`."""
        ...

    def list_folders(self, prefix: str) -> list[str]:
        """The names of the folders directly under `prefix`, sorted."""
        ...


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative key; raise ValueError otherwise."""
    if not all(_KEY_PART.match(part) for part in key.split("/")):
        raise ValueError(f"unsafe content store key: {key!r}")
    return key


class LocalContentStore:
    """A content store in a folder on the local disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def read(self, key: str) -> bytes | None:
        """The bytes stored under `key`, or None when there are none."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes) -> None:
        """Write to a temporary file beside the target, then rename it, so readers never see half a file."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def exists(self, key: str) -> bool:
        """Whether something is stored under `key`."""
        return self._path(key).is_file()

    def list_folders(self, prefix: str) -> list[str]:
        """The names of the folders directly under `prefix`, sorted."""
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return sorted(child.name for child in folder.iterdir() if child.is_dir())


class S3ContentStore:
    """A content store in an S3-compatible bucket, under an optional key prefix."""

    def __init__(self, client: Any, *, bucket: str, prefix: str = "") -> None:
        from botocore.exceptions import ClientError

        self.client = client
        self._client_error = ClientError
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def read(self, key: str) -> bytes | None:
        """The bytes stored under `key`, or None when there are none."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except self._client_error as error:
            if _is_missing(error):
                return None
            raise
        body: bytes = response["Body"].read()
        return body

    def write(self, key: str, data: bytes) -> None:
        """Store `data` under `key`; a single PUT is atomic, so readers see the old or the new object."""
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, ContentType="application/json"
        )

    def exists(self, key: str) -> bool:
        """Whether something is stored under `key`."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except self._client_error as error:
            if _is_missing(error):
                return False
            raise
        return True

    def list_folders(self, prefix: str) -> list[str]:
        """The names of the folders directly under `prefix`, sorted."""
        full_prefix = self._key(prefix) + "/"
        paginator = self.client.get_paginator("list_objects_v2")
        names: list[str] = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                names.append(common["Prefix"][len(full_prefix) :].rstrip("/"))
        return sorted(names)


def _is_missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING_CODES


def make_s3_client(
    *,
    endpoint_url: str | None,
    region: str,
    access_key_id: str | None,
    secret_access_key: str | None,
) -> Any:
    """A boto3 S3 client for AWS or any S3-compatible endpoint (R2 uses region "auto")."""
    # "auto" only means something to S3-compatible services; against AWS let boto3 pick its default.
    import boto3
    from botocore.config import Config

    region_name = None if region == "auto" and endpoint_url is None else region
    config = Config(signature_version="s3v4", retries={"max_attempts": 5, "mode": "standard"})
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region_name,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


def store_from_settings(settings: Settings) -> ContentStore:
    """The content store the settings describe: a bucket when content_store is "s3", else a local folder."""
    if settings.content_store == "s3":
        if not settings.s3_bucket:
            raise ValueError("COMPANION_S3_BUCKET must be set when COMPANION_CONTENT_STORE=s3")
        client = make_s3_client(
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
        return S3ContentStore(client, bucket=settings.s3_bucket, prefix=settings.s3_prefix)
    return LocalContentStore(settings.resolved_content_store_dir)
