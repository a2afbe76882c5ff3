"""The adaptive learning path (seed 000, Phase 2): the LLM plans the order over the learner's record.

The model sees the learner's background, progress and quiz results per chapter, the chapters'
difficulty and prerequisites, and the path the rules would plan; it returns an ordered plan with a
reason per step. The plan is checked (known chapters, once each, prerequisites first, finished
chapters left out) and stored as the learner's one active recommendation for 7 days.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from companion.access import service as access_service
from companion.accounts.models import User
from companion.content.schemas import ContentPack
from companion.llm.gateway import LLMGateway
from companion.premium import prompts
from companion.premium.chapters import usage_read
from companion.premium.schemas import AdaptivePathRead
from companion.progress.schemas import ChapterStateSummary
from companion.quizzes.schemas import QuizScoreSummary
from companion.recommendations import service as recommendations_service
from companion.recommendations.schemas import PathStep, RecommendedChapter

FEATURE = "adaptive_path"


class PlannedStep(BaseModel):
    """One chapter of the plan and why it is there."""

    chapter_id: str
    kind: PathStep = Field(
        description="revisit: a quiz not yet passed; continue: started; study: next to learn; "
        "review: optional, below the learner's level"
    )
    reason: str = Field(description="One or two sentences addressed to the learner.")


class AdaptivePlan(BaseModel):
    """The ordered plan and the reasoning behind it as a whole."""

    steps: list[PlannedStep]
    rationale: str


INSTRUCTIONS = "\n".join(
    [
        "You plan a learner's path through an online course. From their background, progress and quiz "
        "results, order the chapters they should work on next, each with a short reason addressed to "
        "them (mention the evidence: a score, a started chapter, their experience).",
        "Rules: list each chapter at most once; leave out chapters that are completed and whose quiz is "
        "passed or not taken; put every chapter after its prerequisites when both are in the plan; put "
        "chapters whose quiz was failed first. Use only chapter ids from the record.",
        "The rule-based plan is given as a reasonable baseline; improve on it where the record suggests "
        "a better order, and say why in the rationale.",
        prompts.DATA_RULE,
    ]
)


def learner_record(
    pack: ContentPack,
    user: User,
    states: dict[str, ChapterStateSummary],
    scores: dict[str, QuizScoreSummary],
) -> str:
    """The learner's record per chapter as JSON: what the plan is reasoned from."""
    chapters = []
    for chapter in pack.chapters:
        quiz = pack.quiz_for_chapter(chapter.chapter_id)
        result = scores.get(quiz.quiz_id) if quiz else None
        state = states.get(chapter.chapter_id)
        chapters.append(
            {
                "chapter_id": chapter.chapter_id,
                "title": chapter.title,
                "module": chapter.module,
                "difficulty": chapter.difficulty_level,
                "topics": chapter.topics,
                "prerequisites": chapter.prerequisites,
                "state": state.state if state else "not_started",
                "percent_read": state.completion_percentage if state else 0,
                "quiz": None
                if quiz is None
                else {
                    "passing_score": quiz.passing_score,
                    "best_score": result.best_score if result else None,
                    "passed": result.passed if result else False,
                    "attempts": result.attempts if result else 0,
                },
            }
        )
    return json.dumps(
        {
            "software_experience": user.software_experience,
            "hardware_experience": user.hardware_experience,
            "chapters": chapters,
        },
        indent=1,
    )


def plan_problems(
    plan: AdaptivePlan, pack: ContentPack, states: dict[str, ChapterStateSummary], failed: set[str]
) -> list[str]:
    """What breaks the rules in a plan: unknown or repeated chapters, finished ones, prerequisites after."""
    known = {chapter.chapter_id for chapter in pack.chapters}
    ids = [step.chapter_id for step in plan.steps]
    problems = [f"unknown chapter id '{chapter_id}'" for chapter_id in ids if chapter_id not in known]
    problems += [
        f"'{chapter_id}' is listed twice" for chapter_id in sorted(set(ids)) if ids.count(chapter_id) > 1
    ]
    done = {chapter_id for chapter_id, state in states.items() if state.state == "completed"} - failed
    problems += [f"'{chapter_id}' is completed; leave it out" for chapter_id in ids if chapter_id in done]
    position = {chapter_id: index for index, chapter_id in enumerate(ids)}
    for chapter_id in ids:
        chapter = pack.chapter(chapter_id)
        for required in chapter.prerequisites if chapter else []:
            if required in position and position[required] > position[chapter_id]:
                problems.append(f"'{required}' is a prerequisite of '{chapter_id}' and must come before it")
    return problems


async def adaptive_path(
    session: AsyncSession, *, user: User, pack: ContentPack, llm: LLMGateway
) -> AdaptivePathRead:
    """Plan the learner's path with the LLM and make it their active recommendation (7 days)."""
    access_service.check_feature(user, FEATURE).enforce()
    llm.choice(FEATURE)
    states, scores = await recommendations_service.learner_record(session, user=user, pack=pack)
    background = recommendations_service.Background(user.software_experience, user.hardware_experience)
    baseline = recommendations_service.plan_path(
        pack, background=background, states=states, quiz_results=scores
    )
    failed = {
        quiz.chapter_id
        for quiz in pack.quizzes
        if (result := scores.get(quiz.quiz_id)) and not result.passed and result.best_score is not None
    }
    rules = [f"{item.priority}. {item.chapter_id} ({item.kind}): {item.reason}" for item in baseline.chapters]
    prompt = "\n\n".join(
        [
            "Plan this learner's path.",
            prompts.block("learner_record", learner_record(pack, user, states, scores)),
            "The rule-based plan:\n" + ("\n".join(rules) or "(nothing left to study)"),
        ]
    )
    completion = await llm.run(
        user=user,
        feature=FEATURE,
        instructions=INSTRUCTIONS,
        prompt=prompt,
        output_type=AdaptivePlan,
        check=lambda plan: plan_problems(plan, pack, states, failed),
    )
    plan = completion.output
    planned = recommendations_service.PlannedPath(
        chapters=[
            RecommendedChapter(
                chapter_id=step.chapter_id,
                module=chapter.module if (chapter := pack.chapter(step.chapter_id)) else None,
                priority=priority,
                reason=step.reason,
                kind=step.kind,
            )
            for priority, step in enumerate(plan.steps, start=1)
        ],
        rationale=plan.rationale,
    )
    path = await recommendations_service.save_path(
        session, user=user, pack=pack, plan=planned, generator="llm"
    )
    return AdaptivePathRead(learning_path=path, usage=usage_read(completion.usage))
