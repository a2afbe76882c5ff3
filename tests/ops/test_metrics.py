"""Prometheus metrics: route templates, error codes, cache lookups, jobs; guarded by a token."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from companion.config import Settings
from companion.jobs.registry import JOBS, run_job


async def test_metrics_name_route_templates_errors_cache_and_jobs(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    chapter = "/api/v1/courses/genai-fundamentals/chapters/01-intro-genai"
    assert (await client.get(chapter)).status_code == 200
    assert (
        await client.get("/api/v1/courses/genai-fundamentals/chapters/no-such-chapter")
    ).status_code == 404
    await run_job(app.state.sessionmaker, JOBS["purge-chats"])

    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'route="/api/v1/courses/{course_id}/chapters/{chapter_id}"' in text
    assert "01-intro-genai" not in text  # raw paths never become labels
    assert 'companion_errors_total{code="not_found",status="404"}' in text
    assert "companion_cache_lookups_total" in text
    assert 'companion_job_runs_total{job="purge-chats"}' in text
    assert 'companion_job_rows_changed_total{job="purge-chats"}' in text


async def test_metrics_need_the_token_when_set_and_are_closed_in_production(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "metrics_token", "scrape-" + "t" * 30)
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 403
    allowed = await client.get("/metrics", headers={"Authorization": "Bearer scrape-" + "t" * 30})
    assert allowed.status_code == 200 and "companion_http_request_duration_seconds" in allowed.text
    monkeypatch.setattr(settings, "metrics_token", None)
    monkeypatch.setattr(settings, "environment", "production")
    closed = await client.get("/metrics")
    assert closed.status_code == 403 and "COMPANION_METRICS_TOKEN" in closed.json()["error"]["message"]
