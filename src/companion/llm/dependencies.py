"""The application's LLM gateway as a typed dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from companion.llm.gateway import LLMGateway


async def get_llm(request: Request) -> LLMGateway:
    """The gateway the application was started with."""
    gateway: LLMGateway = request.app.state.llm
    return gateway


LLMDep = Annotated[LLMGateway, Depends(get_llm)]
