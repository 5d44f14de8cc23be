"""Scenario files: the catalog loads, and mistakes are reported with their file and line."""
import pytest

from lab.scenarios import model
from lab.scenarios.expectations import check_events


def test_the_catalog_loads_with_unique_names_and_a_ci_subset():
    scenarios = model.catalog()
    assert len(scenarios) >= 10
    assert any("ci" in s.tags for s in scenarios)


@pytest.mark.parametrize("text, where, words", [
    ("name: x\ntitle: t\nsteps:\n  - login: {user: alice, mfa: code}\n    expect: {result: ok, colour: red}\n",
     ":5", "colour"),
    ("name: x\ntitle: t\nsteps:\n  - dance: {}\n", ":4", "exactly one action"),
    ("name: x\nsteps:\n  - say: hi\n", ":1", "'title'"),
    ("name: x\ntitle: t\nsteps:\n  - say: hi\nexpect:\n  events:\n    - {service: okta}\n", ":7", "needs a kind"),
    ("name: x\ntitle: t\ngiven:\n  weather: sunny\nsteps:\n  - say: hi\n", ":4", "weather"),
])
def test_mistakes_name_file_and_line(tmp_path, text, where, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(model.ScenarioError) as err:
        model.load(path)
    assert f"bad.yaml{where}" in str(err.value)
    assert words in str(err.value)


def event(service, kind, outcome=None, **fields):
    return {"service": service, "kind": kind, "outcome": outcome, "fields": fields, "ts": 0, "seq": 0}


def test_event_expectations_count_absence_and_order():
    events = [event("a", "x.start"), event("b", "y.req", "accept", user="alice"), event("a", "x.end", "ok")]
    assert check_events(events, {"events": [{"service": "b", "kind": "y.req", "count": 1},
                                            {"kind": "x.*", "min": 2},
                                            {"service": "b", "kind": "y.req", "fields": {"user": "alice"}}],
                                 "order": [{"kind": "x.start"}, {"kind": "y.req"}, {"kind": "x.end"}]}) == []
    failures = check_events(events, {"events": [{"kind": "y.req", "absent": True}],
                                     "order": [{"kind": "x.end"}, {"kind": "x.start"}]})
    assert len(failures) == 2
    assert "exactly 0" in failures[0] and "after the previous event" in failures[1]
