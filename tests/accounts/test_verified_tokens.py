"""Verified access tokens are remembered, never beyond their expiry or for another secret."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from companion.accounts import security
from companion.errors import Unauthorized

SECRET = "s" * 48


def _token() -> str:
    token, _expires_at = security.create_access_token(
        user_id=uuid.uuid4(), role="learner", secret=SECRET, algorithm="HS256", lifetime=timedelta(minutes=5)
    )
    return token


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = _token()
    claims = security.decode_access_token(token, secret=SECRET, algorithm="HS256")
    assert security.decode_access_token(token, secret=SECRET, algorithm="HS256") is claims  # remembered

    class _AnHourLater(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return datetime.now(UTC) + timedelta(hours=1)

    monkeypatch.setattr(security, "datetime", _AnHourLater)
    with pytest.raises(Unauthorized, match="expired"):
        security.decode_access_token(token, secret=SECRET, algorithm="HS256")


def test_a_remembered_token_is_checked_again_under_another_secret() -> None:
    token = _token()
    security.decode_access_token(token, secret=SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized, match="invalid"):
        security.decode_access_token(token, secret="t" * 48, algorithm="HS256")
