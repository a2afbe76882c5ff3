"""Account request and response bodies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from companion.access.tiers import Tier
from companion.accounts.scopes import Scope

SoftwareLevel = Literal["beginner", "intermediate", "advanced"]
HardwareLevel = Literal["none", "hobbyist", "professional"]
Role = Literal["learner", "admin"]

_TIMEZONES = available_timezones()


def _valid_timezone(value: str) -> str:
    if value not in _TIMEZONES:
        raise ValueError("must be an IANA time zone such as 'Europe/Berlin' or 'UTC'")
    try:
        ZoneInfo(value)
    except ZoneInfoNotFoundError as error:
        raise ValueError("must be an IANA time zone such as 'Europe/Berlin' or 'UTC'") from error
    return value


class Preferences(BaseModel):
    """A learner's preferences; unknown keys are kept for later features."""

    model_config = ConfigDict(extra="allow")

    explanation_level: SoftwareLevel = "beginner"
    notifications: bool = True
    language: str = Field(default="en", min_length=2, max_length=20)


class UserCreate(BaseModel):
    """Sign-up: credentials plus the background questions."""

    email: EmailStr
    password: str = Field(min_length=8, max_length=256)
    full_name: str | None = Field(default=None, max_length=255)
    timezone: str = "UTC"
    software_experience: SoftwareLevel
    hardware_experience: HardwareLevel
    preferences: Preferences = Field(default_factory=Preferences)

    _check_timezone = field_validator("timezone")(_valid_timezone)


class UserUpdate(BaseModel):
    """Profile changes; every field optional."""

    model_config = ConfigDict(extra="forbid")

    full_name: str | None = Field(default=None, max_length=255)
    timezone: str | None = None
    software_experience: SoftwareLevel | None = None
    hardware_experience: HardwareLevel | None = None
    preferences: Preferences | None = None

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        return None if value is None else _valid_timezone(value)


class UserRead(BaseModel):
    """A user as the user (or an admin) sees it: never the password hash."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    full_name: str | None
    timezone: str
    preferences: dict[str, Any]
    software_experience: SoftwareLevel
    hardware_experience: HardwareLevel
    role: Role
    subscription_tier: Tier
    subscription_expires_at: datetime | None
    email_verified: bool
    created_at: datetime
    last_login_at: datetime | None


class LoginRequest(BaseModel):
    """Email and password."""

    email: EmailStr
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(BaseModel):
    """A refresh token to rotate or revoke."""

    refresh_token: str = Field(min_length=10, max_length=200)


class TokenPair(BaseModel):
    """A fresh access token and its rotating refresh token."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserRead


class PasswordChange(BaseModel):
    """The current password and the new one."""

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class ApiKeyCreate(BaseModel):
    """A label for a new API key and its scopes (by default, those of the credential creating it)."""

    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] | None = Field(
        default=None,
        min_length=1,
        description="At most the scopes of the credential creating the key; all of them when omitted.",
    )


class ApiKeyRead(BaseModel):
    """An API key's metadata; the secret itself is shown once, at creation."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    """A new API key including its secret, returned only once."""

    key: str
