"""Publish validated content packs as immutable, hash-named versions and read them back.

Layout in a store: `courses/{course_id}/versions/{version}/pack.json` holds a whole pack, and
`courses/{course_id}/current.json` points at the current version. The pointer is written last, so a
reader sees either the old version or the new one, never a mix.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from companion.content.schemas import ID_PATTERN, ContentPack, Problem
from companion.content.store import ContentStore
from companion.content.validation import ContentInvalid, check_pack
from companion.errors import NotFound


class ContentPointer(BaseModel):
    """The content of `current.json`: which version of a course is current, and since when."""

    version: str
    published_at: datetime


class PublishResult(BaseModel):
    """What publishing did: the course and version, and whether that version was already current."""

    course_id: str
    version: str
    already_published: bool
    warnings: list[Problem] = Field(default_factory=list)


def pack_key(course_id: str, version: str) -> str:
    """The store key of one published version of a course."""
    return f"courses/{_safe_id(course_id)}/versions/{_safe_id(version)}/pack.json"


def pointer_key(course_id: str) -> str:
    """The store key of a course's current-version pointer."""
    return f"courses/{_safe_id(course_id)}/current.json"


def _safe_id(value: str) -> str:
    # Ids may come from a URL; anything that is not a plain id cannot name a published course.
    if not re.match(ID_PATTERN, value):
        raise NotFound(f"No published content named {value!r}.")
    return value


def publish_pack(store: ContentStore, path: Path) -> PublishResult:
    """Validate the pack folder at `path` and make it its course's current version (a no-op if it is)."""
    result = check_pack(path)
    if result.pack is None:
        raise ContentInvalid(result.problems)
    pack = result.pack
    course_id = pack.course.id
    if current_version(store, course_id) == pack.version:
        return PublishResult(
            course_id=course_id, version=pack.version, already_published=True, warnings=result.warnings
        )
    # A version is named by its content hash, so an existing pack.json already holds exactly this pack.
    key = pack_key(course_id, pack.version)
    if not store.exists(key):
        store.write(key, pack.canonical_json().encode("utf-8"))
    pointer = ContentPointer(version=pack.version, published_at=datetime.now(UTC))
    store.write(pointer_key(course_id), pointer.model_dump_json().encode("utf-8"))
    return PublishResult(
        course_id=course_id, version=pack.version, already_published=False, warnings=result.warnings
    )


def current_pointer(store: ContentStore, course_id: str) -> ContentPointer | None:
    """The current-version pointer of a course, or None when it was never published."""
    data = store.read(pointer_key(course_id))
    return ContentPointer.model_validate_json(data) if data is not None else None


def current_version(store: ContentStore, course_id: str) -> str | None:
    """The current version of a course, or None when it was never published."""
    pointer = current_pointer(store, course_id)
    return pointer.version if pointer else None


def load_version(store: ContentStore, course_id: str, version: str) -> ContentPack:
    """One published version of a course, checked against its hash; NotFound when it does not exist."""
    key = pack_key(course_id, version)
    data = store.read(key)
    if data is None:
        raise NotFound(f"Course {course_id!r} has no published version {version!r}.")
    try:
        pack = ContentPack.model_validate_json(data)
    except ValidationError as error:
        problem = Problem(
            file=key, message=f"stored pack is not a valid content pack ({error.error_count()} errors)"
        )
        raise ContentInvalid([problem]) from error
    if pack.version != version or pack.content_hash() != version:
        raise ContentInvalid([Problem(file=key, message="stored pack does not match its version hash")])
    return pack


def load_current(store: ContentStore, course_id: str) -> ContentPack:
    """The current version of a course; NotFound when it was never published."""
    version = current_version(store, course_id)
    if version is None:
        raise NotFound(f"Course {course_id!r} has not been published.")
    return load_version(store, course_id, version)


def list_course_ids(store: ContentStore) -> list[str]:
    """The ids of every course with a current version, sorted."""
    return [course_id for course_id in store.list_folders("courses") if store.exists(pointer_key(course_id))]
