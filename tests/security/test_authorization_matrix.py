"""The authorization matrix, generated from the app's route table: every route by every kind of caller.

The expected answer of each cell is derived from the policy the route declares in its signature
(`companion.accounts.policies`): 401 for an anonymous caller where a sign-in is required, 403
`forbidden` for a credential of the wrong kind or without the scope, 404 for another learner's
resource, 403 `upgrade_required` below the tier of a premium chapter, quiz or feature, and the
route's own success status otherwise. A route that declares no policy, or that has no sample request
below, fails the suite with its path named.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from companion.accounts.policies import (
    ACCOUNT_OWNER,
    ADMIN,
    OPTIONAL_READER,
    PROGRESS_WRITER,
    PUBLIC,
    READER,
    Policy,
    declared_policies,
)
from companion.accounts.scopes import CONTENT_READ
from companion.app import create_app
from companion.config import Settings
from companion.oauth import service as oauth_service
from companion.oauth.router import CSRF_COOKIE
from companion.web.dependencies import WEB_POLICIES
from tests.progress.helpers import quiz, right_answers
from tests.security.world import (
    COURSE,
    PASSWORD,
    Caller,
    World,
    authorization_params,
    build_world,
    use_cheap_hashing,
)

PREMIUM_CHAPTER = "04-rag"
PREMIUM_QUIZ = "04-quiz"
FREE_QUIZ = "01-quiz"
TIERS = ("free", "premium", "pro", "team")
LLM_UNAVAILABLE = (503, "llm_unavailable")
# Path parameters that name a resource of the caller's own: another learner gets 404.
OWNED_PARAMETERS = ("attempt_id", "conversation_id", "learning_session_id", "key_id")

# Routes that are not FastAPI routes answer by their own protocol, outside the policy table.
PROTOCOL_ROUTES = {
    "/openapi.json": "the API description, public",
    "/docs": "interactive documentation, public",
    "/docs/assets": "interactive documentation's packaged Swagger UI files, public",
    "/mcp": "MCP: bearer tokens checked per tool (tests/mcp)",
    "/.well-known/oauth-protected-resource": "OAuth metadata (RFC 9728), public",
    "/.well-known/oauth-protected-resource/mcp": "OAuth metadata (RFC 9728), public",
    "/.well-known/oauth-authorization-server": "OAuth metadata (RFC 8414), public",
    "/.well-known/oauth-authorization-server/oauth": "OAuth metadata (RFC 8414), public",
    "/oauth/authorize": "OAuth authorization endpoint (tests/oauth)",
    "/oauth/token": "OAuth token endpoint: client authentication and PKCE (tests/oauth)",
    "/oauth/register": "OAuth dynamic client registration (tests/oauth)",
    "/oauth/revoke": "OAuth revocation: the token is the credential (tests/oauth)",
    "/static": "the web textbook's scripts, styles and icon, public",
}


@dataclass(frozen=True)
class Cell:
    """One cell of the matrix: the app, the world of callers, and the caller of this cell."""

    app: FastAPI
    world: World
    caller: Caller


Build = Callable[[Cell], Any]


@dataclass(frozen=True)
class Sample:
    """A route's policy as the suite expects it, how to call it, and what else decides its answer."""

    policy: Policy

    query: Build | None = None
    json: Build | None = None
    form: Build | None = None
    headers: Build | None = None
    # The lowest tier that gets through (a premium chapter, quiz or feature); below it, upgrade_required.
    gated_tier: str | None = None
    status: int | None = None  # the success status when the route does not declare one
    # What an allowed caller gets when the route cannot complete in this world, past every policy and
    # gate: no LLM provider is configured here (503 llm_unavailable); the world's attempts are started,
    # not submitted (409 conflict).
    outcome: tuple[int, str] | None = None
    path: dict[str, str] = field(default_factory=dict)


def _consent_request(cell: Cell) -> dict[str, str]:
    params = authorization_params(cell.app, [CONTENT_READ])
    token = oauth_service.sign_authorization_request(
        client_id=cell.world.oauth_client_id, params=params, settings=cell.app.state.settings
    )
    return {"request": token}


def _consent_form(cell: Cell) -> dict[str, str]:
    return {**_consent_request(cell), "csrf_token": "matrix-csrf", "decision": "deny"}


