"""Fixtures for the content tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .factories import write_pack


@pytest.fixture
def json_pack(tmp_path: Path) -> Path:
    """A valid JSON pack in a temporary folder, free to be edited by the test."""
    return write_pack(tmp_path / "mini-course")
