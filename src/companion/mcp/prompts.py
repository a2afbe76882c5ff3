"""The assistant skills: SKILL.md files, served as MCP prompts (and, by resources.py, as documents)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import frontmatter
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts import Prompt
from pydantic import Field

SKILLS_DIR = Path(__file__).parent / "skills"


@dataclass(frozen=True)
class Skill:
    """One SKILL.md: its front-matter metadata and its instructions."""

    name: str
    title: str
    description: str
    triggers: tuple[str, ...]
    tools: tuple[str, ...]
    instructions: str
    path: Path

    @property
    def uri(self) -> str:
        """The skill's resource URI."""
        return f"skill://{self.name}/SKILL.md"


def _strings(path: Path, value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ValueError(f"{path}: expected a list in the front matter, got {value!r}")
    return tuple(str(item) for item in value)


def _read_skill(path: Path) -> Skill:
    document = frontmatter.load(str(path))
    metadata = document.metadata
    name = str(metadata["name"])
    if name != path.parent.name:
        raise ValueError(f"{path}: front-matter name '{name}' differs from its folder name")
    return Skill(
        name=name,
        title=str(metadata.get("title", name)),
        description=str(metadata["description"]),
        triggers=_strings(path, metadata.get("triggers", [])),
        tools=_strings(path, metadata.get("tools", [])),
        instructions=document.content.strip(),
        path=path,
    )


@cache
def load_skills() -> tuple[Skill, ...]:
    """Every skill under skills/<name>/SKILL.md, by name."""
    return tuple(_read_skill(path) for path in sorted(SKILLS_DIR.glob("*/SKILL.md")))


def _prompt(skill: Skill) -> Prompt:
    def render(
        request: Annotated[
            str | None, Field(description="What the learner asked, in their own words (optional).")
        ] = None,
    ) -> str:
        if not request:
            return skill.instructions
        return f"{skill.instructions}\n\n---\n\nThe learner's request: {request}"

    return Prompt.from_function(render, name=skill.name, title=skill.title, description=skill.description)


def register_prompts(server: MCPServer[Any]) -> None:
    """Offer every skill as a prompt whose text is the SKILL.md instructions."""
    for skill in load_skills():
        server.add_prompt(_prompt(skill))
