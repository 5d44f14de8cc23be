"""JUnit XML for CI: one testcase per scenario, its steps, failures and event timeline in its body."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .outcome import Outcome
from .story import story


def write(outcomes: list[Outcome], path: Path) -> None:
    suite = ET.Element("testsuite", name="lab-scenarios", tests=str(len(outcomes)),
                       skipped=str(sum(1 for o in outcomes if o.skipped)),
                       failures=str(sum(1 for o in outcomes if not o.passed and not o.error)),
                       errors=str(sum(1 for o in outcomes if o.error)),
                       time=f"{sum(o.seconds for o in outcomes):.3f}")
    for o in outcomes:
        case = ET.SubElement(suite, "testcase", classname="scenarios", name=o.scenario.name, time=f"{o.seconds:.3f}")
        if o.skipped:
            ET.SubElement(case, "skipped", message=o.skipped)
        elif not o.passed:
            tag = "error" if o.error else "failure"
            node = ET.SubElement(case, tag, message=o.failures[0] if o.failures else "failed")
            node.text = story(o)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
