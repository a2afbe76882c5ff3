"""Caches of LLM-generated chapter content: personalised per learner, translations shared."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, UUIDPrimaryKey, utcnow


class PersonalizedContentCache(UUIDPrimaryKey, Base):
    """A chapter rewritten for one learner's background; 30-day expiry, invalidated on change."""

    __tablename__ = "personalized_content_cache"
    __table_args__ = (
        UniqueConstraint(
            "user_id",
            "course_id",
            "chapter_id",
            "software_experience",
            "hardware_experience",
            name="uq_personalized_content_cache_lookup",
        ),
        Index("ix_personalized_content_cache_expires_at", "expires_at"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[str] = mapped_column(String(100))
    chapter_id: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(80))
    original_content: Mapped[str] = mapped_column(Text)
    personalized_content: Mapped[str] = mapped_column(Text)
    software_experience: Mapped[str] = mapped_column(String(20))
    hardware_experience: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    access_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_accessed_at: Mapped[datetime] = mapped_column(default=utcnow)


class TranslationCache(UUIDPrimaryKey, Base):
    """A chapter translated into one language, shared by every learner, keyed by content hash."""

    __tablename__ = "translation_cache"
    __table_args__ = (
        UniqueConstraint(
            "course_id", "chapter_id", "language", "content_hash", name="uq_translation_cache_lookup"
        ),
    )

    course_id: Mapped[str] = mapped_column(String(100))
    chapter_id: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(20))
    content_hash: Mapped[str] = mapped_column(String(80))
    translated_content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    access_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_accessed_at: Mapped[datetime] = mapped_column(default=utcnow)
