"""The one place errors become responses: every error body is `{"error": {code, message, details}}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from companion import metrics
from companion.errors import CompanionError
from companion.http_limits import payload_too_large
from companion.observability import request_id_var

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _count(code: str, status: int) -> None:
    metrics.ERRORS.labels(code=code, status=str(status)).inc()


def _field_name(item: Any) -> str:
    # ("body", "email") -> "email"; ("query", "limit") -> "limit"; a body that is no JSON -> "body"
    location = item.get("loc", ())
    if item.get("type") == "json_invalid":
        return "body"  # its location ends with a character offset, which names no field
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(part) for part in location)


async def _companion_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CompanionError)
    headers = {"Retry-After": "60"} if error.status_code == 429 else None
    _count(error.code, error.status_code)
    return JSONResponse(error.to_body(), status_code=error.status_code, headers=headers)


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    problems = [
        {
            "field": _field_name(item),
            "message": "is not valid JSON" if item["type"] == "json_invalid" else item.get("msg", "invalid"),
            "type": item["type"],
        }
        for item in error.errors()
    ]
    fields = ", ".join(dict.fromkeys(problem["field"] for problem in problems))
    message = f"Invalid value for: {fields}." if fields else "The request is invalid."
    _count("validation_error", 422)
    return JSONResponse(_body("validation_error", message, {"errors": problems}), status_code=422)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 400:
        # The framework's only 400: a body it could not parse. In the contract that is a 422.
        problem = {"field": "body", "message": "could not be parsed", "type": "body_unparsable"}
        return JSONResponse(
            _body("validation_error", "Invalid value for: body.", {"errors": [problem]}), status_code=422
        )
    if error.status_code == 413:
        too_large = payload_too_large(request.app.state.settings.max_request_bytes)
        return JSONResponse(too_large.to_body(), status_code=413)
    code = _HTTP_CODES.get(error.status_code, "http_error")
    message = error.detail if isinstance(error.detail, str) else "Request failed."
    _count(code, error.status_code)
    return JSONResponse(
        _body(code, message), status_code=error.status_code, headers=getattr(error, "headers", None)
    )


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    # This runs outside the request-id middleware (which has already reset its context variable),
    # so the id is read from the request's state, set there by the middleware.
    request_id = getattr(request.state, "request_id", None) or request_id_var.get()
    token = request_id_var.set(request_id)
    try:
        logger.exception("unhandled error", exc_info=error)
    finally:
        request_id_var.reset(token)
    _count("internal_error", 500)
    return JSONResponse(
        _body(
            "internal_error",
            "Something went wrong on our side; the request was not completed.",
            {"request_id": request_id},
        ),
        status_code=500,
        headers={"X-Request-ID": request_id},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that render every error in the one body shape."""
    app.add_exception_handler(CompanionError, _companion_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
