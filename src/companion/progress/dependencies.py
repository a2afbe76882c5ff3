"""Learning-session tracking for any router: the `X-Learning-Session-Id` header counts interactions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, Request

from companion.accounts.dependencies import OptionalIdentity
from companion.db import transaction
from companion.progress import sessions

LEARNING_SESSION_HEADER = "X-Learning-Session-Id"


async def track_learning_session(
    request: Request,
    identity: OptionalIdentity,
    learning_session_id: Annotated[
        uuid.UUID | None,
        Header(
            alias=LEARNING_SESSION_HEADER,
            description="A session from POST /api/v1/sessions; the request is counted in it.",
        ),
    ] = None,
) -> uuid.UUID | None:
    """Count the request in the caller's learning session, with the chapter or quiz in its path.

    The count is kept in a short transaction of its own, so untracked (and anonymous) reads never
    open a database session, and a tracking hiccup cannot undo the request's own work.
    """
    if learning_session_id is not None and identity is not None:
        async with transaction(request.app.state.sessionmaker) as session:
            await sessions.track(
                session,
                user_id=identity.user.id,
                learning_session_id=learning_session_id,
                chapter_id=request.path_params.get("chapter_id"),
                quiz_id=request.path_params.get("quiz_id"),
            )
    return learning_session_id


# Add to a route or router (`dependencies=[Depends(track_learning_session)]`) to count its requests.
TrackedLearningSession = Annotated[uuid.UUID | None, Depends(track_learning_session)]
