"""Quiz errors with stable codes."""

from __future__ import annotations

from typing import Any

from companion.errors import Conflict, NotFound, ValidationFailed


class InvalidAnswers(ValidationFailed):
    def __init__(self, *, missing: list[str], unknown: list[str], invalid: list[dict[str, Any]]) -> None:
        problems = []
        if missing:
            problems.append(f"missing answers for {', '.join(missing)}")
        if unknown:
            problems.append(f"no such questions: {', '.join(unknown)}")
        if invalid:
            problems.append(f"invalid answers for {', '.join(item['question_id'] for item in invalid)}")
        super().__init__(
            "The answers cannot be graded: " + "; ".join(problems) + ".",
            details={"missing": missing, "unknown": unknown, "invalid": invalid},
        )


class AttemptNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such quiz attempt.")


class AttemptAlreadySubmitted(Conflict):
    def __init__(self, attempt_number: int) -> None:
        super().__init__(
            f"Attempt {attempt_number} was already submitted; start a new attempt to try again.",
            details={"attempt_number": attempt_number},
        )


class AttemptNotSubmitted(Conflict):
    def __init__(self) -> None:
        super().__init__("This attempt has not been submitted yet; there is nothing to grade.")


class InvalidGrades(ValidationFailed):
    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__(
            "These grades cannot be recorded: "
            + "; ".join(f"{item['question_id']}: {item['message']}" for item in problems)
            + ".",
            details={"invalid": problems},
        )
