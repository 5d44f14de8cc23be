"""The dashboard's browser tests use the UI suite's Chromium fixtures (tests/ui/conftest.py)."""
from tests.ui.conftest import browser, browser_home, page, shot  # noqa: F401
