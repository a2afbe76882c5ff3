"""Learning-session tracking for any router: the `X-Learning-Session-Id` header counts interactions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request

from companion.accounts.policies import request_identity
from companion.accounts.scopes import PROGRESS_WRITE
from companion.db import transaction
from companion.progress import sessions

LEARNING_SESSION_HEADER = "X-Learning-Session-Id"


async def track_learning_session(
    request: Request,
    learning_session_id: Annotated[
        uuid.UUID | None,
        Header(
            alias=LEARNING_SESSION_HEADER,
            description="A session from POST /api/v1/sessions; the request is counted in it if it succeeds.",
        ),
    ] = None,
) -> AsyncIterator[uuid.UUID | None]:
    """Count the request in the caller's learning session, with the chapter or quiz in its path.

    Only a request that succeeded is counted: a refused one (401, 403, 404, 422...) raises through
    the `yield` and nothing is recorded. The caller is the one the route's policy admitted, and
    counting writes to the learning record, so it needs `progress:write` as the MCP tools do.
    The count is kept in a short transaction of its own, so untracked (and anonymous) reads never
    open a database session, and a tracking hiccup cannot undo the request's own work.
    """
    yield learning_session_id
    identity = request_identity(request)
    if learning_session_id is None or identity is None or PROGRESS_WRITE not in identity.scopes:
        return
    async with transaction(request.app.state.sessionmaker) as session:
        await sessions.track(
            session,
            user_id=identity.user.id,
            learning_session_id=learning_session_id,
            chapter_id=request.path_params.get("chapter_id"),
            quiz_id=request.path_params.get("quiz_id"),
        )


# A route's `dependencies=TRACKED` counts its successful requests; "function" scope runs the count
# as soon as the route returns, before the response is sent, and lets a route's error skip it.
TRACKED = [Depends(track_learning_session, scope="function")]
