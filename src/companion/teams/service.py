"""Teams: created by a team-tier subscriber, who invites learners by email into the plan's seats.

A seat gives team access through the billing service (the member's subscription follows the
owner's); removing a member frees the seat and drops the member to free.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from companion.access import service as access_service
from companion.accounts import security
from companion.accounts import service as accounts_service
from companion.accounts.models import User
from companion.billing import seats as billing_seats
from companion.billing import service as billing_service
from companion.errors import Conflict, Forbidden, NotFound
from companion.teams.models import Team, TeamInvitation, TeamMember

INVITATION_PREFIX = "cti_"


async def _membership(session: AsyncSession, user_id: uuid.UUID) -> TeamMember | None:
    return await session.scalar(select(TeamMember).where(TeamMember.user_id == user_id))


async def create_team(session: AsyncSession, *, owner: User, name: str) -> Team:
    """Create the owner's organisation; the owner must hold the team plan."""
    access_service.check_feature(owner, "teams").enforce()
    if await session.scalar(select(Team.id).where(Team.owner_id == owner.id)) is not None:
        raise Conflict("You already have a team.")
    if await _membership(session, owner.id) is not None:
        raise Conflict("You hold a seat in another team; leave it before creating your own.")
    team = Team(name=name, owner_id=owner.id)
    session.add(team)
    await session.flush()
    return team


async def get_owned_team(session: AsyncSession, *, owner: User) -> Team:
    """The team the user owns, or 404."""
    team = await session.scalar(select(Team).where(Team.owner_id == owner.id))
    if team is None:
        raise NotFound("You have no team; create one first (team plan).")
    return team


async def seats(session: AsyncSession, *, team: Team) -> int:
    """How many seats the owner's plan pays for (none once it is no longer a team plan)."""
    owner = await billing_service.get_user(session, team.owner_id)
    subscription = await billing_service.get_subscription(session, user=owner)
    in_force = billing_service.effective_tier(owner) == "team" and subscription.tier == "team"
    return (subscription.seats or 0) if in_force else 0


async def members(session: AsyncSession, *, team: Team) -> list[tuple[TeamMember, User]]:
    """The team's seated members with their accounts, earliest first."""
    rows = await session.execute(
        select(TeamMember, User)
        .join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id == team.id)
        .order_by(TeamMember.joined_at)
    )
    return [(member, user) for member, user in rows.all()]


async def pending_invitations(session: AsyncSession, *, team: Team, now: datetime) -> list[TeamInvitation]:
    """Invitations neither accepted, revoked nor expired."""
    return list(
        await session.scalars(
            select(TeamInvitation)
            .where(
                TeamInvitation.team_id == team.id,
                TeamInvitation.accepted_at.is_(None),
                TeamInvitation.revoked_at.is_(None),
                TeamInvitation.expires_at > now,
            )
            .order_by(TeamInvitation.created_at)
        )
    )


async def _seats_taken(session: AsyncSession, *, team: Team, now: datetime) -> int:
    seated = await session.scalar(select(func.count()).where(TeamMember.team_id == team.id))
    return int(seated or 0) + len(await pending_invitations(session, team=team, now=now))


async def invite(
    session: AsyncSession, *, team: Team, email: str, valid_days: int, now: datetime | None = None
) -> tuple[TeamInvitation, str]:
    """Invite an email address into a free seat; returns the invitation and its token (shown once)."""
    now = now or datetime.now(UTC)
    email = accounts_service.normalize_email(email)
    available = await seats(session, team=team)
    if available == 0:
        raise Conflict("The team plan is not in force; renew it to invite members.")
    if await _seats_taken(session, team=team, now=now) >= available:
        raise Conflict(
            f"All {available} seats are taken or promised; remove a member or revoke an invitation first.",
            details={"seats": available},
        )
    for invitation in await pending_invitations(session, team=team, now=now):
        if invitation.email == email:
            raise Conflict(f"{email} already has a pending invitation.")
    for _, user in await members(session, team=team):
        if user.email == email:
            raise Conflict(f"{email} is already a member.")
    token = security.new_secret(INVITATION_PREFIX)
    invitation = TeamInvitation(
        team_id=team.id,
        email=email,
        token_hash=security.hash_secret(token),
        created_at=now,
        expires_at=now + timedelta(days=valid_days),
    )
    session.add(invitation)
    await session.flush()
    return invitation, token


async def revoke_invitation(session: AsyncSession, *, team: Team, invitation_id: uuid.UUID) -> None:
    """Withdraw a pending invitation; its seat is free again."""
    invitation = await session.get(TeamInvitation, invitation_id)
    if invitation is None or invitation.team_id != team.id or invitation.accepted_at is not None:
        raise NotFound("No such pending invitation.")
    invitation.revoked_at = invitation.revoked_at or datetime.now(UTC)
    await session.flush()


async def accept(session: AsyncSession, *, user: User, token: str, now: datetime | None = None) -> Team:
    """Take the invitation's seat; the signed-in account must have the invited email address."""
    now = now or datetime.now(UTC)
    invitation = await session.scalar(
        select(TeamInvitation).where(TeamInvitation.token_hash == security.hash_secret(token))
    )
    if invitation is None or invitation.revoked_at is not None or invitation.accepted_at is not None:
        raise NotFound("This invitation does not exist or has already been used or withdrawn.")
    if invitation.expires_at <= now:
        raise NotFound("This invitation has expired; ask the team's owner for a new one.")
    if user.email != invitation.email:
        raise Forbidden("This invitation was sent to another email address; sign in with that account.")
    if await _membership(session, user.id) is not None:
        raise Conflict("You already hold a seat in a team; leave it first.")
    if await session.scalar(select(Team.id).where(Team.owner_id == user.id)) is not None:
        raise Conflict("You own a team; an owner cannot take a seat in another.")
    team = await session.get(Team, invitation.team_id)
    assert team is not None
    seated = await session.scalar(select(func.count()).where(TeamMember.team_id == team.id))
    if int(seated or 0) >= await seats(session, team=team):
        raise Conflict("The team has no free seat; ask its owner.")
    owner = await billing_service.get_user(session, team.owner_id)
    await billing_seats.grant_seat(session, member=user, owner=owner, now=now)
    session.add(TeamMember(team_id=team.id, user_id=user.id, joined_at=now))
    invitation.accepted_at = now
    await session.flush()
    return team


async def remove_member(session: AsyncSession, *, team: Team, user_id: uuid.UUID) -> None:
    """Free a member's seat: the member drops to free."""
    member = await _membership(session, user_id)
    if member is None or member.team_id != team.id:
        raise NotFound("No such member in your team.")
    await session.execute(delete(TeamMember).where(TeamMember.id == member.id))
    await billing_seats.release_seat(session, member=await billing_service.get_user(session, user_id))
    await session.flush()


async def leave(session: AsyncSession, *, user: User) -> None:
    """Give up one's own seat."""
    member = await _membership(session, user.id)
    if member is None:
        raise NotFound("You do not hold a seat in any team.")
    await session.execute(delete(TeamMember).where(TeamMember.id == member.id))
    await billing_seats.release_seat(session, member=user)
    await session.flush()
