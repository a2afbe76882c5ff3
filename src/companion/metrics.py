"""Prometheus metrics: request latency by route template, errors by code, cache, jobs, search.

One registry per process. Under `companion serve --workers N` every worker also writes its figures to
the folder named by PROMETHEUS_MULTIPROC_DIR (set by `serve` before the workers start), and `/metrics`
answers with the sum over all workers, whichever worker the scrape reaches.
"""

from __future__ import annotations

import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# prometheus_client reads this variable when it is imported: workers see it because `serve` sets it first.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
REGISTRY = CollectorRegistry(auto_describe=True)

REQUEST_LATENCY = Histogram(
    "companion_http_request_duration_seconds",
    "HTTP request latency by route template, method and status class.",
    ["route", "method", "status"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ERRORS = Counter(
    "companion_errors_total",
    "Error responses by stable error code and HTTP status.",
    ["code", "status"],
    registry=REGISTRY,
)
CACHE_LOOKUPS = Counter(
    "companion_cache_lookups_total", "Cache reads by outcome (hit or miss).", ["outcome"], registry=REGISTRY
)
JOB_RUNS = Counter(
    "companion_job_runs_total", "Completed scheduled or manual job runs.", ["job"], registry=REGISTRY
)
JOB_ROWS_CHANGED = Counter(
    "companion_job_rows_changed_total", "Rows changed by job runs.", ["job"], registry=REGISTRY
)
JOB_DURATION = Histogram(
    "companion_job_duration_seconds", "How long job runs take.", ["job"], registry=REGISTRY
)
SEARCH_LATENCY = Histogram(
    "companion_search_duration_seconds",
    "Course search latency inside the service, by mode (hybrid or lexical).",
    ["mode"],
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0),
)
LLM_TOKENS = Counter(
    "companion_llm_tokens_total",
    "LLM tokens by feature and direction.",
    ["feature", "direction"],
    registry=REGISTRY,
)
LLM_COST = Counter(
    "companion_llm_cost_usd_total", "LLM cost in US dollars by feature.", ["feature"], registry=REGISTRY
)


def record_llm_usage(*, feature: str, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
    """Count one LLM call's tokens and cost (called where the usage ledger row is written)."""
    LLM_TOKENS.labels(feature=feature, direction="input").inc(input_tokens)
    LLM_TOKENS.labels(feature=feature, direction="output").inc(output_tokens)
    LLM_COST.labels(feature=feature).inc(cost_usd)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type: every worker's figures when several share a folder."""
    if os.environ.get(MULTIPROCESS_ENV):
        from prometheus_client.multiprocess import MultiProcessCollector

        combined = CollectorRegistry()
        MultiProcessCollector(combined)
        return generate_latest(combined), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Times every HTTP request and labels it with its route template (never the raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
            REQUEST_LATENCY.labels(
                route=template, method=scope["method"], status=f"{status // 100}xx"
            ).observe(time.perf_counter() - started)
