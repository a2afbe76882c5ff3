"""Validate a content pack and build its typed model, reporting every problem at once.

Checks run at three levels so that one broken field never hides another problem: each document against
its model, each section and question on its own, and the references between documents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from companion.content.loaders import SourceDocument, SourcePack, read_source
from companion.content.schemas import (
    QUESTION_TYPES,
    Chapter,
    ContentPack,
    Course,
    MultipleChoiceQuestion,
    MultipleSelectQuestion,
    OpenEndedQuestion,
    Problem,
    Question,
    Quiz,
    Section,
    Severity,
    ShortAnswerQuestion,
)
from companion.errors import ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)

_SECTION = TypeAdapter(Section)
_QUESTION: TypeAdapter[Question] = TypeAdapter(Question)


class ContentInvalid(ValidationFailed):
    """A content pack that has errors; `problems` lists every one of them (warnings included)."""

    def __init__(self, problems: list[Problem]) -> None:
        errors = sum(1 for problem in problems if problem.severity == "error")
        details = {"problems": [problem.model_dump() for problem in problems]}
        super().__init__(f"The content pack has {errors} error(s).", details=details)
        self.problems = problems


@dataclass
class CheckResult:
    """The outcome of validating a pack: the pack itself only when there is no error."""

    pack: ContentPack | None
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        """The problems that prevent the pack from being loaded."""
        return [problem for problem in self.problems if problem.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems worth fixing that do not prevent loading."""
        return [problem for problem in self.problems if problem.severity == "warning"]


def check_pack(path: Path) -> CheckResult:
    """Read and validate the pack folder at `path`, building the pack when it has no error."""
    return check_source(read_source(path))


def validate_pack(path: Path) -> list[Problem]:
    """Every problem (errors and warnings) of the pack folder at `path`."""
    return check_pack(path).problems


def load_pack(path: Path) -> ContentPack:
    """The validated pack at `path`; raises ContentInvalid listing every problem when it has errors."""
    result = check_pack(path)
    if result.pack is None:
        raise ContentInvalid(result.problems)
    return result.pack


def check_source(source: SourcePack) -> CheckResult:
    """Validate documents already read from a pack folder and build the pack when there is no error."""
    # A missing or unreadable course file is already among the reading problems.
    problems = list(source.problems)
    course = _validate(Course, source.course, problems) if source.course else None
    chapters = [_validate(Chapter, document, problems) for document in source.chapters]
    quizzes = [_validate(Quiz, document, problems) for document in source.quizzes]
    for document in source.chapters:
        problems.extend(_section_problems(document))
    for document in source.quizzes:
        problems.extend(_question_problems(document))
    problems.extend(_reference_problems(source))
    problems.sort(key=lambda problem: problem.file)
    if course is None or any(problem.severity == "error" for problem in problems):
        return CheckResult(pack=None, problems=problems)
    valid_chapters = [chapter for chapter in chapters if chapter is not None]
    valid_quizzes = [quiz for quiz in quizzes if quiz is not None]
    return CheckResult(pack=_assemble(course, valid_chapters, valid_quizzes), problems=problems)


def _assemble(course: Course, chapters: list[Chapter], quizzes: list[Quiz]) -> ContentPack:
    """The pack in course order, with each chapter's module and next chapter filled in when not given."""
    by_id = {chapter.chapter_id: chapter for chapter in chapters}
    module_of = {chapter_id: module.id for module in course.modules for chapter_id in module.chapters}
    ordered: list[Chapter] = []
    for index, chapter_id in enumerate(course.chapters):
        chapter = by_id[chapter_id]
        following = course.chapters[index + 1] if index + 1 < len(course.chapters) else None
        update = {
            "module": chapter.module or module_of.get(chapter_id),
            "next_chapter_id": chapter.next_chapter_id or following,
        }
        ordered.append(chapter.model_copy(update=update))
    position = {chapter_id: index for index, chapter_id in enumerate(course.chapters)}
    ordered_quizzes = sorted(quizzes, key=lambda quiz: (position[quiz.chapter_id], quiz.quiz_id))
    return ContentPack(course=course, chapters=ordered, quizzes=ordered_quizzes)


# --- Document level: pydantic errors as plain messages -----------------------------------------


def _validate(model: type[ModelT], document: SourceDocument, problems: list[Problem]) -> ModelT | None:
    try:
        return model.model_validate(document.data)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            location = document.locate(_field_path(detail["loc"]))
            problems.append(Problem(file=document.file, location=location, message=_plain_message(detail)))
        return None


