"""The learning record's statements on the hot write paths, built once with bound parameters.

Every quiz submission and progress report runs these: building a statement and computing its cache
key cost more CPU than running it, so each is built once and executed with its parameters. Core
statements on the tables, as the ORM's bulk insert and update machinery costs more still.
"""

from __future__ import annotations

import functools
from typing import cast

from sqlalchemy import Insert, Table, Update, bindparam, case, func, update

from companion.db import UTCDateTime, upsert_insert
from companion.progress.models import ChapterProgress, Streak

_STREAKS = cast(Table, Streak.__table__)
_PROGRESS = cast(Table, ChapterProgress.__table__)

# A learning action on a day already counted: only the time of the last activity moves (never back).
# Parameters: user_id, day, at. Returns the streak's id, or nothing when the day is not counted yet.
_at = bindparam("streak_at", type_=UTCDateTime())
SAME_DAY_ACTIVITY: Update = (
    update(_STREAKS)
    .where(
        _STREAKS.c.user_id == bindparam("streak_user_id"),
        _STREAKS.c.current_streak > 0,
        _STREAKS.c.last_activity_date >= bindparam("streak_day"),
    )
    .values(
        last_activity_at=case(
            (_STREAKS.c.last_activity_at.is_(None) | (_STREAKS.c.last_activity_at < _at), _at),
            else_=_STREAKS.c.last_activity_at,
        )
    )
    .returning(_STREAKS.c.id)
)


@functools.cache
def quiz_outcome(dialect: str, *, passed: bool) -> Insert:
    """A submitted quiz's chapter put in progress (if not yet) and, if `passed`, completed, in one upsert.

    Parameters: user_id, course_id, chapter_id, at. Completing is what the service's `_complete`
    does: 100%, and the first completion time kept. ON CONFLICT DO UPDATE skips the columns'
    onupdate, so updated_at is set here.
    """
    insert = upsert_insert(dialect)
    at = bindparam("progress_at", type_=UTCDateTime())
    values = {
        "user_id": bindparam("progress_user_id", type_=_PROGRESS.c.user_id.type),
        "course_id": bindparam("progress_course_id", type_=_PROGRESS.c.course_id.type),
        "chapter_id": bindparam("progress_chapter_id", type_=_PROGRESS.c.chapter_id.type),
        "started_at": at,
    }
    if not passed:
        return insert(_PROGRESS).values(**values).on_conflict_do_nothing()
    completed = {"completed": True, "completion_percentage": 100.0}
    return (
        insert(_PROGRESS)
        .values(**values, **completed, completed_at=at)
        .on_conflict_do_update(
            index_elements=[_PROGRESS.c.user_id, _PROGRESS.c.course_id, _PROGRESS.c.chapter_id],
            set_={**completed, "completed_at": func.coalesce(_PROGRESS.c.completed_at, at), "updated_at": at},
        )
    )
