"""OAuth tables: registered clients, authorization codes and grants (codes and tokens stored hashed)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from companion.db import Base, UUIDPrimaryKey, utcnow


class OAuthClient(Base):
    """An assistant registered through dynamic client registration (RFC 7591)."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_name: Mapped[str | None] = mapped_column(String(255))
    # Kept as issued: the SDK's client authenticator compares it in plain text. On its own it
    # grants nothing, since codes are bound to a PKCE verifier and tokens are stored hashed.
    client_secret: Mapped[str | None] = mapped_column(String(128))
    # The registered metadata (redirect URIs, grant types, scope...) without the secret.
    registration: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OAuthAuthorizationCode(UUIDPrimaryKey, Base):
    """A single-use authorization code a learner granted on the consent page."""

    __tablename__ = "oauth_authorization_codes"
    __table_args__ = (
        Index("ix_oauth_authorization_codes_user_id", "user_id"),
        Index("ix_oauth_authorization_codes_client_id", "client_id"),
    )

    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("oauth_clients.client_id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    code_challenge: Mapped[str] = mapped_column(String(128))
    redirect_uri: Mapped[str] = mapped_column(Text)
    redirect_uri_provided_explicitly: Mapped[bool] = mapped_column(Boolean)
    resource: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class OAuthGrant(UUIDPrimaryKey, Base):
    """An access token and its refresh token, issued together and revoked together.

    Refreshing revokes the grant and issues a new one in the same family; presenting a
    refresh token that was already rotated revokes the whole family (it has leaked).
    """

    __tablename__ = "oauth_grants"
    __table_args__ = (
        Index("ix_oauth_grants_user_id", "user_id"),
        Index("ix_oauth_grants_client_id", "client_id"),
        Index("ix_oauth_grants_family_id", "family_id"),
    )

    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("oauth_clients.client_id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    resource: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    access_expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
