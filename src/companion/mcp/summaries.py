"""The text beside each tool's structured content: what the model reads, short and without JSON.

ChatGPT gives the model both the structured content and the text; MCP Apps hosts such as Claude give
the model only the text and keep the structured content for the widget. So the text carries what
the assistant needs to act (ids, states, reasons) in a few lines, and the reading tools carry the
course text itself as Markdown, since explanations must be grounded in it; everything else (metadata,
versions, scores per field) stays in the structured content only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Summary = Callable[[dict[str, Any]], str]


def _percent(value: Any) -> str:
    return f"{round(float(value))}%" if isinstance(value, int | float) else "not graded yet"


def _courses(result: dict[str, Any]) -> str:
    lines = [f"{len(result['courses'])} course(s):"]
    for course in result["courses"]:
        lines.append(
            f"- {course['title']} (course_id {course['course_id']}): {course['chapter_count']} chapters, "
            f"{course['free_chapter_count']} free. {course['description']}"
        )
    return "\n".join(lines)


def _outline(result: dict[str, Any]) -> str:
    lines = [f"{result['title']} (course_id {result['course_id']}); your plan: {result['your_tier']}."]
    for chapter in result["chapters"]:
        access = (
            "open" if chapter["access"]["allowed"] else f"locked, needs {chapter['access']['required_tier']}"
        )
        progress = chapter.get("progress")
        state = f", {progress['state']}" if progress else ""
        quiz = f"; quiz_id {chapter['quiz_id']}" if chapter.get("quiz_id") else ""
        if chapter.get("sections") is None:
            sections = f"{chapter['section_count']} sections"
        else:
            sections = "sections: " + ", ".join(section["section_id"] for section in chapter["sections"])
        lines.append(
            f"{chapter['chapter_number']}. {chapter['title']} (chapter_id {chapter['chapter_id']}; "
            f"{access}{state}{quiz}); {sections}"
        )
    if result.get("next_cursor"):
        shown = len(result["chapters"])
        lines.append(
            f"{shown} of {result['chapter_count']} chapters shown; "
            f"call again with cursor {result['next_cursor']} for the next ones."
        )
    return "\n".join(lines)


def _section_markdown(section: dict[str, Any]) -> list[str]:
    parts = [f"## {section['title']} (section_id {section['section_id']})", section["content_markdown"]]
    for example in section.get("examples") or []:
        title = example.get("title") or example.get("name") or "Example"
        body = example.get("content") or example.get("description") or example.get("code") or ""
        parts.append(f"**{title}**\n{body}")
    if section.get("key_concepts"):
        parts.append("Key concepts: " + "; ".join(section["key_concepts"]))
    return parts


def _chapter(result: dict[str, Any]) -> str:
    if result["status"] != "ok":  # end or start of the course
        return str(result["message"])
    chapter = result["chapter"]
    parts = [
        f"# Chapter {chapter['chapter_number']}: {chapter['title']} "
        f"(course_id {chapter['course_id']}, chapter_id {chapter['chapter_id']})"
    ]
    if chapter.get("learning_objectives"):
        parts.append("Learning objectives:\n" + "\n".join(f"- {o}" for o in chapter["learning_objectives"]))
    for section in chapter["sections"]:
        parts.extend(_section_markdown(section))
    if chapter.get("summary"):
        parts.append(f"## Summary\n{chapter['summary']}")
    neighbours = [
        f"quiz_id {chapter['quiz_id']}" if chapter.get("quiz_id") else None,
        f"previous chapter {chapter['previous_chapter_id']}" if chapter.get("previous_chapter_id") else None,
        f"next chapter {chapter['next_chapter_id']}" if chapter.get("next_chapter_id") else None,
    ]
    parts.append("; ".join(n for n in neighbours if n) or "No quiz and no neighbouring chapters.")
    return "\n\n".join(parts)


def _section(result: dict[str, Any]) -> str:
    parts = [f"From chapter {result['chapter_title']} (chapter_id {result['chapter_id']})."]
    parts.extend(_section_markdown(result["section"]))
    for label in ("previous", "next"):
        link = result.get(label)
        if link:
            parts.append(
                f"{label.title()}: {link['title']} "
                f"(chapter_id {link['chapter_id']}, section_id {link['section_id']})"
            )
    return "\n\n".join(parts)


def _quiz(result: dict[str, Any]) -> str:
    quiz = result["quiz"]
    limit = f", {quiz['time_limit_minutes']} min limit" if quiz.get("time_limit_minutes") else ""
    lines = [
        f"{quiz['title']} (quiz_id {quiz['quiz_id']}): {len(quiz['questions'])} questions, "
        f"pass at {quiz['passing_score']}%{limit}. Ask them one at a time; grade with submit_quiz_answers."
    ]
    for number, question in enumerate(quiz["questions"], start=1):
        lines.append(f"{number}. [{question['question_id']}, {question['type']}] {question['question_text']}")
        for option in question.get("options") or []:
            lines.append(f"   {option['id']}) {option['text']}")
    return "\n".join(lines)


def _access(result: dict[str, Any]) -> str:
    verdict = "Allowed" if result["allowed"] else f"Not included: needs the {result['required_tier']} plan"
    return f"{verdict} (current plan: {result['current_tier']}). {result['reason']}"


def _search(result: dict[str, Any]) -> str:
    hits = result["results"]
    # Lexical only (an index still being built, no model): the assistant should know the answer may be thin.
    caveat = f" ({result['degraded_reason']})" if result["degraded_reason"] else ""
    if not hits:
        return f'No passage matches "{result["query"]}"{caveat}.'
    lines = [f'{len(hits)} passage(s) for "{result["query"]}" ({result["mode"]} search{caveat}), best first:']
    for number, hit in enumerate(hits, start=1):
        where = (
            f"{hit['chapter_title']} > {hit['section_title']} "
            f"(chapter_id {hit['chapter_id']}, section_id {hit['section_id']})"
        )
        if hit["locked"]:
            lines.append(f"{number}. {where}: locked, needs the {hit['required_tier']} plan.")
        else:
            lines.append(f"{number}. {where}:\n{hit['content']}")
    return "\n\n".join(lines)


def _whoami(result: dict[str, Any]) -> str:
    if not result["signed_in"]:
        return f"Not signed in: free content only. {result['how_to_sign_in']}"
    user = result["user"]
    return (
        f"Signed in as {user['full_name']} <{user['email']}> on the {result['tier']} plan "
        f"(by {result['auth_method']}; scopes: {', '.join(result['scopes'])})."
    )


def _verdict(attempt: dict[str, Any]) -> str:
    if attempt["passed"] is None:  # open answers still awaiting a grader decide the outcome
        return "outcome awaiting grading"
    return "passed" if attempt["passed"] else "not passed"


def _graded(result: dict[str, Any]) -> str:
    attempt = result["attempt"]
    lines = [
        f"Attempt {attempt['attempt_number']} at {attempt['quiz_id']}: "
        f"{_percent(attempt['score'])}, {_verdict(attempt)} (pass at {result['passing_score']}%); "
        f"{attempt['correct_answers']} of {attempt['total_questions']} correct, "
        f"{attempt['pending_questions']} awaiting review."
    ]
    for detail in (attempt.get("grading_details") or {}).values():
        line = f"- {detail['question_id']}: {detail['status']}"
        if detail["status"] == "incorrect":
            line += f"; correct answer: {detail['correct_answer']}"
        if detail.get("explanation"):
            line += f". {detail['explanation']}"
        lines.append(line)
    return "\n".join(lines)


def _course_progress(course: dict[str, Any]) -> str:
    line = (
        f"{course['title']} (course_id {course['course_id']}): {course['chapters_completed']} of "
        f"{course['chapters_total']} chapters completed, {_percent(course['completion_percentage'])} overall."
    )
    upcoming = course.get("next_chapter")
    if upcoming:
        line += f" Next: {upcoming['title']} (chapter_id {upcoming['chapter_id']}): {upcoming['reason']}"
    for chapter in course.get("chapters", []):
        if chapter["state"] != "not_started" or chapter["quiz"]["attempts"]:
            line += (
                f"\n- {chapter['chapter_id']}: {chapter['state']}, "
                f"{_percent(chapter['completion_percentage'])} read, "
                f"best quiz score {_percent(chapter['quiz']['best_score'])}"
            )
    return line


def _streak_line(streak: dict[str, Any]) -> str:
    today = "studied today" if streak["active_today"] else "not studied yet today"
    return f"Streak: {streak['current_streak']} day(s), longest {streak['longest_streak']}, {today}" + (
        ", a streak freeze is held." if streak["freeze_held"] else "."
    )


def _progress(result: dict[str, Any]) -> str:
    if "courses" in result:
        return "\n".join([_streak_line(result["streak"]), *(_course_progress(c) for c in result["courses"])])
    return _course_progress(result)


def _recorded(result: dict[str, Any]) -> str:
    progress = result["progress"]
    return (
        f"Recorded: chapter {progress['chapter_id']} is {progress['state']}, "
        f"{_percent(progress['completion_percentage'])} read (sections read: "
        f"{', '.join(progress['sections_read']) or 'none'})."
    )


def _streak(result: dict[str, Any]) -> str:
    return _streak_line(result["streak"])


def _learning_path(result: dict[str, Any]) -> str:
    path = result["learning_path"]
    lines = [path["rationale"]]
    for chapter in path["chapters"]:
        locked = f" (locked: needs {chapter['required_tier']})" if chapter["locked"] else ""
        lines.append(
            f"{chapter['priority']}. {chapter['title']} (chapter_id {chapter['chapter_id']}){locked}: "
            f"{chapter['reason']}"
        )
    return "\n".join(lines)


def _cost(usage: dict[str, Any]) -> str:
    if usage["cached"]:
        return "Served from the cache (no model call, no cost)."
    tokens = f"{usage['input_tokens']} + {usage['output_tokens']} tokens"
    return f"Model {usage['model']}: {tokens}, ${usage['cost_usd']:.4f}."


def _rewritten(result: dict[str, Any], key: str, heading: str) -> str:
    chapter = result[key]
    parts = [f"# {chapter['title']} ({heading}; chapter_id {chapter['chapter_id']})"]
    for section in chapter["sections"]:
        parts.append(f"## {section['title']} (section_id {section['section_id']})")
        parts.append(section["content_markdown"])
    parts.append(_cost(chapter["usage"]))
    return "\n\n".join(parts)


def _personalized(result: dict[str, Any]) -> str:
    chapter = result["chapter"]
    background = f"for software {chapter['software_experience']}, hardware {chapter['hardware_experience']}"
    return _rewritten(result, "chapter", f"personalised {background}")


def _translated(result: dict[str, Any]) -> str:
    translation = result["translation"]
    return _rewritten(result, "translation", f"in {translation['language']}, {translation['direction']}")


def _adaptive_path(result: dict[str, Any]) -> str:
    return _learning_path(result) + "\n" + _cost(result["usage"])


def _open_grades(result: dict[str, Any]) -> str:
    attempt = result["attempt"]
    lines = [
        f"Graded {len(result['graded_questions'])} open answer(s) of attempt {attempt['attempt_number']} "
        f"at {attempt['quiz_id']}: now {_percent(attempt['score'])}, {_verdict(attempt)}; "
        f"{attempt['pending_questions']} still awaiting review."
    ]
    details = attempt.get("grading_details") or {}
    for question_id in result["graded_questions"]:
        detail = details.get(question_id, {})
        lines.append(
            f"- {question_id}: {detail.get('status', 'graded')}. {detail.get('feedback') or ''}".rstrip()
        )
    lines.append(_cost(result["usage"]))
    return "\n".join(lines)


def _synthesis(result: dict[str, Any]) -> str:
    sources = [
        f"[{number}] {source['chapter_title']} / {source['section_title']}: {source['url']}"
        for number, source in enumerate(result["sources"], start=1)
    ]
    return "\n\n".join([result["answer"], "Sources:\n" + "\n".join(sources), _cost(result["usage"])])


def _usage(result: dict[str, Any]) -> str:
    usage = result["usage"]
    lines = [
        f"AI usage in {usage['month']} ({usage['tier']} plan): {usage['calls']} call(s), "
        f"{usage['input_tokens']} input + {usage['output_tokens']} output tokens, ${usage['cost_usd']:.4f}; "
        f"${usage['budget_left_usd']:.4f} of ${usage['budget_usd']:.2f} left this month."
    ]
    for feature in usage["by_feature"]:
        lines.append(f"- {feature['feature']}: {feature['calls']} call(s), ${feature['cost_usd']:.4f}")
    return "\n".join(lines)


SUMMARIES: dict[str, Summary] = {
    "personalize_chapter": _personalized,
    "translate_chapter": _translated,
    "plan_adaptive_path": _adaptive_path,
    "grade_open_answers": _open_grades,
    "synthesize_chapters": _synthesis,
    "my_ai_usage": _usage,
    "list_courses": _courses,
    "get_course_outline": _outline,
    "read_chapter": _chapter,
    "next_chapter": _chapter,
    "previous_chapter": _chapter,
    "read_section": _section,
    "get_quiz": _quiz,
    "check_access": _access,
    "search_course": _search,
    "whoami": _whoami,
    "submit_quiz_answers": _graded,
    "record_progress": _recorded,
    "my_progress": _progress,
    "my_streak": _streak,
    "my_learning_path": _learning_path,
}


def summarize(summary: Summary, result: dict[str, Any]) -> str:
    """The text for a tool's successful result (an `upgrade_required` answer is its reason)."""
    if result.get("status") == "upgrade_required":
        needs = f"Not in the caller's plan (needs {result['required_tier']})"
        return f"{needs}: {result['reason']} {result['guidance']}"
    return summary(result)