SAMPLES: dict[tuple[str, str], Sample] = {
    ("GET", "/healthz"): Sample(PUBLIC),
    ("GET", "/readyz"): Sample(PUBLIC),
    ("GET", "/api/v1/courses"): Sample(PUBLIC),
    ("GET", "/api/v1/courses/{course_id}"): Sample(OPTIONAL_READER),
    ("GET", "/api/v1/courses/{course_id}/chapters/{chapter_id}"): Sample(
        OPTIONAL_READER, gated_tier="premium"
    ),
    ("GET", "/api/v1/courses/{course_id}/chapters/{chapter_id}/sections/{section_id}"): Sample(
        OPTIONAL_READER, gated_tier="premium"
    ),
    ("GET", "/api/v1/courses/{course_id}/chapters/{chapter_id}/{direction}"): Sample(OPTIONAL_READER),
    ("GET", "/api/v1/courses/{course_id}/chapters/{chapter_id}/sections/{section_id}/{direction}"): Sample(
        OPTIONAL_READER
    ),
    ("GET", "/api/v1/courses/{course_id}/quizzes/{quiz_id}"): Sample(OPTIONAL_READER, gated_tier="premium"),
    ("GET", "/api/v1/access/check"): Sample(
        OPTIONAL_READER, query=lambda _cell: {"course_id": COURSE, "chapter_id": PREMIUM_CHAPTER}
    ),
    ("GET", "/api/v1/search"): Sample(OPTIONAL_READER, query=lambda _cell: {"q": "retrieval augmented"}),
    ("POST", "/api/v1/auth/register"): Sample(
        PUBLIC,
        json=lambda cell: {
            "email": f"new-{cell.caller.name.replace('_', '-')}@example.com",
            "password": PASSWORD,
            "software_experience": "beginner",
            "hardware_experience": "none",
        },
    ),
    ("POST", "/api/v1/auth/login"): Sample(
        PUBLIC, json=lambda cell: {"email": cell.caller.email, "password": PASSWORD}
    ),
    ("POST", "/api/v1/auth/refresh"): Sample(
        PUBLIC, json=lambda cell: {"refresh_token": cell.caller.refresh_token}
    ),
    ("POST", "/api/v1/auth/logout"): Sample(
        PUBLIC, json=lambda cell: {"refresh_token": cell.caller.refresh_token}
    ),
    ("GET", "/api/v1/me"): Sample(READER),
    ("PATCH", "/api/v1/me"): Sample(ACCOUNT_OWNER, json=lambda _cell: {"full_name": "Renamed"}),
    ("DELETE", "/api/v1/me"): Sample(ACCOUNT_OWNER),
    ("GET", "/api/v1/me/export"): Sample(ACCOUNT_OWNER),
    ("POST", "/api/v1/me/password"): Sample(
        ACCOUNT_OWNER,
        json=lambda _cell: {
            "current_password": PASSWORD,
            "new_password": "another horse battery",
        },
    ),
    ("GET", "/api/v1/me/api-keys"): Sample(ACCOUNT_OWNER),
    ("POST", "/api/v1/me/api-keys"): Sample(ACCOUNT_OWNER, json=lambda _cell: {"name": "matrix"}),
    ("DELETE", "/api/v1/me/api-keys/{key_id}"): Sample(ACCOUNT_OWNER),
    ("GET", "/api/v1/progress"): Sample(READER),
    ("GET", "/api/v1/progress/{course_id}"): Sample(READER),
    ("PUT", "/api/v1/progress/{course_id}/{chapter_id}"): Sample(
        PROGRESS_WRITER, json=lambda _cell: {"time_spent_seconds": 60}, gated_tier="premium"
    ),
    ("GET", "/api/v1/streak"): Sample(READER),
    ("POST", "/api/v1/streak/freeze"): Sample(PROGRESS_WRITER, gated_tier="premium"),
    ("POST", "/api/v1/sessions"): Sample(PROGRESS_WRITER, json=lambda _cell: {"interface": "api"}),
    ("PATCH", "/api/v1/sessions/{learning_session_id}"): Sample(PROGRESS_WRITER),
    ("POST", "/api/v1/courses/{course_id}/quizzes/{quiz_id}/attempts"): Sample(
        PROGRESS_WRITER, gated_tier="premium"
    ),
    ("POST", "/api/v1/quiz-attempts/{attempt_id}/submit"): Sample(
        PROGRESS_WRITER, json=lambda cell: {"answers": right_answers(quiz(cell.app, FREE_QUIZ))}
    ),
    ("POST", "/api/v1/courses/{course_id}/quizzes/{quiz_id}/submit"): Sample(
        PROGRESS_WRITER,
        json=lambda cell: {"answers": right_answers(quiz(cell.app, PREMIUM_QUIZ))},
        gated_tier="premium",
    ),
    ("GET", "/api/v1/courses/{course_id}/quizzes/{quiz_id}/attempts"): Sample(READER),
    ("GET", "/api/v1/quiz-attempts/{attempt_id}"): Sample(READER),
    ("GET", "/api/v1/learning-path"): Sample(READER, query=lambda _cell: {"course_id": COURSE}),
    ("POST", "/api/v1/tutor/conversations"): Sample(
        PROGRESS_WRITER, json=lambda _cell: {"course_id": COURSE}
    ),
    ("GET", "/api/v1/tutor/conversations"): Sample(READER),
    ("GET", "/api/v1/tutor/conversations/{conversation_id}"): Sample(READER),
    ("DELETE", "/api/v1/tutor/conversations/{conversation_id}"): Sample(PROGRESS_WRITER),
    ("POST", "/api/v1/tutor/conversations/{conversation_id}/messages"): Sample(
        PROGRESS_WRITER, json=lambda _cell: {"content": "What is retrieval-augmented generation?"}
    ),
    ("GET", "/api/v1/me/usage"): Sample(READER),
    ("GET", "/api/v1/admin/llm-costs"): Sample(ADMIN),
    ("PUT", "/api/v1/admin/quiz-attempts/{attempt_id}/grades"): Sample(
        ADMIN,
        json=lambda _cell: {"grades": {"q12": {"earned_points": 1, "feedback": "Clear and complete."}}},
        outcome=(409, "conflict"),
    ),
    ("GET", "/api/v1/premium/courses/{course_id}/chapters/{chapter_id}/personalized"): Sample(
        PROGRESS_WRITER, gated_tier="pro", outcome=LLM_UNAVAILABLE
    ),
    ("GET", "/api/v1/premium/courses/{course_id}/chapters/{chapter_id}/translation"): Sample(
        PROGRESS_WRITER, query=lambda _cell: {"lang": "ur"}, gated_tier="pro", outcome=LLM_UNAVAILABLE
    ),
    ("POST", "/api/v1/premium/tutor/conversations/{conversation_id}/messages"): Sample(
        PROGRESS_WRITER,
        json=lambda _cell: {"content": "What is retrieval-augmented generation?"},
        gated_tier="pro",
        outcome=LLM_UNAVAILABLE,
    ),
    ("POST", "/api/v1/premium/adaptive-path"): Sample(
        PROGRESS_WRITER, json=lambda _cell: {"course_id": COURSE}, gated_tier="pro", outcome=LLM_UNAVAILABLE
    ),
    ("POST", "/api/v1/premium/quiz-attempts/{attempt_id}/grade"): Sample(
        PROGRESS_WRITER, gated_tier="pro", outcome=(409, "conflict")
    ),
    ("POST", "/api/v1/premium/synthesis"): Sample(
        PROGRESS_WRITER,
        json=lambda _cell: {"course_id": COURSE, "chapter_ids": ["01-intro-genai", PREMIUM_CHAPTER]},
        gated_tier="pro",
        outcome=LLM_UNAVAILABLE,
    ),
    ("GET", "/metrics"): Sample(PUBLIC),
    ("GET", "/api/v1/subscription"): Sample(READER),
    # Payments are not configured in the suite: allowed callers reach the clear 503.
    ("POST", "/api/v1/subscription/checkout"): Sample(
        ACCOUNT_OWNER,
        json=lambda _cell: {"tier": "team", "seats": 3},
        outcome=(503, "service_unavailable"),
    ),
    ("POST", "/api/v1/subscription/cancel"): Sample(ACCOUNT_OWNER),
    ("POST", "/api/v1/billing/stripe/webhook"): Sample(
        PUBLIC,
        json=lambda _cell: {"id": "evt_1", "type": "ping"},
        outcome=(503, "service_unavailable"),
    ),
    ("PUT", "/api/v1/admin/users/{user_id}/subscription"): Sample(
        ADMIN, json=lambda _cell: {"tier": "premium"}
    ),
    ("GET", "/api/v1/admin/analytics"): Sample(ADMIN),
    ("POST", "/api/v1/teams"): Sample(ACCOUNT_OWNER, json=lambda _cell: {"name": "Lab"}, gated_tier="team"),
    ("GET", "/api/v1/teams/mine/analytics"): Sample(ACCOUNT_OWNER, gated_tier="team"),
    ("GET", "/api/v1/teams/mine/analytics.csv"): Sample(ACCOUNT_OWNER, gated_tier="team"),
    # Nobody in the world owns a team or holds a seat: allowed callers get 404.
    ("GET", "/api/v1/teams/mine"): Sample(ACCOUNT_OWNER, outcome=(404, "not_found")),
    ("POST", "/api/v1/teams/mine/invitations"): Sample(
        ACCOUNT_OWNER, json=lambda _cell: {"email": "new@example.com"}, outcome=(404, "not_found")
    ),
    ("DELETE", "/api/v1/teams/mine/invitations/{invitation_id}"): Sample(
        ACCOUNT_OWNER, outcome=(404, "not_found")
    ),
    ("DELETE", "/api/v1/teams/mine/members/{user_id}"): Sample(ACCOUNT_OWNER, outcome=(404, "not_found")),
    ("POST", "/api/v1/teams/invitations/accept"): Sample(
        ACCOUNT_OWNER, json=lambda _cell: {"token": "cti_" + "x" * 40}, outcome=(404, "not_found")
    ),
    ("DELETE", "/api/v1/teams/membership"): Sample(ACCOUNT_OWNER, outcome=(404, "not_found")),
    ("GET", "/oauth/consent"): Sample(PUBLIC, query=_consent_request),
    ("POST", "/oauth/consent"): Sample(
        PUBLIC,
        form=_consent_form,
        headers=lambda _cell: {"Cookie": f"{CSRF_COOKIE}=matrix-csrf"},
        status=303,
    ),
}


