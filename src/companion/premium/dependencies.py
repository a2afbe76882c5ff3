"""Premium dependencies: the course a request names, or the only course when it names none."""

from __future__ import annotations

from companion.content.schemas import ContentPack
from companion.content.service import ContentCatalog
from companion.errors import ValidationFailed


def course_pack(catalog: ContentCatalog, course_id: str | None) -> ContentPack:
    """The named course's pack; without a name, the only course (several courses need a name)."""
    if course_id is not None:
        return catalog.pack(course_id)
    packs = catalog.packs()
    if len(packs) != 1:
        raise ValidationFailed(
            "Name the course: 'course_id' is required when several courses are served.",
            details={"field": "course_id", "courses": [pack.course.id for pack in packs]},
        )
    return packs[0]
