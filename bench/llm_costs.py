"""What the premium (LLM) features cost, measured from the ledger under a stated usage profile.

No provider is called: a pydantic-ai FunctionModel stands in for the model and returns well-formed
answers with MODELLED token counts (input: the prompt's characters / 4, the usual rule of thumb for
English; output: what each feature's answer would take, set per feature below, Urdu at 1.6x English).
Every feature runs through the real service code, gateway and ledger on a throwaway SQLite database
with the shipped course; the ledger's token counts are then priced with the genai-prices table for
several models. The deterministic core (the extractive tutor, the rule-based path) is run on the same
questions to show it records no LLM call at all.

    .venv/bin/python bench/llm_costs.py [--learners 3]

Usage profile per active Pro learner per month (stated, not measured from real learners):
personalise each of the 6 chapters once and reopen each twice (cache hits); ask the tutor 40
questions with synthesis; plan the adaptive path 4 times; have 6 open answers graded; ask for 4
cross-chapter syntheses. Translations of the 6 chapters into Urdu are made once per course version
and shared by every learner, so they are reported per course, not per learner.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, UserPromptPart  # noqa: E402
from pydantic_ai.models.function import AgentInfo, FunctionModel  # noqa: E402
from pydantic_ai.usage import RequestUsage  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from companion.accounts.models import User  # noqa: E402
from companion.bootstrap import prepare_data  # noqa: E402
from companion.cache import create_cache  # noqa: E402
from companion.config import Settings  # noqa: E402
from companion.content.schemas import ContentPack, OpenEndedQuestion  # noqa: E402
from companion.content.service import ContentCatalog  # noqa: E402
from companion.content.store import store_from_settings  # noqa: E402
from companion.db import create_engine, create_sessionmaker  # noqa: E402
from companion.llm import prices  # noqa: E402
from companion.llm.gateway import LLMGateway  # noqa: E402
from companion.llm.models import LLMUsage  # noqa: E402
from companion.premium import chapters, grading, paths, synthesis, tutor  # noqa: E402
from companion.premium.schemas import SynthesisRequest  # noqa: E402
from companion.quizzes import service as quizzes_service  # noqa: E402
from companion.ratelimit import RateLimiter  # noqa: E402
from companion.recommendations import service as recommendations_service  # noqa: E402
from companion.search.index import CourseSearch  # noqa: E402
from companion.tutor import service as tutor_service  # noqa: E402
from companion.tutor.models import ChatConversation  # noqa: E402
from companion.tutor.schemas import MessageCreate  # noqa: E402

PRICED_MODELS = [
    ("anthropic", "claude-haiku-4-5"),
    ("anthropic", "claude-sonnet-4-5"),
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4.1-mini"),
]
CHARS_PER_TOKEN = 4
URDU_FACTOR = 1.6
PROFILE = {"personalization": 6, "tutor_synthesis": 40, "adaptive_path": 4, "llm_grading": 6, "synthesis": 4}
REOPENS_PER_CHAPTER = 2
QUESTIONS = [
    "How do temperature and top-p affect what the model outputs?",
    "What is a token and why does it matter for cost?",
    "How does retrieval-augmented generation reduce hallucination?",
    "When should I fine-tune instead of prompting?",
    "What is few-shot prompting?",
    "What are embeddings used for?",
    "Why do context windows limit what a model can read?",
    "How do I evaluate a RAG system?",
]


def tokens(text: str) -> int:
    """Modelled tokens of a text: characters / 4."""
    return max(1, len(text) // CHARS_PER_TOKEN)


def request_text(messages: list[ModelMessage], info: AgentInfo) -> str:
    parts = [info.instructions or ""]
    for message in messages:
        if isinstance(message, ModelRequest):
            parts += [str(part.content) for part in message.parts if isinstance(part, UserPromptPart)]
    return "\n".join(parts)


class ModelledModel:
    """Well-formed answers for each feature, with modelled output token counts."""

    def __init__(self, pack: ContentPack) -> None:
        self.pack = pack

    def answer(self, prompt: str, info: AgentInfo) -> tuple[dict[str, Any], int]:
        instructions = info.instructions or ""
        if "rewrite one chapter" in instructions or "translate one chapter" in instructions:
            chapter_id = re.search(r'<course_content chapter_id="([^"]+)"', prompt).group(1)  # type: ignore[union-attr]
            chapter = self.pack.chapter(chapter_id)
            assert chapter is not None
            body = {
                "title": chapter.title,
                "sections": [
                    {"section_id": s.section_id, "title": s.title, "content_markdown": s.content_markdown}
                    for s in chapter.sections
                ],
            }
            out = tokens(json.dumps(body))
            return body, int(out * (URDU_FACTOR if "translate" in instructions else 1.0))
        if "tutor of an online course" in instructions:
            numbers = re.findall(r'<passage number="(\d+)"', prompt)
            text = " ".join(f"An explained point drawn from the course [{n}]." for n in numbers)
            return {"covered": True, "answer_markdown": text}, 300
        if "plan a learner's path" in instructions:
            ids = [c.chapter_id for c in self.pack.chapters]
            steps = [{"chapter_id": i, "kind": "study", "reason": "Builds on what you know."} for i in ids]
            return {"steps": steps, "rationale": "Ordered by prerequisites and your level."}, 70 * len(
                ids
            ) + 120
        if "grade learners' written answers" in instructions:
            grades = []
            for question_id in re.findall(r'<question id="([^"]+)"', prompt):
                quiz = next(q for q in self.pack.quizzes if q.question(question_id))
                question = quiz.question(question_id)
                assert isinstance(question, OpenEndedQuestion)
                criteria = [
                    {"criterion": name, "score": 0.8, "comment": "Mostly met."}
                    for name in grading.criteria_of(question)
                ]
                grades.append(
                    {"question_id": question_id, "criteria": criteria, "feedback": "Good; add a second risk."}
                )
            return {"grades": grades}, 220 * len(grades)
        numbers = re.findall(r'<section number="(\d+)"', prompt)
        first_of_chapter: dict[str, str] = {}
        for number, chapter in re.findall(r'<section number="(\d+)" chapter="([^"]+)"', prompt):
            first_of_chapter.setdefault(chapter, number)
        text = "\n\n".join(
            f"How this chapter connects to the others [{n}]." for n in first_of_chapter.values()
        )
        assert numbers
        return {"answer_markdown": text}, 800

    async def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        prompt = request_text(messages, info)
        body, output_tokens = self.answer(prompt, info)
        return ModelResponse(
            parts=[ToolCallPart(info.output_tools[0].name, body)],
            usage=RequestUsage(
                input_tokens=tokens(prompt) + 150, output_tokens=output_tokens
            ),  # +150: schema
        )


async def run(learners: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="llm-costs-") as folder:
        return await _run(Path(folder), learners)


async def _run(data_dir: Path, learners: int) -> dict[str, Any]:
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        embedding_provider="none",
        run_jobs=False,
        jwt_secret="b" * 40,
        _env_file=None,
    )  # type: ignore[call-arg]
    await asyncio.to_thread(prepare_data, settings, echo=lambda _line: None)
    engine = create_engine(settings.resolved_database_url)
    sessionmaker = create_sessionmaker(engine)
    catalog = ContentCatalog(store_from_settings(settings))
    await catalog.refresh()
    pack = catalog.packs()[0]
    course_search = await asyncio.to_thread(CourseSearch.open, settings)
    await course_search.start(catalog.packs())
    services = tutor_service.TutorServices(
        catalog=catalog,
        course_search=course_search,
        limiter=RateLimiter(None),
        settings=settings.model_copy(update={"tutor_messages_per_minute": 10_000}),
        cache=create_cache(None),
    )
    gateway = LLMGateway(
        settings.model_copy(update={"llm_monthly_budget_usd": {"pro": 1000.0}}), sessionmaker
    )
    model = FunctionModel(ModelledModel(pack), model_name=PRICED_MODELS[0][1])
    cache = create_cache(None)
    cached_reads = 0
    core_calls_before = 0

    with gateway.override(model):
        for number in range(learners):
            async with sessionmaker() as session:
                user = User(
                    email=f"learner{number}@example.com",
                    subscription_tier="pro",
                    software_experience=["beginner", "intermediate", "advanced"][number % 3],
                )
                session.add(user)
                await session.commit()
            for chapter in pack.chapters:
                for _ in range(1 + REOPENS_PER_CHAPTER):
                    async with sessionmaker.begin() as session:
                        read = await chapters.personalized_chapter(
                            session, user=user, pack=pack, chapter_id=chapter.chapter_id, llm=gateway
                        )
                        cached_reads += read.usage.cached
                    async with sessionmaker.begin() as session:
                        translated = await chapters.translated_chapter(
                            session,
                            user=user,
                            pack=pack,
                            chapter_id=chapter.chapter_id,
                            language="ur",
                            llm=gateway,
                        )
                        cached_reads += translated.usage.cached
            async with sessionmaker.begin() as session:
                conversation = ChatConversation(
                    user_id=user.id,
                    course_id=pack.course.id,
                    created_at=tutor_service.utcnow(),
                    expires_at=tutor_service.utcnow() + tutor_service.RETENTION,
                )
                session.add(conversation)
            async with sessionmaker() as session:
                core_calls_before = await session.scalar(select(func.count()).select_from(LLMUsage)) or 0
            for index in range(PROFILE["tutor_synthesis"]):
                message = MessageCreate(content=QUESTIONS[index % len(QUESTIONS)])
                # The deterministic core answers the same question first: no LLM call is recorded.
                await tutor_service.compose_answer(
                    user=user, message=message, packs=[pack], services=services
                )
                async with sessionmaker() as session:
                    assert (
                        await session.scalar(select(func.count()).select_from(LLMUsage)) == core_calls_before
                    )
                async with sessionmaker.begin() as session:
                    live = await session.get(ChatConversation, conversation.id)
                    assert live is not None
                    await tutor.ask(
                        session, user=user, conversation=live, message=message, services=services, llm=gateway
                    )
                async with sessionmaker() as session:
                    core_calls_before = await session.scalar(select(func.count()).select_from(LLMUsage)) or 0
            for _ in range(PROFILE["adaptive_path"]):
                async with sessionmaker.begin() as session:
                    states, scores = await recommendations_service.learner_record(
                        session, user=user, pack=pack
                    )
                    recommendations_service.plan_path(
                        pack,
                        background=recommendations_service.Background(
                            user.software_experience, user.hardware_experience
                        ),
                        states=states,
                        quiz_results=scores,
                    )
                    await paths.adaptive_path(session, user=user, pack=pack, llm=gateway)
            quizzes_with_essays = [
                q for q in pack.quizzes if any(isinstance(x, OpenEndedQuestion) for x in q.questions)
            ]
            for index in range(PROFILE["llm_grading"]):
                quiz = quizzes_with_essays[index % len(quizzes_with_essays)]
                answers = {q.question_id: _any_answer(q) for q in quiz.questions}
                async with sessionmaker.begin() as session:
                    attempt = await quizzes_service.submit_quiz(
                        session,
                        user=user,
                        pack=pack,
                        quiz_id=quiz.quiz_id,
                        answers=answers,
                        time_taken_seconds=600,
                        cache=cache,
                    )
                async with sessionmaker.begin() as session:
                    await grading.grade_attempt(
                        session, user=user, attempt_id=attempt.id, catalog=catalog, cache=cache, llm=gateway
                    )
            ids = [c.chapter_id for c in pack.chapters]
            for index in range(PROFILE["synthesis"]):
                chosen = [ids[index % len(ids)], ids[(index + 2) % len(ids)], ids[(index + 4) % len(ids)]]
                await synthesis.synthesize(
                    user=user, pack=pack, request=SynthesisRequest(chapter_ids=chosen), llm=gateway
                )

    async with sessionmaker() as session:
        rows = list(await session.scalars(select(LLMUsage)))
    course_search.close()
    await engine.dispose()
    return _report(rows, learners=learners, cached_reads=cached_reads)


def _any_answer(question: Any) -> Any:
    kind = question.type
    if kind == "multiple_choice":
        return question.options[0].id
    if kind == "multiple_select":
        return [question.options[0].id]
    if kind == "true_false":
        return True
    if kind == "short_answer":
        return "an answer"
    return (
        "A considered answer covering human review, grounding in help articles and privacy of customer data."
    )


def _report(rows: list[LLMUsage], *, learners: int, cached_reads: int) -> dict[str, Any]:
    by_feature: dict[str, list[LLMUsage]] = defaultdict(list)
    for row in rows:
        by_feature[row.feature].append(row)
    features: dict[str, Any] = {}
    for feature, items in sorted(by_feature.items()):
        per_model = {
            name: statistics.mean(
                prices.cost_usd(
                    model=name,
                    provider=provider,
                    input_tokens=r.input_tokens,
                    output_tokens=r.output_tokens,
                    overrides={},
                )
                for r in items
            )
            for provider, name in PRICED_MODELS
        }
        features[feature] = {
            "calls": len(items),
            "mean_input_tokens": round(statistics.mean(r.input_tokens for r in items)),
            "mean_output_tokens": round(statistics.mean(r.output_tokens for r in items)),
            "usd_per_request": {name: round(cost, 5) for name, cost in per_model.items()},
        }
    per_learner = {
        name: round(
            sum(
                features[f]["usd_per_request"][name] * count for f, count in PROFILE.items() if f in features
            ),
            4,
        )
        for _, name in PRICED_MODELS
    }
    translation = features.get("translation", {})
    shared_translation = {
        name: round(translation.get("usd_per_request", {}).get(name, 0.0) * translation.get("calls", 0), 4)
        for _, name in PRICED_MODELS
    }
    return {
        "learners": learners,
        "profile_per_learner_month": PROFILE,
        "ledger_rows": len(rows),
        "cache_hits_at_zero_cost": cached_reads,
        "features": features,
        "usd_per_learner_month": per_learner,
        "usd_translation_ur_per_course_version_shared": shared_translation,
        "deterministic_core_llm_calls": 0,
        "token_counts": "modelled (chars/4 input, per-feature output), not from a live provider",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(run(args.learners))
    for feature, figures in result["features"].items():
        costs = ", ".join(f"{name} ${cost:.4f}" for name, cost in figures["usd_per_request"].items())
        figures_in, figures_out = figures["mean_input_tokens"], figures["mean_output_tokens"]
        print(
            f"{feature:16} {figures['calls']:4} calls  in {figures_in:6}  out {figures_out:6}  each: {costs}"
        )
    print("per learner per month:", result["usd_per_learner_month"])
    print(
        "Urdu translation of the course, once per version (shared):",
        result["usd_translation_ur_per_course_version_shared"],
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
