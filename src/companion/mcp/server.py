"""The Course Companion MCP server: tools, widget and skill resources, and skill prompts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer

from companion.mcp.context import ToolContext
from companion.mcp.prompts import register_prompts
from companion.mcp.resources import register_resources, widget_apps
from companion.mcp.tooling import Toolset
from companion.mcp.tools_content import content_tools
from companion.mcp.tools_learning import learning_tools
from companion.mcp.tools_premium import premium_tools

# Every tool module's Toolset; a new module of tools is added here (and to app-manifest.yaml).
TOOLSETS: tuple[Toolset, ...] = (content_tools, learning_tools, premium_tools)

INSTRUCTIONS = """Course Companion serves courses verbatim and keeps each learner's record; you do the
explaining. Find courses with list_courses and ids with get_course_outline; read with read_section or
read_chapter. Ground every explanation in the text these tools return and cite the section titles;
never invent course content. A result with status "upgrade_required" means the learner's plan does not
include that item: pass on its reason and do not recreate the content from memory. get_quiz never
contains answers: ask the questions, give hints before answers, then grade with submit_quiz_answers.
After the learner reads a section with you, call record_progress. my_progress, my_streak and
my_learning_path report the learner's record and what to study next. On the Pro plan, AI tools
(personalize_chapter, translate_chapter, plan_adaptive_path, grade_open_answers, synthesize_chapters)
spend the learner's monthly AI budget; use them only when the learner asks for what they do. Tools
about the learner's own record need a linked account; when one answers "sign_in_required", ask the
learner to link their account. The prompts concept-explainer, quiz-master, socratic-tutor and
progress-motivator describe how to teach with these tools."""


def create_server(context: Callable[[], ToolContext]) -> MCPServer[ToolContext]:
    """The MCP server; `context` gives the services its tools use once the server starts."""

    @asynccontextmanager
    async def lifespan(_server: MCPServer[ToolContext]) -> AsyncIterator[ToolContext]:
        yield context()

    server: MCPServer[ToolContext] = MCPServer(
        name="course-companion",
        title="Course Companion",
        description="An AI-native course companion: course content, quizzes and learner progress.",
        instructions=INSTRUCTIONS,
        version="1.0.0",
        lifespan=lifespan,
        extensions=[widget_apps()],  # MCP Apps: the widgets as ui:// app resources
    )
    for toolset in TOOLSETS:
        toolset.register(server)
    register_resources(server)
    register_prompts(server)
    return server
