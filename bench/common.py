"""What every benchmark shares: recording its figures into `reports/bench.json`, and profiling a
process while a row runs (py-spy), so a run leaves numbers a later run can be compared with.

    from common import Report
    report = Report("radius")                       # one section of reports/bench.json per bench
    report.figure("agent: Status-Server", 11100, "req/s", reference=20092, target=">= 0.8")
    report.save()                                   # merged into reports/bench.json (other benches kept)

`figure(name, value, unit, *, reference=None, ratio=None, target=None, **extra)`: `ratio` defaults
to value / reference; `target` is a ratio bound such as ">= 0.8" or "<= 1.1" (or an absolute bound
with `target_on="value"`), and `met` is computed from it. `extra` keeps any other numbers (p50,
p99, failed, services...). The file is rewritten whole, atomically, with the run's date and machine.

`profiled(pid, path, seconds)`: a context manager running `py-spy record` on `pid` for the row
(nothing when py-spy is not installed); `top_entries(path)` reads its output back as
(function, share of busy samples: the loop's select and idle
threads left out) pairs: self time, total time, and self time by package.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import operator
import os
import platform
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports" / "bench.json"
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


def machine() -> dict[str, Any]:
    """What the figures were measured on (ratios within a run are what compare across machines)."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    return {"host": platform.node(), "cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "loadavg": load}


def _met(target: str | None, ratio: float | None, value: float, target_on: str) -> bool | None:
    if not target:
        return None
    op, _, bound = target.strip().partition(" ")
    subject = value if target_on == "value" else ratio
    if op not in _OPS or subject is None:
        return None
    return bool(_OPS[op](subject, float(bound)))


class Report:
    def __init__(self, bench: str, path: Path = REPORT) -> None:
        self.bench, self.path = bench, path
        self.figures: list[dict[str, Any]] = []
        self.notes: dict[str, Any] = {}

    def figure(self, name: str, value: float, unit: str, *, reference: float | None = None,
               ratio: float | None = None, target: str | None = None, target_on: str = "ratio",
               **extra: Any) -> dict[str, Any]:
        if ratio is None and reference:
            ratio = value / reference
        row = {"name": name, "value": round(value, 3), "unit": unit, "reference": reference,
               "ratio": None if ratio is None else round(ratio, 3), "target": target,
               "target_on": target_on if target else None, "met": _met(target, ratio, value, target_on), **extra}
        self.figures.append(row)
        return row

    def note(self, key: str, value: Any) -> None:
        """Anything else worth keeping with the figures (a profile's top entries, failure reasons)."""
        self.notes[key] = value

    def save(self) -> Path:
        data: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(self.path.read_text())
        data[self.bench] = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine(),
                            "figures": self.figures, "notes": self.notes}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.path)
        return self.path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to show where a request's time goes."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _proc_mb(path: str, key: str) -> float:
    """A `key: N kB` line of a /proc file, in MB; NaN when the process or the line is gone."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return float("nan")


def rss_mb(pid: int) -> float:
    """A process's resident memory (VmRSS), in MB."""
    return _proc_mb(f"/proc/{pid}/status", "VmRSS:")


def pss_mb(pid: int) -> float:
    """A process's proportional share of memory (Pss: a page shared by n processes counts 1/n in
    each, so services forked from one interpreter count its imports once between them), in MB."""
    return _proc_mb(f"/proc/{pid}/smaps_rollup", "Pss:")


def py_spy() -> str | None:
    venv = Path(sys.executable).parent / "py-spy"
    return str(venv) if venv.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def profiled(pid: int | None, path: Path | None, seconds: float) -> Iterator[None]:
    """`py-spy record` of `pid` (raw collapsed stacks in `path`) while the block runs;
    non-blocking, so the process runs at nearly full speed."""
    binary = py_spy()
    if pid is None or path is None or binary is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)       # `--profile DIR` need not exist yet
    proc = subprocess.Popen([binary, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
                             "--rate", "200", "--nonblocking", "--format", "raw", "--output", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        try:
            proc.wait(timeout=seconds + 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def top_entries(path: Path, n: int = 8) -> dict[str, list[tuple[str, float]]]:
    """The functions with the most samples in a py-spy raw file: `self` (on-CPU in that frame) and
    `total` (anywhere on the stack), each as (function (file:line), percent of samples)."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    package: Counter[str] = Counter()
    samples = 0
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = [_short(f) for f in stack.split(";")]
            if frames[-1].split(" (")[0] in _IDLE:
                continue
            k = int(count)
            samples += k
            own[frames[-1]] += k
            package[_package(frames[-1])] += k
            for frame in set(frames):
                total[frame] += k
    if not samples:
        return {"self": [], "total": [], "package": []}

    def pct(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(f, round(100 * c / samples, 1)) for f, c in counter.most_common(n)]
    return {"self": pct(own), "total": pct(total), "package": pct(package)}


# Leaves that are waiting, not working: the event loop's select, idle thread-pool workers.
_IDLE = {"EpollSelector.select", "_worker", "Condition.wait", "Event.wait", "select", "poll"}


def _package(frame: str) -> str:
    """Where a frame's code lives, two path levels deep (`httpx/_models.py` → `httpx`,
    `services/radius_agent/org.py` → `services/radius_agent`, `json/encoder.py` → `json`)."""
    where = frame.rpartition(" (")[2].rstrip(")").rsplit(":", 1)[0]
    parts = where.split("/")
    return "/".join(parts[:2]) if parts[0] in ("services", "lab", "tests", "bench") else parts[0]


def _short(frame: str) -> str:
    """`func (/long/path/site-packages/pkg/mod.py:12)` → `func (pkg/mod.py)`: one entry per function."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", str(ROOT) + "/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name
