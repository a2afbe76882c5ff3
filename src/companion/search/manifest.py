"""The manifest of a course version's search index: what its last complete build produced."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from companion.search.engine import SearchMode


@dataclass(frozen=True)
class IndexManifest:
    """What the last complete build of one course version produced, kept next to its index folder."""

    course_id: str
    version: str
    created_at: datetime
    passages: int
    mode: SearchMode
    embedder: str | None
    degraded_reason: str | None = None
    built_at: datetime | None = None
    format: int = 1


def read_manifest(path: Path) -> IndexManifest | None:
    """The manifest saved at `path`, or None when there is none."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    for name in ("created_at", "built_at"):
        if data.get(name):
            data[name] = datetime.fromisoformat(data[name])
    known = {field.name for field in dataclasses.fields(IndexManifest)}
    return IndexManifest(**{name: value for name, value in data.items() if name in known})


def version_key(course_id: str, version: str) -> str:
    """The name of one course version's index folder and manifest."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{course_id}__{version}")
