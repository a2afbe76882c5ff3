"""A bare Starlette app serving one JSON document: the baseline the chapter endpoint is compared with."""

from __future__ import annotations

import json
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# The same chapter document the product serves, so both endpoints move the same bytes.
_DOCUMENT = json.loads(Path(os.environ["BARE_DOCUMENT"]).read_text())


async def chapter(_request: Request) -> JSONResponse:
    return JSONResponse(_DOCUMENT)


app = Starlette(routes=[Route("/chapter", chapter)])
