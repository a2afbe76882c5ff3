"""The tutor panel beside the reader: ask, ask about a selected passage, and the last 24 hours of chats."""

from __future__ import annotations

import re
import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from pydantic import ValidationError

from companion.content import html as content_html
from companion.dependencies import SessionDep
from companion.errors import ValidationFailed
from companion.tutor import service as tutor_service
from companion.tutor.dependencies import TutorServicesDep
from companion.tutor.schemas import ConversationCreate, MessageCreate, MessageRead, SelectedContext
from companion.web.dependencies import CsrfProtected, Learner, count_web_activity
from companion.web.templating import render, templates

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

_MARKER = re.compile(r"\[(\d+)\](?!\()")
_LINKED_LINE = re.compile(r"^- (?P<text>.+) \((?P<url>/courses/[^\s()]+)\)$", re.MULTILINE)


def answer_html(message: MessageRead) -> Markup:
    """An answer's text as HTML: [n] markers link to their sources, section mentions link into the reader."""
    text = message.content.split("\nSources:", 1)[0]
    sources = message.sources or []

    def cite(match: re.Match[str]) -> str:
        number = int(match[1])
        if 1 <= number <= len(sources):
            return f"[\\[{number}\\]]({sources[number - 1].url})"
        return match[0]

    text = _MARKER.sub(cite, text)
    text = _LINKED_LINE.sub(lambda match: f"- [{match['text']}]({match['url']})", text)
    return Markup(content_html.markdown_to_html(text))


templates.env.filters["answer_html"] = answer_html


def _message(
    content: str, selected_text: str | None, chapter_id: str | None, section_id: str | None
) -> MessageCreate:
    try:
        context = (
            SelectedContext(chapter_id=chapter_id, section_id=section_id or None)
            if selected_text and chapter_id
            else None
        )
        return MessageCreate(content=content, selected_text=selected_text or None, selected_context=context)
    except ValidationError as error:
        raise ValidationFailed("Write a question of up to 5,000 characters.") from error


@router.post("/tutor/ask", dependencies=[CsrfProtected])
async def ask(
    request: Request,
    learner: Learner,
    session: SessionDep,
    services: TutorServicesDep,
    content: Annotated[str, Form()],
    course_id: Annotated[str | None, Form()] = None,
    conversation_id: Annotated[uuid.UUID | None, Form()] = None,
    selected_text: Annotated[str | None, Form()] = None,
    selected_chapter_id: Annotated[str | None, Form()] = None,
    selected_section_id: Annotated[str | None, Form()] = None,
) -> Response:
    """Ask the tutor (optionally about a selected passage); answers with cited course passages."""
    message = _message(content, selected_text, selected_chapter_id, selected_section_id)
    user = learner.user
    if conversation_id is None:
        created = await tutor_service.create_conversation(
            session, user=user, data=ConversationCreate(course_id=course_id or None), services=services
        )
        conversation_id = created.id
    conversation = await tutor_service.get_conversation(session, user=user, conversation_id=conversation_id)
    exchange = await tutor_service.ask(
        session, user=user, conversation=conversation, message=message, services=services
    )
    await count_web_activity(session, learner, chapter_id=selected_chapter_id or None)
    return render(request, "_exchange.html", {"exchange": exchange}, identity=learner)


@router.get("/tutor/conversations")
async def conversations(request: Request, learner: Learner, session: SessionDep) -> Response:
    """The learner's conversations of the last 24 hours, newest first."""
    items = await tutor_service.list_conversations(session, user=learner.user, limit=20)
    return render(request, "_conversations.html", {"conversations": items}, identity=learner)


@router.get("/tutor/conversations/{conversation_id}")
async def conversation(
    conversation_id: uuid.UUID, request: Request, learner: Learner, session: SessionDep
) -> Response:
    """One conversation with its messages (a fragment for the panel, or a page of its own)."""
    found = await tutor_service.get_conversation(session, user=learner.user, conversation_id=conversation_id)
    detail = await tutor_service.conversation_detail(session, conversation=found)
    template = "_conversation.html" if "HX-Request" in request.headers else "conversation.html"
    return render(request, template, {"conversation": detail}, identity=learner)