def _route_table() -> tuple[list[APIRouteView], list[APIRouteView], list[str]]:
    """The app's API routes, its web pages (cookie sessions, tests/web), and its other (protocol) routes."""
    settings = Settings(environment="test", jwt_secret="matrix-" + "x" * 40, _env_file=None)  # type: ignore[call-arg]
    api_routes: list[APIRouteView] = []
    web_routes: list[APIRouteView] = []
    others: list[str] = []
    for context in iter_route_contexts(create_app(settings).routes):
        if isinstance(context.original_route, APIRoute):
            is_page = context.original_route.endpoint.__module__.startswith("companion.web.")
            views = [APIRouteView(context, method) for method in sorted(context.methods or ())]
            (web_routes if is_page else api_routes).extend(views)
        else:
            others.append(str(context.path))
    return api_routes, web_routes, others


@dataclass(frozen=True)
class APIRouteView:
    """One method of one route, with what the suite reads of it."""

    context: Any
    method: str

    @property
    def path(self) -> str:
        """The full path template."""
        return str(self.context.path)

    @property
    def policies(self) -> list[Policy]:
        """The policies its dependency tree declares."""
        return declared_policies(self.context.dependant)

    @property
    def sample(self) -> Sample:
        """Its row of the table."""
        return SAMPLES[(self.method, self.path)]

    @property
    def success_status(self) -> int:
        """The status it answers when the request is allowed."""
        return self.sample.status or self.context.status_code or 200

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


