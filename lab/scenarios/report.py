"""The HTML report of a run: pass or fail, timings, failures, and each scenario's sign-in drawn as
a sequence diagram. One self-contained file: it opens offline, with no script or network access."""
from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path
from typing import Any

from ..sequence import svg
from ..timeline import timeline
from .outcome import Outcome

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
.pass { color: #1e8449; } .fail { color: #c0392b; }
table.summary td, table.summary th { padding: 2px 10px; text-align: left; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 11px; }
.diagram { overflow-x: auto; border: 1px solid #ddd; padding: 4px; }
"""


def write(outcomes: list[Outcome], directory: Path, topology: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    passed = sum(1 for o in outcomes if o.passed and not o.skipped)
    rows, sections = [], []
    for o in outcomes:
        verdict = ('<span>SKIP</span>' if o.skipped else
                   '<span class="pass">PASS</span>' if o.passed else '<span class="fail">FAIL</span>')
        rows.append(f'<tr><td><a href="#{escape(o.scenario.name)}">{escape(o.scenario.name)}</a></td>'
                    f'<td>{verdict}</td><td>{o.seconds:.1f} s</td><td>{escape(o.scenario.title)}</td></tr>')
        failures = "".join(f"<li>{escape(f)}</li>" for f in o.failures)
        logins = "".join(
            f"<li>step {lg.get('step')}: {'signed in' if lg['success'] else escape(str(lg.get('message')))}"
            f" ({escape(str(lg.get('reason', 'ok')))}, {lg['elapsed_seconds']} s)</li>" for lg in o.logins)
        sections.append(
            f'<h2 id="{escape(o.scenario.name)}">{verdict} {escape(o.scenario.name)}: {escape(o.scenario.title)}</h2>'
            f"<p>{escape(o.scenario.description or '')}</p>"
            + (f"<p>Failures:</p><ul>{failures}</ul>" if failures else "")
            + (f"<p>Sign-ins:</p><ul>{logins}</ul>" if logins else "")
            + f'<div class="diagram">{svg(o.events, o.topology or topology)}</div>'
            f"<details><summary>event timeline ({len(o.events)} events)</summary>"
            f"<pre>{escape(timeline(o.events))}</pre></details>")
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>Lab scenarios</title>"
            f"<style>{STYLE}</style></head><body><h1>Lab scenarios: {passed} of {len(outcomes)} passed</h1>"
            f"<p>{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC, runtime {escape(str(topology.get('runtime')))}</p>"
            f"<table class='summary'><tr><th>scenario</th><th>result</th><th>time</th><th>title</th></tr>"
            f"{''.join(rows)}</table>{''.join(sections)}</body></html>")
    path = directory / "index.html"
    path.write_text(html, encoding="utf-8")
    return path
