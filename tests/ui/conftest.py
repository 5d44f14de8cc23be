"""Browser tests: Playwright for Python driving Debian's Chromium (`/usr/bin/chromium`).

Playwright's own browser download cannot work on these machines (no internet), so the tests launch
the system Chromium by path. Without it the tests skip, saying why; with LAB_UI_TESTS=1 (CI) a
missing Chromium or Playwright is an error instead.

Fixtures: `browser` (one Chromium per test module), `page` (a fresh context per test: its own
cookies, 1280x800, the size the pages are made for), and `shot(page, name)`, which writes a
screenshot to reports/ui/<module>/<name>.png (CI keeps them).

The org's pages are HTTPS with a certificate from the lab CA. The browsers trust that CA the way a
trainee's does after `lab ca trust`: Chromium runs with a HOME of its own (`browser_home`) whose
NSS database (~/.pki/nssdb, what Chromium on Linux reads) gets the CA of each lab a test uses,
added with NSS's certutil (lab/browser_trust.py) -- never by ignoring certificate errors. Which
labs: the topologies among a browser test's fixtures (`lab`, `org`, ...), trusted before the test
runs; Chromium reads the database again for each new context. certutil comes from Debian's
libnss3-tools.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lab import browser_trust

CHROMIUM = os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium")
REPORTS = Path(__file__).resolve().parents[2] / "reports" / "ui"
# Chromium as root in a sandbox-less container, and quiet: no calls home on a machine with no internet.
# The fixtures that hold a running lab's topology in the UI modules.
LAB_FIXTURES = ("lab", "org", "mail", "topology")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _unavailable() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if not shutil.which("certutil"):
        return "no certutil to trust the lab CA in the browser (apt-get install libnss3-tools)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="module")
def browser_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The browser's HOME: an empty NSS database at ~/.pki/nssdb, as on a trainee's machine where
    Chromium has run once. It must exist before Chromium starts: Chromium opens it at start-up and
    then sees certificates added to it, but does not look for one made later."""
    home = tmp_path_factory.mktemp("browser-home")
    if shutil.which("certutil"):
        db = home / browser_trust.NSS_DB
        db.mkdir(mode=0o700, parents=True)
        subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                       capture_output=True, timeout=30)
    return home


def launch(pw: Any, home: Path) -> Any:
    """Chromium reading `home`'s NSS database (and nothing that ignores certificate errors)."""
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                              env=dict(os.environ, HOME=str(home)))


@pytest.fixture(scope="module")
def browser(browser_home: Path) -> Iterator[Any]:
    reason = _unavailable()
    if reason:
        if os.environ.get("LAB_UI_TESTS") == "1":
            pytest.fail(f"browser tests required (LAB_UI_TESTS=1): {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        chromium = launch(pw, browser_home)
        try:
            yield chromium
        finally:
            chromium.close()


def trust_lab_ca(home: Path, topology: dict[str, Any]) -> None:
    """What `lab ca trust` does for this lab's CA, in the browser's HOME (certutil)."""
    ca_file = (topology.get("ca") or {}).get("cert")
    if ca_file:
        browser_trust.install(Path(ca_file), home / browser_trust.NSS_DB)


@pytest.fixture(autouse=True)
def _trust_the_labs_ca(request: pytest.FixtureRequest) -> None:
    """Before a browser test: the CA of each lab among its fixtures goes into the browser's NSS
    database, as the trainee's `lab ca trust` does (a module setting TRUST_LAB_CA = False opts
    out: it shows what a browser without the CA gets)."""
    if "browser" not in request.fixturenames or not getattr(request.module, "TRUST_LAB_CA", True):
        return
    home = request.getfixturevalue("browser_home")
    for name in LAB_FIXTURES:
        value = request.getfixturevalue(name) if name in request.fixturenames else None
        if isinstance(value, dict) and "services" in value:
            trust_lab_ca(home, value)


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
