"""The `content` command line: validate and publish."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from companion.config import get_settings
from companion.content.cli import app
from companion.content.publishing import current_version
from companion.content.store import LocalContentStore

from .factories import DOCS_COURSE

runner = CliRunner()


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings that publish into a temporary local store."""
    monkeypatch.setenv("COMPANION_CONTENT_STORE", "local")
    monkeypatch.setenv("COMPANION_CONTENT_STORE_DIR", str(tmp_path / "store"))
    get_settings.cache_clear()
    yield tmp_path / "store"
    get_settings.cache_clear()


def test_validate_a_valid_pack(json_pack: Path) -> None:
    result = runner.invoke(app, ["validate", str(json_pack)])

    assert result.exit_code == 0
    assert "0 error(s), 0 warning(s)" in result.output


def test_validate_prints_every_problem_and_fails(json_pack: Path) -> None:
    (json_pack / "quizzes" / "02-quiz.json").write_text('{\n  "quiz_id": \n}')
    course = json.loads((json_pack / "course.json").read_text())
    course["chapters"].append("03-ghost")
    (json_pack / "course.json").write_text(json.dumps(course))

    result = runner.invoke(app, ["validate", str(json_pack)])

    assert result.exit_code == 1
    assert "quizzes/02-quiz.json:line 3, column 1: error: invalid JSON" in result.output
    assert "course.json:chapters[2]: error: chapter '03-ghost' is listed" in result.output
    assert "2 error(s), 0 warning(s)" in result.output


def test_validate_warnings_do_not_fail(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("Some text.\n")

    result = runner.invoke(app, ["validate", str(tmp_path)])

    assert result.exit_code == 0
    assert ".: warning: no access tiers are set" in result.output
    assert "0 error(s), 1 warning(s)" in result.output


def test_validate_a_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nowhere")])

    assert result.exit_code == 1
    assert "not a folder" in result.output


def test_publish_then_publish_again(store_dir: Path) -> None:
    first = runner.invoke(app, ["publish", str(DOCS_COURSE)])
    second = runner.invoke(app, ["publish", str(DOCS_COURSE)])

    version = current_version(LocalContentStore(store_dir), "robotics-basics")
    assert first.exit_code == 0, first.output
    assert "course: robotics-basics" in first.output
    assert f"version: {version}" in first.output
    assert "published as the new current version" in first.output
    assert second.exit_code == 0
    assert "already the current version" in second.output


def test_publish_refuses_an_invalid_pack(json_pack: Path, store_dir: Path) -> None:
    (json_pack / "chapters" / "01-one.json").write_text("[]")

    result = runner.invoke(app, ["publish", str(json_pack)])

    assert result.exit_code == 1
    assert "chapters/01-one.json: error: file must contain one object" in result.output
    assert "not published" in result.output
    assert not store_dir.exists()


def test_help_describes_both_pack_formats() -> None:
    for command in ("validate", "publish"):
        result = runner.invoke(app, [command, "--help"])

        assert result.exit_code == 0
        text = " ".join(result.output.split())
        for needle in (
            "JSON pack",
            "course.json",
            "Docusaurus",
            "_category_.json",
            "sidebars.js",
            "course.yaml",
        ):
            assert needle in text, (command, needle)
