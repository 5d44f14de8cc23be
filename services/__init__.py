import importlib.util
import sys

# httpx imports its command-line client (click, rich, pygments: ~15% of a service's import time)
# whenever it is installed beside them; no service runs that CLI, so every service skips it
# (None in sys.modules makes that one import fail, and httpx keeps its stub `main`).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
# httpcore tries `import sniffio` on every request; when it is not installed, each failed import
# searched sys.path again (a third of WorkSpaces' CPU per sign-in in a py-spy profile). Marking it
# absent once makes the failure immediate; httpcore then assumes asyncio, which every service runs.
if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
    sys.modules["sniffio"] = None  # type: ignore[assignment]
