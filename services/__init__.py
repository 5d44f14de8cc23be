import sys

# httpx imports its command-line client (click, rich, pygments: ~15% of a service's import time)
# whenever it is installed beside them; no service runs that CLI, so every service skips it
# (None in sys.modules makes that one import fail, and httpx keeps its stub `main`).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
