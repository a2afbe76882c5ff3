"""The daily streak rule as pure functions over local dates: no database, no clock, no time zones.

Rules: one learning action per local day counts; the next local day extends the streak; a missed
day resets it to 1 unless a freeze is held, which covers exactly one missed day and is consumed.
A freeze never revives a streak that was already broken, and is kept when it cannot save one
(two or more missed days). Dates earlier than the last active day (clock skew, a move to a zone
behind the old one) change nothing, so the state can never be corrupted by them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class StreakState:
    """A learner's streak; `current` is 0 only before the first activity or after a broken streak."""

    current: int = 0
    longest: int = 0
    last_activity_date: date | None = None
    total_active_days: int = 0
    freeze_held: bool = False


def local_date(at: datetime, timezone: str) -> date:
    """The calendar day `at` falls on in the learner's IANA zone (UTC if the zone is unknown)."""
    try:
        zone: tzinfo = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    if at.tzinfo is None:
        raise ValueError("activity times must be timezone-aware")
    return at.astimezone(zone).date()


def apply_activity(state: StreakState, day: date) -> StreakState:
    """The streak after a learning action on local day `day`."""
    last = state.last_activity_date
    if last is not None and day <= last:
        if state.current > 0:
            return state  # the same day counts once; an earlier day is clock skew, not news
        # A settled (broken) streak restarts, but a day already counted is not counted again.
        return replace(state, current=1, longest=max(state.longest, 1))
    freeze_held = state.freeze_held
    gap = None if last is None else (day - last).days
    if state.current == 0 or gap is None:
        current = 1
    elif gap == 1:
        current = state.current + 1
    elif gap == 2 and freeze_held:
        current = state.current + 1
        freeze_held = False
    else:
        current = 1
    return StreakState(
        current=current,
        longest=max(state.longest, current),
        last_activity_date=day,
        total_active_days=state.total_active_days + 1,
        freeze_held=freeze_held,
    )


def is_alive(state: StreakState, today: date) -> bool:
    """Whether the streak can still be extended today (nothing missed that a freeze cannot cover)."""
    last = state.last_activity_date
    if state.current == 0 or last is None:
        return False
    days_since = (today - last).days
    return days_since <= 1 or (days_since == 2 and state.freeze_held)


def current_as_of(state: StreakState, today: date) -> int:
    """The streak to show today: the stored one while alive, 0 once it is broken."""
    return state.current if is_alive(state, today) else 0


def arm_freeze(state: StreakState, today: date) -> StreakState:
    """Hold a freeze from today on; an already broken streak is settled at 0 so it is not revived."""
    settled = state if is_alive(state, today) else replace(state, current=0)
    return replace(settled, freeze_held=True)
