"""The questions of an MDX `<Quiz questions={[...]}>` block in the pack's quiz format.

Quiz components in the wild name their fields differently; the common spellings are accepted. A question
whose correct answer cannot be told is left out (the caller warns), never guessed.
"""

from __future__ import annotations

import string
from typing import Any

QUESTION_KEYS = ("question", "questionText", "question_text", "prompt", "text", "q")
OPTION_KEYS = ("options", "choices", "answers")
CORRECT_KEYS = ("correct", "correctAnswer", "correct_answer", "answer", "correctIndex", "correct_index")
EXPLANATION_KEYS = ("explanation", "rationale", "feedback", "why")


def quiz_questions(raw: Any, number: int) -> dict[str, Any] | None:
    """One quiz question as pack data, or None when it has no text or no knowable correct answer."""
    if not isinstance(raw, dict):
        return None
    text = _first(raw, QUESTION_KEYS)
    if not isinstance(text, str) or not text.strip():
        return None
    base: dict[str, Any] = {"question_id": f"q{number}", "question_text": text.strip()}
    explanation = _first(raw, EXPLANATION_KEYS)
    if isinstance(explanation, str) and explanation.strip():
        base["explanation"] = explanation.strip()
    options_raw = _first(raw, OPTION_KEYS)
    correct = _first(raw, CORRECT_KEYS)
    if not isinstance(options_raw, list) or not options_raw:
        if isinstance(correct, bool):
            return {**base, "type": "true_false", "correct_answer": correct}
        if isinstance(correct, str) and correct.strip():
            return {**base, "type": "short_answer", "accepted_answers": [correct.strip()]}
        return None
    options, flagged = _options(options_raw)
    if options is None:
        return None
    correct_ids = flagged or _correct_ids(correct, options)
    if not correct_ids:
        return None
    if len(correct_ids) > 1 or isinstance(correct, list):
        return {**base, "type": "multiple_select", "options": options, "correct_answers": correct_ids}
    return {**base, "type": "multiple_choice", "options": options, "correct_answer": correct_ids[0]}


def _first(raw: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((raw[key] for key in keys if key in raw), None)


def _options(raw: list[Any]) -> tuple[list[dict[str, str]] | None, list[str]]:
    """Options with letter ids, and the ids of options flagged correct inside the option objects."""
    options: list[dict[str, str]] = []
    flagged: list[str] = []
    for index, item in enumerate(raw):
        option_id = string.ascii_lowercase[index] if index < 26 else f"o{index}"
        if isinstance(item, str | int | float) and not isinstance(item, bool):
            options.append({"id": option_id, "text": str(item)})
        elif isinstance(item, dict):
            text = next(
                (item[k] for k in ("text", "label", "answer", "option") if isinstance(item.get(k), str)), None
            )
            if text is None:
                return None, []
            options.append({"id": option_id, "text": text})
            if item.get("correct") is True or item.get("isCorrect") is True:
                flagged.append(option_id)
        else:
            return None, []
    return options, flagged


def _correct_ids(correct: Any, options: list[dict[str, str]]) -> list[str]:
    """Option ids from an index, an option text, a letter, or a list of those."""
    values = correct if isinstance(correct, list) else [correct]
    ids: list[str] = []
    for value in values:
        found = None
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(options):
            found = options[value]["id"]
        elif isinstance(value, str):
            found = next((o["id"] for o in options if o["text"].strip() == value.strip()), None)
            found = found or next((o["id"] for o in options if o["id"] == value.strip().lower()), None)
        if found is None:
            return []
        ids.append(found)
    return ids
