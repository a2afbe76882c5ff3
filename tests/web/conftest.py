"""Web fixtures: the application served on a loopback port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.config import Settings
from tests.live import serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def web_server(settings: Settings) -> Iterator[str]:
    """The application run by uvicorn in a background thread; yields its base URL."""
    with serving(settings, start_timeout=60) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Playwright driving the system Chromium (never a downloaded browser)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def browser_context_factory(chromium: object) -> Iterator[object]:
    """Opens fresh browser profiles (their own user-data dir) with a given viewport; closes them after."""
    opened: list[tuple[object, str]] = []

    def open_context(width: int, height: int, *, mobile: bool = False) -> object:
        profile = tempfile.mkdtemp(prefix="companion-chromium-")
        context = chromium.chromium.launch_persistent_context(  # type: ignore[attr-defined]
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
            is_mobile=mobile,
            has_touch=mobile,
        )
        opened.append((context, profile))
        return context

    yield open_context
    for context, profile in opened:
        context.close()  # type: ignore[attr-defined]
        shutil.rmtree(profile, ignore_errors=True)
