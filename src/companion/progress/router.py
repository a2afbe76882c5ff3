"""Learning-record endpoints: chapter progress, the dashboard, streaks and learning sessions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, status

from companion.accounts.policies import ProgressWriterDep, ReaderDep
from companion.content.dependencies import CatalogDep, PackDep
from companion.dependencies import CacheDep, ClientAddressDep, SessionDep, SettingsDep
from companion.progress import service as progress_service
from companion.progress import sessions
from companion.progress.dependencies import TRACKED
from companion.progress.schemas import (
    ChapterProgressRead,
    CourseDashboard,
    LearningSessionCreate,
    LearningSessionRead,
    LearningSessionUpdate,
    ProgressDashboard,
    ProgressUpdate,
    StreakRead,
)

router = APIRouter(prefix="/api/v1", tags=["progress"])


@router.get("/progress", response_model=ProgressDashboard)
async def read_dashboard(
    reader: ReaderDep, session: SessionDep, catalog: CatalogDep, cache: CacheDep
) -> ProgressDashboard:
    """Your progress in every course: chapters, quiz best scores, what to study next, and your streak."""
    return await progress_service.get_dashboard(session, user=reader.user, packs=catalog.packs(), cache=cache)


@router.get("/progress/{course_id}", response_model=CourseDashboard)
async def read_course_progress(
    pack: PackDep, reader: ReaderDep, session: SessionDep, catalog: CatalogDep, cache: CacheDep
) -> CourseDashboard:
    """Your progress in one course, with locked chapters and the next chapter to study (or why none)."""
    return await progress_service.get_course_dashboard(
        session, user=reader.user, packs=catalog.packs(), course_id=pack.course.id, cache=cache
    )


@router.put(
    "/progress/{course_id}/{chapter_id}",
    response_model=ChapterProgressRead,
    dependencies=TRACKED,
    responses={403: {"description": "upgrade_required: your tier cannot open this chapter"}},
)
async def record_progress(
    chapter_id: str,
    data: ProgressUpdate,
    identity: ProgressWriterDep,
    pack: PackDep,
    session: SessionDep,
    cache: CacheDep,
) -> ChapterProgressRead:
    """Record a section read (the resume point), time spent or completion; completion is never undone."""
    return await progress_service.record_chapter_progress(
        session, user=identity.user, pack=pack, chapter_id=chapter_id, data=data, cache=cache
    )


@router.get("/streak", response_model=StreakRead)
async def read_streak(reader: ReaderDep, session: SessionDep, cache: CacheDep) -> StreakRead:
    """Your daily streak, counted in your own time zone."""
    return await progress_service.get_streak(session, user=reader.user, cache=cache)


@router.post(
    "/streak/freeze",
    response_model=StreakRead,
    responses={
        403: {"description": "upgrade_required: streak freezes are a Premium feature"},
        409: {"description": "conflict: a freeze is already held"},
    },
)
async def freeze_streak(identity: ProgressWriterDep, session: SessionDep, cache: CacheDep) -> StreakRead:
    """Hold a streak freeze (Premium): it covers one missed day, then is used up. One at a time."""
    return await progress_service.arm_freeze(session, user=identity.user, cache=cache)


@router.post("/sessions", response_model=LearningSessionRead, status_code=status.HTTP_201_CREATED)
async def start_learning_session(
    data: LearningSessionCreate,
    identity: ProgressWriterDep,
    session: SessionDep,
    settings: SettingsDep,
    address: ClientAddressDep,
    user_agent: Annotated[str | None, Header()] = None,
) -> LearningSessionRead:
    """Start a learning session; send its id as `X-Learning-Session-Id` to count later requests in it."""
    learning_session = await sessions.start(
        session,
        user_id=identity.user.id,
        data=data,
        user_agent=user_agent,
        client_ip=address if settings.record_client_ip else None,
    )
    return LearningSessionRead.model_validate(learning_session)


@router.patch("/sessions/{learning_session_id}", response_model=LearningSessionRead)
async def end_learning_session(
    learning_session_id: uuid.UUID,
    identity: ProgressWriterDep,
    session: SessionDep,
    data: LearningSessionUpdate | None = None,
) -> LearningSessionRead:
    """End one of your learning sessions (idle sessions are also ended by a job after 30 minutes)."""
    learning_session = await sessions.end(
        session, user_id=identity.user.id, learning_session_id=learning_session_id
    )
    return LearningSessionRead.model_validate(learning_session)
