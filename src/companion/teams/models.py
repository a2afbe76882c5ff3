"""Team tables: the organisation, its seated members and pending invitations."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, UUIDPrimaryKey, utcnow


class Team(UUIDPrimaryKey, Base):
    """An organisation owned by one team-tier subscriber; its seats come from that subscription."""

    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamMember(UUIDPrimaryKey, Base):
    """A learner holding one of a team's seats (a learner belongs to at most one team)."""

    __tablename__ = "team_members"
    __table_args__ = (Index("ix_team_members_team_id", "team_id"),)

    team_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class TeamInvitation(UUIDPrimaryKey, Base):
    """An invitation to one email address; only the hash of its token is stored."""

    __tablename__ = "team_invitations"
    __table_args__ = (Index("ix_team_invitations_team_id", "team_id"),)

    team_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("teams.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(255))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
