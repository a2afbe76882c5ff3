"""One error hierarchy: every domain error carries an HTTP status and a stable code."""

from __future__ import annotations

from typing import Any


class CompanionError(Exception):
    """Base of every error a client may see; rendered as `{"error": {code, message, details}}`."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_body(self) -> dict[str, Any]:
        """The JSON body shared by every error response."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ValidationFailed(CompanionError):
    status_code = 422
    code = "validation_error"


class Unauthorized(CompanionError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "Authentication required.", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)


class Forbidden(CompanionError):
    status_code = 403
    code = "forbidden"


class UpgradeRequired(CompanionError):
    status_code = 403
    code = "upgrade_required"

    def __init__(self, message: str, *, required_tier: str, **details: Any) -> None:
        super().__init__(message, details={"required_tier": required_tier, **details})
        self.required_tier = required_tier


class NotFound(CompanionError):
    status_code = 404
    code = "not_found"


class Conflict(CompanionError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(CompanionError):
    status_code = 413
    code = "payload_too_large"


class UriTooLong(CompanionError):
    status_code = 414
    code = "uri_too_long"


class HeadersTooLarge(CompanionError):
    status_code = 431
    code = "headers_too_large"


class RateLimited(CompanionError):
    status_code = 429
    code = "rate_limited"


class BudgetExceeded(CompanionError):
    status_code = 402
    code = "budget_exceeded"


class LLMUnavailable(CompanionError):
    """No model provider is configured, or the provider failed to answer."""

    status_code = 503
    code = "llm_unavailable"


class LLMTimeout(LLMUnavailable):
    """The model provider did not answer within the configured timeout."""

    code = "llm_timeout"


class LLMInvalidOutput(CompanionError):
    """The model's answer did not fit the expected shape, even after one retry."""

    status_code = 502
    code = "llm_invalid_output"


class ServiceUnavailable(CompanionError):
    status_code = 503
    code = "service_unavailable"
