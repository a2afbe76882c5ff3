"""The scopes a credential can carry: the one list for the API, API keys, OAuth and the MCP tools."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """What a credential allows; a password sign-in holds every scope."""

    CONTENT_READ = "content:read"
    PROGRESS_WRITE = "progress:write"


CONTENT_READ = Scope.CONTENT_READ
PROGRESS_WRITE = Scope.PROGRESS_WRITE
# As plain strings, in a stable order, for protocol metadata and token claims.
ALL_SCOPES: tuple[str, ...] = tuple(scope.value for scope in Scope)

# What the learner is told on the OAuth consent page, per scope.
SCOPE_DESCRIPTIONS: dict[str, str] = {
    CONTENT_READ: (
        "Read the course chapters and quizzes your plan includes, and see your plan, progress and streak."
    ),
    PROGRESS_WRITE: "Record your reading progress, quiz attempts, tutor questions and streak.",
}
