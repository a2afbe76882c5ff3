"""Where the real Docusaurus books live: `../shared/data/books/physicalaibook` next to the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# A worktree elsewhere can point at the books with COMPANION_TEST_BOOKS; under CI they must be there.
BOOKS = Path(
    os.environ.get("COMPANION_TEST_BOOKS") or REPO.parent / "shared" / "data" / "books" / "physicalaibook"
)
BOOK_NAMES = ("cehrs", "physical-ai")


def require_books() -> Path:
    """The books folder; skips the test when it is absent outside CI, fails under CI."""
    if not BOOKS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the Docusaurus books are missing at {BOOKS}")
        pytest.skip(f"the Docusaurus books are not at {BOOKS}")
    return BOOKS
