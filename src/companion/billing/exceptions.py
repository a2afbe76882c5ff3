"""Billing errors."""

from __future__ import annotations

from companion.errors import CompanionError, ServiceUnavailable


class InvalidSignature(CompanionError):
    """A webhook whose signature does not verify: nothing in it is applied."""

    status_code = 400
    code = "invalid_signature"


class PaymentsNotConfigured(ServiceUnavailable):
    """This server has no payment provider (or no price for the tier) configured."""


class PaymentProviderError(ServiceUnavailable):
    """The payment provider could not be reached or refused the call."""