def _field_path(loc: Iterable[int | str]) -> str:
    """("sections", 2, "title") -> "sections[2].title", leaving out the question-type tag pydantic adds."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in QUESTION_TYPES:
            path += f".{part}" if path else part
    return path


def _plain_message(detail: Any) -> str:
    kind = detail["type"]
    context = detail.get("ctx", {})
    names = [part for part in detail["loc"] if isinstance(part, str) and part not in QUESTION_TYPES]
    field = names[-1] if names else "value"
    value = _short(detail.get("input"))
    if kind == "missing":
        return f"missing required field '{field}'"
    if kind == "union_tag_invalid":
        return f"unknown question type {context.get('tag')!r}; expected one of {', '.join(QUESTION_TYPES)}"
    if kind == "union_tag_not_found":
        return f"question has no 'type'; expected one of {', '.join(QUESTION_TYPES)}"
    if kind == "literal_error":
        return f"{value} is not a valid {field}; expected {context.get('expected')}"
    if kind == "string_pattern_mismatch":
        return f"{value} is not a valid {field}: use letters, digits, '.', '_' and '-' (no spaces)"
    return f"{field}: {detail['msg']} (got {value})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _quietly(adapter: TypeAdapter[Any], data: Any) -> Any:
    # Errors of this item were already reported by the document-level validation.
    try:
        return adapter.validate_python(data)
    except ValidationError:
        return None


# --- Item level: sections and questions --------------------------------------------------------


def _section_problems(document: SourceDocument) -> list[Problem]:
    raw_sections = document.data.get("sections")
    if not isinstance(raw_sections, list):
        return []
    if not raw_sections:
        return [_problem(document, "sections", "chapter has no sections")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_sections):
        section = _quietly(_SECTION, raw)
        if section is None:
            continue
        if section.section_id in seen:
            message = f"duplicate section id {section.section_id!r}"
            problems.append(_problem(document, f"sections[{index}].section_id", message))
        seen.add(section.section_id)
        # Markdown pages report their empty sections as warnings while they are read.
        if not section.content_markdown.strip() and not document.markdown:
            message = f"section {section.title!r} has no text"
            problems.append(_problem(document, f"sections[{index}].content_markdown", message))
    return problems


def _question_problems(document: SourceDocument) -> list[Problem]:
    raw_questions = document.data.get("questions")
    if not isinstance(raw_questions, list):
        return []
    if not raw_questions:
        return [_problem(document, "questions", "quiz has no questions")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_questions):
        question = _quietly(_QUESTION, raw)
        if question is None:
            continue
        where = f"questions[{index}]"
        if question.question_id in seen:
            message = f"duplicate question id {question.question_id!r}"
            problems.append(_problem(document, f"{where}.question_id", message))
        seen.add(question.question_id)
        problems.extend(_answer_key_problems(document, where, question))
    return problems


def _answer_key_problems(document: SourceDocument, where: str, question: Question) -> list[Problem]:
    """Answer keys that cannot be right: answers missing from the options, or no accepted answer at all."""
    problems: list[Problem] = []
    if isinstance(question, MultipleChoiceQuestion | MultipleSelectQuestion):
        option_ids = [option.id for option in question.options]
        if len(option_ids) < 2:
            problems.append(
                _problem(document, f"{where}.options", "a choice question needs at least 2 options")
            )
        if len(set(option_ids)) != len(option_ids):
            problems.append(_problem(document, f"{where}.options", "option ids are not unique"))
        listed = ", ".join(option_ids)
        if isinstance(question, MultipleChoiceQuestion) and question.correct_answer not in option_ids:
            message = f"correct answer {question.correct_answer!r} is not one of the options ({listed})"
            problems.append(_problem(document, f"{where}.correct_answer", message))
        if isinstance(question, MultipleSelectQuestion):
            if not question.correct_answers:
                problems.append(_problem(document, f"{where}.correct_answers", "no correct answer given"))
            for position, answer in enumerate(question.correct_answers):
                if answer not in option_ids:
                    message = f"correct answer {answer!r} is not one of the options ({listed})"
                    problems.append(_problem(document, f"{where}.correct_answers[{position}]", message))
    if isinstance(question, ShortAnswerQuestion) and not any(a.strip() for a in question.accepted_answers):
        problems.append(_problem(document, f"{where}.accepted_answers", "no accepted answer given"))
    if isinstance(question, OpenEndedQuestion) and not question.rubric:
        message = "open question without a rubric cannot be graded consistently"
        problems.append(_problem(document, f"{where}.rubric", message, severity="warning"))
    return problems


def _problem(document: SourceDocument, path: str, message: str, *, severity: Severity = "error") -> Problem:
    return Problem(file=document.file, location=document.locate(path), message=message, severity=severity)


# --- Pack level: references between documents ---------------------------------------------------


class _ModuleRefs(BaseModel):
    id: str
    chapters: list[str] = Field(default_factory=list)


class _CourseRefs(BaseModel):
    chapters: list[str] = Field(default_factory=list)
    modules: list[_ModuleRefs] = Field(default_factory=list)


class _ChapterRefs(BaseModel):
    chapter_id: str
    chapter_number: int | None = None
    module: str | None = None
    next_chapter_id: str | None = None
    prerequisites: list[str] = Field(default_factory=list)


class _QuizRefs(BaseModel):
    quiz_id: str
    chapter_id: str


def _refs(model: type[ModelT], data: dict[str, Any]) -> ModelT | None:
    # Only the fields references need, so a document broken elsewhere still gets its references checked.
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def _chapter_refs(document: SourceDocument) -> _ChapterRefs | None:
    """The chapter's references, each field taken only when it is well typed, so none hides another."""
    fields: dict[str, Any] = {"chapter_id": document.data.get("chapter_id")}
    if _refs(_ChapterRefs, fields) is None:
        return None
    for name in ("chapter_number", "module", "next_chapter_id", "prerequisites"):
        if name in document.data and _refs(_ChapterRefs, {**fields, name: document.data[name]}) is not None:
            fields[name] = document.data[name]
    return _ChapterRefs.model_validate(fields)


