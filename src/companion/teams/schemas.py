"""Team request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from companion.analytics.schemas import MemberSummary


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[EmailStr, Field(max_length=254)]


class InvitationAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=200)


class MemberRead(BaseModel):
    user_id: uuid.UUID
    email: str
    full_name: str | None
    joined_at: datetime


class InvitationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    created_at: datetime
    expires_at: datetime


class InvitationCreated(InvitationRead):
    """The invitation with its token, shown once: send the invitee the token or the accept URL."""

    token: str
    accept_url: str = Field(description="POST here with {'token'} while signed in as the invited email.")


class TeamRead(BaseModel):
    id: uuid.UUID
    name: str
    seats: int
    seats_taken: int
    members: list[MemberRead]
    pending_invitations: list[InvitationRead]


class MembershipRead(BaseModel):
    team_id: uuid.UUID
    team_name: str


class TeamAnalytics(BaseModel):
    team_id: uuid.UUID
    members: list[MemberSummary]
