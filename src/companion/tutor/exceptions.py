"""Tutor errors: a conversation that is not yours, has expired or never existed; a selection not found."""

from __future__ import annotations

import uuid

from companion.errors import NotFound, ValidationFailed


class ConversationNotFound(NotFound):
    """No conversation of yours with this id (someone else's and expired ones look the same)."""

    def __init__(self, conversation_id: uuid.UUID) -> None:
        super().__init__(
            "No such conversation (conversations expire 24 hours after they start).",
            details={"conversation_id": str(conversation_id)},
        )


class UnknownSelection(ValidationFailed):
    """The selected context names a chapter or section the course does not have."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(
            f"Unknown {field.rsplit('.', 1)[-1]} '{value}' in selected_context.",
            details={"errors": [{"field": field, "message": "unknown value", "type": "unknown"}]},
        )