def _reference_problems(source: SourcePack) -> list[Problem]:
    chapters = [(doc, refs) for doc in source.chapters if (refs := _chapter_refs(doc)) is not None]
    problems = _duplicate_chapter_problems(chapters)
    defined = {refs.chapter_id for _, refs in chapters}
    course_refs = _refs(_CourseRefs, source.course.data) if source.course else None
    # A course derived from the pages lists exactly them: checking that listing would only echo problems.
    if source.course is not None and course_refs is not None and not source.course.derived:
        problems.extend(_course_listing_problems(source.course, course_refs, chapters))
    order = course_refs.chapters if course_refs else [refs.chapter_id for _, refs in chapters]
    for document, refs in chapters:
        problems.extend(_chapter_link_problems(document, refs, defined, order))
    problems.extend(_cycle_problems(chapters, defined))
    problems.extend(_quiz_reference_problems(source.quizzes, defined))
    return problems


def _duplicate_chapter_problems(chapters: list[tuple[SourceDocument, _ChapterRefs]]) -> list[Problem]:
    problems: list[Problem] = []
    first_file: dict[str, str] = {}
    for document, refs in chapters:
        if refs.chapter_id in first_file:
            message = f"duplicate chapter id {refs.chapter_id!r} (also in {first_file[refs.chapter_id]})"
            problems.append(_problem(document, "chapter_id", message))
        first_file.setdefault(refs.chapter_id, document.file)
    return problems


def _course_listing_problems(
    course: SourceDocument, refs: _CourseRefs, chapters: list[tuple[SourceDocument, _ChapterRefs]]
) -> list[Problem]:
    """The course's chapter list and modules against the chapter files that exist."""
    problems: list[Problem] = []
    defined = {chapter.chapter_id for _, chapter in chapters}
    listed: set[str] = set()
    for index, chapter_id in enumerate(refs.chapters):
        if chapter_id in listed:
            problems.append(_problem(course, f"chapters[{index}]", f"chapter {chapter_id!r} is listed twice"))
        elif chapter_id not in defined:
            message = f"chapter {chapter_id!r} is listed but no chapter file defines it"
            problems.append(_problem(course, f"chapters[{index}]", message))
        listed.add(chapter_id)
    for document, chapter in chapters:
        if chapter.chapter_id not in listed:
            message = f"chapter {chapter.chapter_id!r} is not listed in the chapters of {course.file}"
            problems.append(_problem(document, "chapter_id", message))
    module_ids: set[str] = set()
    in_module: dict[str, str] = {}
    for m_index, module in enumerate(refs.modules):
        if module.id in module_ids:
            problems.append(_problem(course, f"modules[{m_index}].id", f"duplicate module id {module.id!r}"))
        module_ids.add(module.id)
        for c_index, chapter_id in enumerate(module.chapters):
            where = f"modules[{m_index}].chapters[{c_index}]"
            if chapter_id not in listed:
                message = f"module {module.id!r} lists {chapter_id!r}, which is not in the course's chapters"
                problems.append(_problem(course, where, message))
            elif chapter_id in in_module:
                message = f"chapter {chapter_id!r} is already in module {in_module[chapter_id]!r}"
                problems.append(_problem(course, where, message))
            in_module.setdefault(chapter_id, module.id)
    for document, chapter in chapters:
        if module_ids and chapter.module is not None and chapter.module not in module_ids:
            message = f"module {chapter.module!r} is not a module of the course"
            problems.append(_problem(document, "module", message))
    return problems