API_ROUTES, WEB_ROUTES, OTHER_ROUTES = _route_table()


def test_every_web_page_declares_one_cookie_session_policy() -> None:
    # Web pages take the cookie session as their credential (never a bearer token); tests/web calls them.
    allowed = [*WEB_POLICIES, PUBLIC]
    wrong = [
        str(route) for route in WEB_ROUTES if len(route.policies) != 1 or route.policies[0] not in allowed
    ]
    assert WEB_ROUTES and not wrong, f"web pages without exactly one web policy: {wrong}"


def test_every_route_declares_exactly_one_policy_and_has_a_sample() -> None:
    undeclared = [str(route) for route in API_ROUTES if len(route.policies) != 1]
    assert not undeclared, f"routes without exactly one authorization policy: {undeclared}"
    unsampled = [str(route) for route in API_ROUTES if (route.method, route.path) not in SAMPLES]
    assert not unsampled, f"routes without a sample request in the authorization matrix: {unsampled}"
    # A policy changes deliberately: in the route's signature and in this table.
    changed = [
        f"{route}: declares {route.policies[0].name}, the table says {route.sample.policy.name}"
        for route in API_ROUTES
        if route.policies != [route.sample.policy]
    ]
    assert not changed, "policies differ from the table: " + "; ".join(changed)
    unknown = sorted(set(OTHER_ROUTES) - set(PROTOCOL_ROUTES))
    assert not unknown, f"non-API routes the authorization table does not know: {unknown}"
    stale = sorted(set(SAMPLES) - {(route.method, route.path) for route in API_ROUTES})
    assert not stale, f"samples for routes that no longer exist: {stale}"


