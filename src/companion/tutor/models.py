"""Tutor chat tables: conversations (24-hour retention) and their messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, UUIDPrimaryKey, sql_in, utcnow


class ChatConversation(UUIDPrimaryKey, Base):
    """A tutor conversation; invisible once expired and purged by the hourly job."""

    __tablename__ = "chat_conversations"
    __table_args__ = (
        Index("ix_chat_conversations_user_id", "user_id"),
        Index("ix_chat_conversations_expires_at", "expires_at"),
        Index("ix_chat_conversations_created_at", "created_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_message_at: Mapped[datetime | None]
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class ChatMessage(UUIDPrimaryKey, Base):
    """One message of a conversation, numbered in order; assistant messages carry their sources."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        CheckConstraint(sql_in("role", ("user", "assistant")), name="role"),
        UniqueConstraint("conversation_id", "sequence_number", name="uq_chat_messages_conversation_sequence"),
        Index("ix_chat_messages_created_at", "created_at"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chat_conversations.id", ondelete="CASCADE")
    )
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    selected_text: Mapped[str | None] = mapped_column(Text)
    selected_context: Mapped[dict[str, Any] | None]
    sources: Mapped[list[Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sequence_number: Mapped[int] = mapped_column(Integer)
