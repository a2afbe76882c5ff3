"""Learning-path endpoint: the learner's recommended order through a course, planned by rule."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from companion.accounts.policies import ReaderDep
from companion.content.dependencies import PackDep
from companion.dependencies import SessionDep
from companion.recommendations import service as recommendations_service
from companion.recommendations.schemas import LearningPathRead

router = APIRouter(prefix="/api/v1", tags=["recommendations"])


@router.get("/learning-path", response_model=LearningPathRead, responses={404: {"description": "not_found"}})
async def read_learning_path(
    pack: PackDep,
    reader: ReaderDep,
    session: SessionDep,
    regenerate: Annotated[
        bool, Query(description="Plan the path afresh now (e.g. after progress), retiring the current one.")
    ] = False,
) -> LearningPathRead:
    """Your learning path through a course (`course_id`): the chapters in the order to study them, each
    with a reason, planned from your background, progress, quiz results and the prerequisites.

    Chapters whose quiz you have not passed come first; completed chapters are left out; chapters your
    plan does not open are kept but marked `locked` with the tier they need. The path lasts 7 days, or
    until you change your background; then (or with `regenerate=true`) a new one replaces it.
    """
    return await recommendations_service.get_learning_path(
        session, user=reader.user, pack=pack, regenerate=regenerate
    )
