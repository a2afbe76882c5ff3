"""The plans page and buying a plan from it through Stripe Checkout (when payments are configured)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from companion.access import service as access_service
from companion.access.tiers import TIERS, tier_includes
from companion.accounts.policies import Identity
from companion.billing import payments
from companion.billing.dependencies import StripeGatewayDep
from companion.billing.schemas import CheckoutRequest
from companion.billing.service import TIER_ORDER
from companion.config import Settings
from companion.content.dependencies import CatalogDep
from companion.content.service import ContentCatalog
from companion.dependencies import SessionDep, SettingsDep
from companion.errors import CompanionError
from companion.web.dependencies import AccountOwner, CsrfProtected, Visitor
from companion.web.templating import render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


def _plans(catalog: ContentCatalog, *, current: str, buyable: set[str]) -> list[dict[str, Any]]:
    """Each tier with the chapters and features it opens, and whether this learner can buy it here."""
    plans = []
    for tier in TIERS:
        chapters = [
            (
                pack.course.title,
                sum(1 for c in pack.chapters if tier_includes(tier, c.access_tier)),
                len(pack.chapters),
            )
            for pack in catalog.packs()
        ]
        features = [
            name for name, needed in access_service.FEATURE_TIERS.items() if tier_includes(tier, needed)
        ]
        plans.append(
            {
                "tier": tier,
                "name": access_service.TIER_NAMES[tier],
                "chapters": chapters,
                "features": features,
                "buyable": tier in buyable and TIER_ORDER[tier] > TIER_ORDER[current],
            }
        )
    return plans


def _buyable_tiers(settings: Settings, gateway: object | None) -> set[str]:
    """The paid tiers with a Stripe price on this server (none when payments are off)."""
    if gateway is None:
        return set()
    return {tier for tier in TIERS if settings.stripe_price(tier)}


def _page(
    request: Request,
    identity: Identity | None,
    catalog: ContentCatalog,
    settings: Settings,
    gateway: object | None,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    current = access_service.tier_of(identity.user if identity else None)
    buyable = _buyable_tiers(settings, gateway)
    context = {
        "plans": _plans(catalog, current=current, buyable=buyable),
        "current": current,
        "payments": bool(buyable),
        "notice": notice,
        "error": error,
    }
    return render(request, "upgrade.html", context, identity=identity, status_code=status_code)


@router.get("/upgrade")
async def upgrade_page(
    request: Request,
    visitor: Visitor,
    catalog: CatalogDep,
    settings: SettingsDep,
    gateway: StripeGatewayDep,
    checkout: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    """The plans and what each opens: chapters per course and the features of each tier."""
    notice = "Checkout was cancelled; nothing was charged." if checkout == "canceled" else None
    return _page(request, visitor, catalog, settings, gateway, notice=notice)


@router.post("/upgrade/checkout", dependencies=[CsrfProtected])
async def start_checkout(
    request: Request,
    learner: AccountOwner,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    gateway: StripeGatewayDep,
    tier: Annotated[str, Form(max_length=20)] = "",
    seats: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Send the learner to Stripe Checkout for a higher plan; problems are shown on the plans page."""
    try:
        data = CheckoutRequest.model_validate(
            {"tier": tier, "seats": int(seats) if seats.strip().isdigit() else None}
        )
        created = await payments.start_checkout(
            session, user=learner.user, tier=data.tier, seats=data.seats, gateway=gateway, settings=settings
        )
    except ValidationError as problem:
        message = "; ".join(str(item["msg"]) for item in problem.errors())
        return _page(request, learner, catalog, settings, gateway, error=message, status_code=422)
    except CompanionError as problem:
        return _page(
            request,
            learner,
            catalog,
            settings,
            gateway,
            error=problem.message,
            status_code=problem.status_code,
        )
    return RedirectResponse(created.checkout_url, status_code=303)
