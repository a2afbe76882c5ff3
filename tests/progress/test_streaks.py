"""The streak rule: explicit cases and properties of the pure function, then time zones and freezes."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.accounts.models import User
from companion.progress import service as progress_service
from companion.progress.models import Streak
from companion.progress.streaks import StreakState, apply_activity, arm_freeze, current_as_of
from tests.conftest import SignUp
from tests.progress.helpers import make_premium

MONDAY = date(2026, 3, 2)
days = st.dates(min_value=MONDAY, max_value=MONDAY + timedelta(days=60))


def run(*activity_days: date, state: StreakState | None = None) -> StreakState:
    state = state or StreakState()
    for day in activity_days:
        state = apply_activity(state, day)
    return state


def test_the_rule_day_by_day() -> None:
    first = run(MONDAY)
    assert (first.current, first.longest, first.total_active_days) == (1, 1, 1)
    assert run(MONDAY, MONDAY, MONDAY) == first
    three = run(MONDAY, MONDAY + timedelta(days=1), MONDAY + timedelta(days=2))
    assert (three.current, three.longest, three.total_active_days) == (3, 3, 3)
    broken = run(MONDAY + timedelta(days=4), state=three)
    assert (broken.current, broken.longest, broken.total_active_days) == (1, 3, 4)
    # Clock skew or a move to a zone behind: an earlier day changes nothing.
    assert run(MONDAY, state=three) == three


def test_a_freeze_covers_exactly_one_missed_day() -> None:
    held = StreakState(current=5, longest=7, last_activity_date=MONDAY, total_active_days=9, freeze_held=True)
    saved = apply_activity(held, MONDAY + timedelta(days=2))
    assert (saved.current, saved.freeze_held, saved.total_active_days) == (6, False, 10)
    too_late = apply_activity(held, MONDAY + timedelta(days=3))
    assert (too_late.current, too_late.freeze_held) == (1, True)  # kept: it could not save the streak
    next_day = apply_activity(held, MONDAY + timedelta(days=1))
    assert (next_day.current, next_day.freeze_held) == (6, True)  # not needed, not used


def test_arming_a_freeze_never_revives_a_broken_streak() -> None:
    state = StreakState(current=4, longest=4, last_activity_date=MONDAY, total_active_days=4)
    alive = arm_freeze(state, MONDAY + timedelta(days=1))
    assert alive.current == 4 and alive.freeze_held
    broken = arm_freeze(state, MONDAY + timedelta(days=2))
    assert (
        broken.current == 0 and broken.longest == 4 and current_as_of(broken, MONDAY + timedelta(days=2)) == 0
    )
    restarted = apply_activity(broken, MONDAY + timedelta(days=2))
    assert restarted.current == 1 and restarted.freeze_held  # the freeze stays for a streak worth saving


@given(st.lists(st.tuples(days, st.none() | st.integers(-3, 3)), max_size=60))
def test_invariants_hold_for_any_activity_sequence(events: list[tuple[date, int | None]]) -> None:
    state = StreakState()
    running_max: list[date] = []
    for day, arm_offset in events:
        if arm_offset is not None and not state.freeze_held:
            state = arm_freeze(state, day + timedelta(days=arm_offset))
            assert state.current <= state.longest
        before = state
        state = apply_activity(state, day)
        assert 1 <= state.current <= state.longest
        assert apply_activity(state, day) == state  # a repeat the same day is a no-op
        if before.current > 0 and before.last_activity_date is not None and day <= before.last_activity_date:
            assert state == before  # an earlier day changes nothing
        running_max.append(max(day, running_max[-1]) if running_max else day)
    assert state.total_active_days == len(set(running_max))


@given(st.lists(days, max_size=60))
def test_without_freezes_current_and_longest_are_the_runs_of_consecutive_days(activity: list[date]) -> None:
    state = run(*sorted(activity))
    distinct = sorted(set(activity))
    runs: list[int] = []
    for index, day in enumerate(distinct):
        consecutive = index > 0 and (day - distinct[index - 1]).days == 1
        runs.append(runs[-1] + 1 if consecutive else 1)
    assert state.total_active_days == len(distinct)
    assert state.current == (runs[-1] if runs else 0)
    assert state.longest == max(runs, default=0)


@given(st.integers(1, 50), st.integers(0, 50), days, st.integers(2, 6))
def test_a_held_freeze_saves_a_streak_across_one_missed_day_only(
    current: int, extra: int, last: date, gap: int
) -> None:
    held = StreakState(current, current + extra, last, current + extra, freeze_held=True)
    after = apply_activity(held, last + timedelta(days=gap))
    if gap == 2:
        assert (after.current, after.freeze_held) == (current + 1, False)
    else:
        assert (after.current, after.freeze_held) == (1, True)
    assert after.longest == max(current + extra, after.current)


async def _user(db_session: AsyncSession, tokens: dict[str, Any]) -> User:
    user = await db_session.get(User, uuid.UUID(tokens["user"]["id"]))
    assert user is not None
    return user


async def _streak(db_session: AsyncSession, user: User) -> Streak:
    streak = await db_session.scalar(
        select(Streak).where(Streak.user_id == user.id).execution_options(populate_existing=True)
    )
    assert streak is not None
    return streak


async def _act(db_session: AsyncSession, app: FastAPI, user: User, at: str) -> Streak:
    moment = datetime.fromisoformat(at)
    await progress_service.record_activity(db_session, user=user, at=moment, cache=app.state.cache)
    await db_session.commit()
    return await _streak(db_session, user)


async def test_days_are_counted_in_the_learners_zone_across_midnight_and_dst(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, db_session: AsyncSession
) -> None:
    user = await _user(db_session, await sign_up(timezone="America/New_York"))
    # 23:59 and 00:01 local are two days, though the same UTC day.
    await _act(db_session, app, user, "2026-01-10T04:59:00+00:00")
    streak = await _act(db_session, app, user, "2026-01-10T05:01:00+00:00")
    assert (streak.current_streak, streak.last_activity_date) == (2, date(2026, 1, 10))
    # 23:00 local on the 10th is the same local day, though the UTC date is the 11th.
    streak = await _act(db_session, app, user, "2026-01-11T04:00:00+00:00")
    assert (streak.current_streak, streak.total_active_days) == (2, 2)

    # Spring forward (8 March): late evening on the 7th, then on the 8th, are consecutive days.
    await _act(db_session, app, user, "2026-03-08T04:30:00+00:00")  # 23:30 EST on the 7th
    streak = await _act(db_session, app, user, "2026-03-09T03:30:00+00:00")  # 23:30 EDT on the 8th
    assert (streak.current_streak, streak.last_activity_date) == (2, date(2026, 3, 8))
    # Fall back (1 November): a 25-hour day; 00:10 and 23:50 local, 24h40m apart, are one day.
    await _act(db_session, app, user, "2026-10-31T16:00:00+00:00")  # noon EDT on the 31st
    streak = await _act(db_session, app, user, "2026-11-01T04:10:00+00:00")  # 00:10 EDT on the 1st
    assert (streak.current_streak, streak.last_activity_date) == (2, date(2026, 11, 1))
    streak = await _act(db_session, app, user, "2026-11-02T04:50:00+00:00")  # 23:50 EST on the 1st
    assert (streak.current_streak, streak.total_active_days) == (2, 6)
    streak = await _act(db_session, app, user, "2026-11-02T05:10:00+00:00")  # 00:10 EST on the 2nd
    assert (streak.current_streak, streak.longest_streak) == (3, 3)


async def test_a_time_zone_change_never_corrupts_the_streak(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, db_session: AsyncSession
) -> None:
    tokens = await sign_up(timezone="Asia/Tokyo")
    user = await _user(db_session, tokens)
    streak = await _act(db_session, app, user, "2026-02-01T15:30:00+00:00")  # 00:30 on 2 Feb in Tokyo
    assert streak.last_activity_date == date(2026, 2, 2)
    moved = await client.patch(
        "/api/v1/me", json={"timezone": "America/Los_Angeles"}, headers=tokens["headers"]
    )
    assert moved.status_code == 200
    await db_session.refresh(user)
    # 10:00 on 1 Feb in Los Angeles is a day the learner already left behind: nothing changes.
    streak = await _act(db_session, app, user, "2026-02-01T18:00:00+00:00")
    assert (streak.current_streak, streak.total_active_days, streak.last_activity_date) == (
        1,
        1,
        date(2026, 2, 2),
    )
    assert streak.last_activity_at == datetime(2026, 2, 1, 18, tzinfo=UTC)
    streak = await _act(db_session, app, user, "2026-02-02T20:00:00+00:00")  # noon on 2 Feb in LA
    assert (streak.current_streak, streak.total_active_days) == (1, 1)
    streak = await _act(db_session, app, user, "2026-02-03T20:00:00+00:00")  # noon on 3 Feb in LA
    assert (streak.current_streak, streak.total_active_days) == (2, 2)


async def test_streak_freeze_is_premium_held_once_and_covers_a_missed_day(
    client: httpx.AsyncClient, sign_up: SignUp, app: FastAPI, db_session: AsyncSession
) -> None:
    tokens = await sign_up()
    headers = tokens["headers"]
    refused = await client.post("/api/v1/streak/freeze", headers=headers)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "upgrade_required"
    assert refused.json()["error"]["details"]["required_tier"] == "premium"

    await client.put(
        "/api/v1/progress/genai-fundamentals/01-intro-genai",
        json={"section_id": "01-what-is-genai"},
        headers=headers,
    )
    streak = (await client.get("/api/v1/streak", headers=headers)).json()
    assert (streak["current_streak"], streak["longest_streak"], streak["active_today"]) == (1, 1, True)
    assert streak["timezone"] == "UTC" and streak["freeze_held"] is False

    await make_premium(db_session, tokens)
    armed = await client.post("/api/v1/streak/freeze", headers=headers)
    assert armed.status_code == 200 and armed.json()["freeze_held"] is True
    assert (await client.get("/api/v1/streak", headers=headers)).json()["freeze_held"] is True
    twice = await client.post("/api/v1/streak/freeze", headers=headers)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "conflict"

    # Skip tomorrow, come back the day after: the freeze bridges the gap and is used up.
    user = await _user(db_session, tokens)
    day_after_tomorrow = datetime.now(UTC) + timedelta(days=2)
    await progress_service.record_activity(
        db_session, user=user, at=day_after_tomorrow, cache=app.state.cache
    )
    await db_session.commit()
    streak_row = await _streak(db_session, user)
    assert (streak_row.current_streak, streak_row.streak_frozen) == (2, False)
    assert streak_row.freeze_used_at == day_after_tomorrow
    assert (await client.post("/api/v1/streak/freeze", headers=headers)).status_code == 200
