"""Publishing packs to a local folder and to a real S3-compatible server (moto in server mode)."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from companion.config import Settings
from companion.content.publishing import (
    current_pointer,
    current_version,
    list_course_ids,
    load_current,
    load_version,
    pack_key,
    publish_pack,
)
from companion.content.store import ContentStore, LocalContentStore, S3ContentStore, store_from_settings
from companion.content.validation import ContentInvalid, load_pack
from companion.errors import NotFound

from .factories import DOCS_COURSE, write_pack


def _change_content(pack: Path) -> None:
    chapter = pack / "chapters" / "02-two.json"
    chapter.write_text(chapter.read_text().replace("More text.", "Revised text."))


def _round_trip(store: ContentStore, pack_dir: Path) -> None:
    """The behaviour every store must have: publish, read back, no-op re-publish, switch to a new version."""
    first = publish_pack(store, pack_dir)

    assert first.course_id == "mini-course"
    assert first.already_published is False
    assert current_version(store, "mini-course") == first.version
    loaded = load_version(store, "mini-course", first.version)
    assert loaded == load_pack(pack_dir)
    assert load_current(store, "mini-course").version == first.version
    assert list_course_ids(store) == ["mini-course"]

    pointer = current_pointer(store, "mini-course")
    again = publish_pack(store, pack_dir)
    assert again.already_published is True
    assert again.version == first.version
    assert current_pointer(store, "mini-course") == pointer  # nothing was rewritten

    _change_content(pack_dir)
    second = publish_pack(store, pack_dir)
    assert second.already_published is False
    assert second.version != first.version
    assert current_version(store, "mini-course") == second.version
    # The old version stays readable for anyone still serving it.
    assert load_version(store, "mini-course", first.version).version == first.version


def test_local_store_round_trip(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path / "store")

    _round_trip(store, write_pack(tmp_path / "pack"))

    course_dir = tmp_path / "store" / "courses" / "mini-course"
    assert len(list((course_dir / "versions").iterdir())) == 2
    assert set(json.loads((course_dir / "current.json").read_text())) == {"version", "published_at"}
    # The atomic writes leave no temporary files behind.
    assert not [p for p in course_dir.rglob("*") if p.name.endswith(".tmp")]


def test_pack_json_is_the_canonical_pack(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path / "store")
    result = publish_pack(store, write_pack(tmp_path / "pack"))

    stored = store.read(pack_key("mini-course", result.version))

    assert stored is not None
    assert stored.decode("utf-8") == load_pack(tmp_path / "pack").canonical_json()


def test_republishing_an_older_version_makes_it_current_again(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path / "store")
    pack_dir = write_pack(tmp_path / "pack")
    original = pack_dir.joinpath("chapters", "02-two.json").read_text()
    first = publish_pack(store, pack_dir)
    _change_content(pack_dir)
    publish_pack(store, pack_dir)

    pack_dir.joinpath("chapters", "02-two.json").write_text(original)
    rolled_back = publish_pack(store, pack_dir)

    assert rolled_back.version == first.version
    assert rolled_back.already_published is False
    assert current_version(store, "mini-course") == first.version


def test_invalid_pack_is_not_published(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path / "store")
    pack_dir = write_pack(tmp_path / "pack")
    (pack_dir / "chapters" / "02-two.json").write_text("{")

    with pytest.raises(ContentInvalid):
        publish_pack(store, pack_dir)

    assert list_course_ids(store) == []
    assert not (tmp_path / "store").exists()


def test_missing_and_unsafe_names_are_not_found(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path / "store")
    publish_pack(store, write_pack(tmp_path / "pack"))

    with pytest.raises(NotFound):
        load_version(store, "mini-course", "0" * 64)
    with pytest.raises(NotFound):
        load_current(store, "other-course")
    with pytest.raises(NotFound):
        load_version(store, "../..", "etc")
    assert current_version(store, "never-published") is None


def test_tampered_pack_is_rejected(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path / "store")
    result = publish_pack(store, write_pack(tmp_path / "pack"))
    key = pack_key("mini-course", result.version)
    stored = store.read(key)
    assert stored is not None
    store.write(key, stored.replace(b"More text.", b"Evil text."))

    with pytest.raises(ContentInvalid):
        load_version(store, "mini-course", result.version)


def test_markdown_pack_publishes_too(tmp_path: Path) -> None:
    store = LocalContentStore(tmp_path / "store")

    result = publish_pack(store, DOCS_COURSE)

    assert result.course_id == "robotics-basics"
    assert load_current(store, "robotics-basics") == load_pack(DOCS_COURSE)


def test_local_store_from_settings(tmp_path: Path) -> None:
    store = store_from_settings(Settings(data_dir=tmp_path / "data"))

    assert isinstance(store, LocalContentStore)
    assert store.root == tmp_path / "data" / "content"


# --- S3 against a real S3-compatible server ----------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server listening on a free local port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket on the S3 server."""
    name = f"content-{uuid.uuid4().hex[:12]}"
    _client(s3_endpoint).create_bucket(Bucket=name)
    return name


def test_s3_store_round_trip(tmp_path: Path, s3_endpoint: str, bucket: str) -> None:
    store = S3ContentStore(_client(s3_endpoint), bucket=bucket, prefix="companion")

    _round_trip(store, write_pack(tmp_path / "pack"))


def test_s3_store_from_settings_uses_the_documented_layout(
    tmp_path: Path, s3_endpoint: str, bucket: str
) -> None:
    settings = Settings(
        content_store="s3",
        s3_bucket=bucket,
        s3_prefix="companion",
        s3_endpoint_url=s3_endpoint,
        s3_access_key_id="test",
        s3_secret_access_key="test",
    )
    store = store_from_settings(settings)

    result = publish_pack(store, write_pack(tmp_path / "pack"))

    listing = _client(s3_endpoint).list_objects_v2(Bucket=bucket)
    keys = sorted(item["Key"] for item in listing["Contents"])
    assert keys == [
        "companion/courses/mini-course/current.json",
        f"companion/courses/mini-course/versions/{result.version}/pack.json",
    ]
    assert isinstance(store, S3ContentStore)
    assert store.read("courses/mini-course/missing.json") is None
    assert store.exists("courses/mini-course/current.json")
    assert store.list_folders("courses") == ["mini-course"]


def test_s3_store_needs_a_bucket() -> None:
    with pytest.raises(ValueError, match="COMPANION_S3_BUCKET"):
        store_from_settings(Settings(content_store="s3"))
