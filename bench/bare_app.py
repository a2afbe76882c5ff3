"""A bare Starlette app serving one JSON document: the baseline the product endpoints are compared with."""

from __future__ import annotations

import json
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# The same document the product serves, so both endpoints move the same bytes.
_DOCUMENT = json.loads(Path(os.environ["BARE_DOCUMENT"]).read_text())


async def chapter(_request: Request) -> JSONResponse:
    return JSONResponse(_DOCUMENT)


async def submit(request: Request) -> JSONResponse:
    # Parses the posted body as the product does, then answers with the product's response.
    await request.json()
    return JSONResponse(_DOCUMENT, status_code=201)


app = Starlette(routes=[Route("/chapter", chapter), Route("/submit", submit, methods=["POST"])])
