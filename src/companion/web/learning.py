"""Learning pages: quizzes with per-question feedback, and the progress dashboard."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from companion.access import service as access_service
from companion.content import html as content_html
from companion.content import service as content_service
from companion.content.dependencies import CatalogDep, PackDep
from companion.content.schemas import LearnerQuiz
from companion.dependencies import CacheDep, SessionDep
from companion.errors import ValidationFailed
from companion.progress import service as progress_service
from companion.quizzes import service as quizzes_service
from companion.quizzes.schemas import AttemptRead, AttemptSummary
from companion.recommendations import service as recommendations_service
from companion.web.dependencies import CsrfProtected, Learner, Visitor, count_web_activity
from companion.web.templating import render

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

FIELD_PREFIX = "q-"
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 220, 36


def _answers(quiz: LearnerQuiz, form: FormData) -> dict[str, Any]:
    """The form's answers in the API's shape; unanswered questions are left out (the grader names them)."""
    answers: dict[str, Any] = {}
    for question in quiz.questions:
        name = FIELD_PREFIX + question.question_id
        if question.type == "multiple_select":
            picked = [value for value in form.getlist(name) if isinstance(value, str)]
            if picked:
                answers[question.question_id] = picked
            continue
        value = form.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        if question.type == "true_false":
            answers[question.question_id] = value == "true"
        else:
            answers[question.question_id] = value.strip()
    return answers


def _elapsed(form: FormData) -> int | None:
    started = form.get("started_at")
    try:
        return max(0, int(time.time()) - int(str(started))) if started else None
    except ValueError:
        return None


async def _quiz_page(
    request: Request,
    pack: PackDep,
    quiz_id: str,
    visitor: Any,
    session: SessionDep,
    **extra: Any,
) -> Response:
    user = visitor.user if visitor else None
    access_service.check_quiz(user, pack, quiz_id).enforce()
    quiz = content_service.get_quiz(pack, quiz_id).for_learner()
    chapter = content_service.get_chapter(pack, quiz.chapter_id)
    history = (
        await quizzes_service.list_attempts(session, user=user, pack=pack, quiz_id=quiz_id) if user else None
    )
    context = {
        "course_id": pack.course.id,
        "course_title": pack.course.title,
        "quiz": quiz,
        "chapter": chapter,
        "history": history,
        "started_at": int(time.time()),
        "answers": {},
        "lang": pack.course.language,
        "dir": content_html.text_direction(pack.course.language),
        **extra,
    }
    return render(request, "quiz.html", context, identity=visitor, status_code=extra.get("status", 200))


@router.get("/courses/{course_id}/quizzes/{quiz_id}")
async def quiz_page(
    quiz_id: str, request: Request, pack: PackDep, visitor: Visitor, session: SessionDep
) -> Response:
    """A quiz: every question, your attempt history and best score."""
    return await _quiz_page(request, pack, quiz_id, visitor, session)


@router.post("/courses/{course_id}/quizzes/{quiz_id}", dependencies=[CsrfProtected])
async def submit_quiz(
    quiz_id: str, request: Request, pack: PackDep, learner: Learner, session: SessionDep, cache: CacheDep
) -> Response:
    """Submit answers: graded at once, with feedback and the explanation of each question."""
    access_service.check_quiz(learner.user, pack, quiz_id).enforce()
    quiz = content_service.get_quiz(pack, quiz_id).for_learner()
    form = await request.form()
    answers = _answers(quiz, form)
    try:
        attempt = await quizzes_service.submit_quiz(
            session,
            user=learner.user,
            pack=pack,
            quiz_id=quiz_id,
            answers=answers,
            time_taken_seconds=_elapsed(form),
            cache=cache,
        )
    except ValidationFailed as error:
        missing = set(error.details.get("missing", []))
        return await _quiz_page(
            request,
            pack,
            quiz_id,
            learner,
            session,
            error=error.message,
            answers=answers,
            missing=missing,
            status=422,
        )
    await count_web_activity(session, learner, quiz_id=quiz_id)
    result = AttemptRead.model_validate(attempt)
    history = await quizzes_service.list_attempts(session, user=learner.user, pack=pack, quiz_id=quiz_id)
    context = {
        "course_id": pack.course.id,
        "quiz": quiz,
        "chapter": content_service.get_chapter(pack, quiz.chapter_id),
        "attempt": result,
        "history": history,
        "next_chapter_id": pack.next_chapter_id(quiz.chapter_id),
    }
    return render(request, "quiz_result.html", context, identity=learner)


def score_chart(attempts: list[AttemptSummary]) -> dict[str, Any]:
    """Points of a quiz-score line chart (0-100 over attempts in time order), drawn as SVG by the page."""
    scored = [attempt for attempt in attempts if attempt.score is not None]
    inner_width, inner_height = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD
    step = inner_width / max(len(scored) - 1, 1)
    points = [
        {
            "x": round(CHART_PAD + index * step, 1),
            "y": round(CHART_PAD + inner_height * (1 - (attempt.score or 0) / 100), 1),
            "attempt": attempt,
        }
        for index, attempt in enumerate(scored)
    ]
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "pad": CHART_PAD, "points": points}


@router.get("/dashboard")
async def dashboard(
    request: Request,
    learner: Learner,
    session: SessionDep,
    catalog: CatalogDep,
    cache: CacheDep,
    course_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Completion per chapter, time spent, quiz scores over time, the streak and the learning path."""
    user = learner.user
    packs = catalog.packs()
    board = await progress_service.get_dashboard(session, user=user, packs=packs, cache=cache)
    pack = catalog.pack(course_id) if course_id else packs[0] if packs else None
    course = next((item for item in board.courses if pack and item.course_id == pack.course.id), None)
    path = await recommendations_service.get_learning_path(session, user=user, pack=pack) if pack else None
    attempts = (
        await quizzes_service.submitted_attempts(session, user=user, course_id=pack.course.id) if pack else []
    )
    context = {
        "board": board,
        "course": course,
        "courses": packs,
        "path": path,
        "chart": score_chart(attempts),
        "freeze": access_service.check_feature(user, "streak_freeze"),
    }
    return render(request, "dashboard.html", context, identity=learner)


@router.post("/dashboard/streak-freeze", dependencies=[CsrfProtected])
async def hold_streak_freeze(learner: Learner, session: SessionDep, cache: CacheDep) -> Response:
    """Hold a streak freeze (Premium): it covers one missed day."""
    await progress_service.arm_freeze(session, user=learner.user, cache=cache)
    return RedirectResponse("/dashboard", status_code=303)
