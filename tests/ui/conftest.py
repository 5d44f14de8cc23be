"""Browser tests: Playwright for Python driving Debian's Chromium (`/usr/bin/chromium`).

Playwright's own browser download cannot work on these machines (no internet), so the tests launch
the system Chromium by path. Without it the tests skip, saying why; with LAB_UI_TESTS=1 (CI) a
missing Chromium or Playwright is an error instead.

Fixtures: `browser` (one Chromium per test module), `page` (a fresh context per test: its own
cookies, 1280x800, the size the pages are made for), and `shot(page, name)`, which writes a
screenshot to reports/ui/<module>/<name>.png (CI keeps them).
"""
from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium")
REPORTS = Path(__file__).resolve().parents[2] / "reports" / "ui"
# Chromium as root in a sandbox-less container, and quiet: no calls home on a machine with no internet.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _unavailable() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _unavailable()
    if reason:
        if os.environ.get("LAB_UI_TESTS") == "1":
            pytest.fail(f"browser tests required (LAB_UI_TESTS=1): {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(20_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """`shot(page, "03-enrol")`: a full-page screenshot under reports/ui/<module>/."""
    folder = REPORTS / request.module.__name__.rsplit(".", 1)[-1]

    def take(page: Any, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
