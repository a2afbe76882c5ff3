"""Team endpoints: create, invite, accept, remove, leave, and the owner's analytics (JSON or CSV)."""

from __future__ import annotations

import csv
import io
import uuid

from fastapi import APIRouter, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from companion.access import service as access_service
from companion.accounts.policies import AccountOwnerDep, Identity
from companion.analytics import service as analytics_service
from companion.analytics.schemas import MemberSummary
from companion.db import utcnow
from companion.dependencies import SessionDep, SettingsDep
from companion.teams import service as teams_service
from companion.teams.models import Team
from companion.teams.schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    InvitationRead,
    MemberRead,
    MembershipRead,
    TeamAnalytics,
    TeamCreate,
    TeamRead,
)

# Statuses the team services raise past the policy, documented on every team route.
router = APIRouter(
    prefix="/api/v1/teams",
    tags=["teams"],
    responses={
        404: {"description": "not_found: no team of yours, no such invitation or member, or no seat held."},
        409: {"description": "conflict: already in a team, no free seat, or the invitation is not for you."},
    },
)


async def _read(session: AsyncSession, team: Team) -> TeamRead:
    seated = await teams_service.members(session, team=team)
    pending = await teams_service.pending_invitations(session, team=team, now=utcnow())
    return TeamRead(
        id=team.id,
        name=team.name,
        seats=await teams_service.seats(session, team=team),
        seats_taken=len(seated) + len(pending),
        members=[
            MemberRead(
                user_id=user.id, email=user.email, full_name=user.full_name, joined_at=member.joined_at
            )
            for member, user in seated
        ],
        pending_invitations=[InvitationRead.model_validate(invitation) for invitation in pending],
    )


@router.post("", response_model=TeamRead, status_code=status.HTTP_201_CREATED)
async def create_team(data: TeamCreate, owner: AccountOwnerDep, session: SessionDep) -> TeamRead:
    """Create your organisation (team plan); its seats are those your plan pays for."""
    return await _read(session, await teams_service.create_team(session, owner=owner.user, name=data.name))


@router.get("/mine", response_model=TeamRead)
async def read_team(owner: AccountOwnerDep, session: SessionDep) -> TeamRead:
    """Your team: seats, members and pending invitations."""
    return await _read(session, await teams_service.get_owned_team(session, owner=owner.user))


@router.post("/mine/invitations", response_model=InvitationCreated, status_code=status.HTTP_201_CREATED)
async def invite(
    data: InvitationCreate, owner: AccountOwnerDep, session: SessionDep, settings: SettingsDep
) -> InvitationCreated:
    """Invite an email address into a free seat; the token is shown once (no email is sent)."""
    team = await teams_service.get_owned_team(session, owner=owner.user)
    invitation, token = await teams_service.invite(
        session, team=team, email=str(data.email), valid_days=settings.team_invitation_days
    )
    return InvitationCreated(
        **InvitationRead.model_validate(invitation).model_dump(),
        token=token,
        accept_url=f"{settings.public_base_url.rstrip('/')}/api/v1/teams/invitations/accept",
    )


@router.delete("/mine/invitations/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_invitation(
    invitation_id: uuid.UUID, owner: AccountOwnerDep, session: SessionDep
) -> Response:
    """Withdraw a pending invitation, freeing its seat."""
    team = await teams_service.get_owned_team(session, owner=owner.user)
    await teams_service.revoke_invitation(session, team=team, invitation_id=invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/mine/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_member(user_id: uuid.UUID, owner: AccountOwnerDep, session: SessionDep) -> Response:
    """Remove a member: the seat is free again and the member drops to the free plan."""
    team = await teams_service.get_owned_team(session, owner=owner.user)
    await teams_service.remove_member(session, team=team, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/invitations/accept", response_model=MembershipRead)
async def accept_invitation(
    data: InvitationAccept, member: AccountOwnerDep, session: SessionDep
) -> MembershipRead:
    """Take the seat you were invited to (signed in with the invited email address)."""
    team = await teams_service.accept(session, user=member.user, token=data.token)
    return MembershipRead(team_id=team.id, team_name=team.name)


@router.delete("/membership", status_code=status.HTTP_204_NO_CONTENT)
async def leave_team(member: AccountOwnerDep, session: SessionDep) -> Response:
    """Give up your seat in a team (you drop to the free plan)."""
    await teams_service.leave(session, user=member.user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _summaries(session: AsyncSession, owner: Identity) -> tuple[Team, list[MemberSummary]]:
    access_service.check_feature(owner.user, "team_analytics").enforce()
    team = await teams_service.get_owned_team(session, owner=owner.user)
    seated = await teams_service.members(session, team=team)
    summaries = await analytics_service.member_summaries(
        session, members=[(member_user, member.joined_at) for member, member_user in seated]
    )
    return team, summaries


@router.get("/mine/analytics", response_model=TeamAnalytics)
async def team_analytics(owner: AccountOwnerDep, session: SessionDep) -> TeamAnalytics:
    """Each member's progress, quiz results and activity."""
    team, summaries = await _summaries(session, owner)
    return TeamAnalytics(team_id=team.id, members=summaries)


@router.get("/mine/analytics.csv", response_class=Response)
async def team_analytics_csv(owner: AccountOwnerDep, session: SessionDep) -> Response:
    """The same figures as CSV, one row per member."""
    team, summaries = await _summaries(session, owner)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(MemberSummary.model_fields))
    writer.writeheader()
    for summary in summaries:
        writer.writerow(summary.model_dump(mode="json"))
    filename = f"team-{team.id}-analytics.csv"
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