def expected_answer(route: APIRouteView, caller: Caller) -> tuple[int, str | None]:
    """The status (and error code) the route's declared policy gives this caller."""
    [policy] = route.policies
    sample = route.sample
    if policy is PUBLIC:
        return sample.outcome or (route.success_status, None)
    if caller.method == "anonymous":
        if not policy.anonymous:
            return 401, "unauthorized"
    else:
        if caller.method not in policy.methods or (policy.admin and not caller.admin):
            return 403, "forbidden"
        if not policy.scopes <= caller.scopes:
            return 403, "forbidden"
        if caller.name == "learner_b" and any(f"{{{name}}}" in route.path for name in OWNED_PARAMETERS):
            return 404, "not_found"
    if sample.gated_tier and TIERS.index(caller.tier) < TIERS.index(sample.gated_tier):
        return 403, "upgrade_required"
    return sample.outcome or (route.success_status, None)


def _path(app: FastAPI, route: APIRouteView, caller: Caller) -> str:
    chapter = app.state.catalog.pack(COURSE).chapter(PREMIUM_CHAPTER)
    values = {
        "course_id": COURSE,
        "chapter_id": PREMIUM_CHAPTER,
        "section_id": chapter.sections[0].section_id,
        "quiz_id": PREMIUM_QUIZ,
        "direction": "next",
        "user_id": str(caller.user_id or uuid.uuid4()),  # an administrator acting on its own account
        "invitation_id": str(uuid.uuid4()),
        **caller.owned,
    }
    return route.path.format(**{name: values[name] for name in route.context.param_convertors})


async def _call(
    app: FastAPI, client: httpx.AsyncClient, route: APIRouteView, world: World, caller: Caller
) -> httpx.Response:
    sample = route.sample
    cell = Cell(app, world, caller)
    return await client.request(
        route.method,
        _path(app, route, caller),
        params=sample.query(cell) if sample.query else None,
        json=sample.json(cell) if sample.json else None,
        data=sample.form(cell) if sample.form else None,
        headers={**caller.headers, **(sample.headers(cell) if sample.headers else {})},
    )


@pytest.mark.parametrize("route", API_ROUTES, ids=str)
async def test_each_caller_gets_what_the_declared_policy_says(
    route: APIRouteView, app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(route.policies) == 1, f"{route} declares {len(route.policies)} authorization policies"
    assert (route.method, route.path) in SAMPLES, f"{route} has no sample request in the matrix"
    assert route.policies == [route.sample.policy], f"{route} declares another policy than the table's"
    use_cheap_hashing(monkeypatch)
    world = await build_world(app, client)
    mismatches = []
    for caller in world.callers:
        response = await _call(app, client, route, world, caller)
        status, code = expected_answer(route, caller)
        got_code = response.json()["error"]["code"] if response.status_code >= 400 else None
        if (response.status_code, got_code) != (status, code):
            mismatches.append(
                f"{caller.name}: expected {status} {code or ''}, got {response.status_code} "
                f"{got_code or ''} {response.text[:200] if response.status_code >= 400 else ''}"
            )
    assert not mismatches, f"{route} ({route.policies[0].name}):\n" + "\n".join(mismatches)
