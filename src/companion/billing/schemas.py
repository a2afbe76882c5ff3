"""Billing request and response bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from companion.access.tiers import Tier
from companion.billing.service import MAX_SEATS


class SubscriptionRead(BaseModel):
    """A learner's subscription: the tier held, the tier usable now, and when it ends."""

    model_config = ConfigDict(from_attributes=True)

    tier: Tier
    effective_tier: Tier
    status: Literal["active", "expired", "canceled"]
    started_at: datetime
    expires_at: datetime | None
    auto_renew: bool
    canceled_at: datetime | None
    payment_provider: str | None
    seats: int | None
    payment_failed_at: datetime | None


class CheckoutRequest(BaseModel):
    """The paid tier to buy; a team plan also names its seats."""

    model_config = ConfigDict(extra="forbid")

    tier: Tier = Field(description="A paid tier above the current one.")
    seats: int | None = Field(default=None, ge=1, le=MAX_SEATS)


class CheckoutSession(BaseModel):
    """Where to send the learner to pay."""

    session_id: str
    checkout_url: str


class SubscriptionUpdate(BaseModel):
    """An administrator's change of plan."""

    model_config = ConfigDict(extra="forbid")

    tier: Tier
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the plan ends (in the future); none = until changed."
    )
    seats: int | None = Field(default=None, ge=1, le=MAX_SEATS)

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value


class WebhookReceipt(BaseModel):
    """What became of a delivered event."""

    received: bool = True
    outcome: Literal["applied", "stale", "ignored", "duplicate"]