def _chapter_link_problems(
    document: SourceDocument, refs: _ChapterRefs, defined: set[str], order: list[str]
) -> list[Problem]:
    """Dangling next_chapter_id and prerequisites, and links that disagree with the course order."""
    problems: list[Problem] = []
    position = {chapter_id: index for index, chapter_id in enumerate(order)}
    here = position.get(refs.chapter_id)
    if refs.next_chapter_id is not None:
        if refs.next_chapter_id not in defined:
            message = f"next chapter {refs.next_chapter_id!r} does not exist"
            problems.append(_problem(document, "next_chapter_id", message))
        elif here is not None and here + 1 < len(order) and order[here + 1] != refs.next_chapter_id:
            message = (
                f"next chapter {refs.next_chapter_id!r} differs from the course order ({order[here + 1]!r})"
            )
            problems.append(_problem(document, "next_chapter_id", message, severity="warning"))
    for index, prerequisite in enumerate(refs.prerequisites):
        where = f"prerequisites[{index}]"
        if prerequisite not in defined:
            problems.append(_problem(document, where, f"prerequisite {prerequisite!r} does not exist"))
        elif here is not None and position.get(prerequisite, -1) > here:
            message = f"prerequisite {prerequisite!r} comes after this chapter in the course order"
            problems.append(_problem(document, where, message, severity="warning"))
    if here is not None and refs.chapter_number is not None and refs.chapter_number != here + 1:
        message = f"chapter number {refs.chapter_number} differs from its position {here + 1} in the course"
        problems.append(_problem(document, "chapter_number", message, severity="warning"))
    return problems


def _cycle_problems(chapters: list[tuple[SourceDocument, _ChapterRefs]], defined: set[str]) -> list[Problem]:
    """One error per prerequisite cycle, reported on the cycle's first chapter by id."""
    documents: dict[str, SourceDocument] = {}
    graph: dict[str, list[str]] = {}
    for document, refs in chapters:
        # With duplicate ids the first definition counts; the duplicate is reported on its own.
        documents.setdefault(refs.chapter_id, document)
        graph.setdefault(refs.chapter_id, [p for p in refs.prerequisites if p in defined])
    cycles: dict[tuple[str, ...], list[str]] = {}
    state: dict[str, str] = {}  # chapter id -> "visiting" | "done"

    def visit(chapter_id: str, path: list[str]) -> None:
        state[chapter_id] = "visiting"
        path.append(chapter_id)
        for prerequisite in graph.get(chapter_id, []):
            if state.get(prerequisite) == "visiting":
                cycle = path[path.index(prerequisite) :]
                start = cycle.index(min(cycle))
                rotated = cycle[start:] + cycle[:start]
                cycles.setdefault(tuple(rotated), rotated)
            elif prerequisite not in state:
                visit(prerequisite, path)
        path.pop()
        state[chapter_id] = "done"

    for chapter_id in sorted(graph):
        if chapter_id not in state:
            visit(chapter_id, [])
    problems = []
    for cycle in cycles.values():
        chain = " -> ".join([*cycle, cycle[0]])
        problems.append(_problem(documents[cycle[0]], "prerequisites", f"prerequisite cycle: {chain}"))
    return problems


def _quiz_reference_problems(documents: list[SourceDocument], defined: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    quiz_files: dict[str, str] = {}
    chapter_quiz: dict[str, str] = {}
    for document in documents:
        refs = _refs(_QuizRefs, document.data)
        if refs is None:
            continue
        if refs.quiz_id in quiz_files:
            message = f"duplicate quiz id {refs.quiz_id!r} (also in {quiz_files[refs.quiz_id]})"
            problems.append(_problem(document, "quiz_id", message))
        quiz_files.setdefault(refs.quiz_id, document.file)
        if refs.chapter_id not in defined:
            message = f"quiz is for chapter {refs.chapter_id!r}, which does not exist"
            problems.append(_problem(document, "chapter_id", message))
        elif refs.chapter_id in chapter_quiz:
            message = f"chapter {refs.chapter_id!r} already has quiz {chapter_quiz[refs.chapter_id]!r}"
            problems.append(_problem(document, "chapter_id", message))
        chapter_quiz.setdefault(refs.chapter_id, refs.quiz_id)
    return problems
