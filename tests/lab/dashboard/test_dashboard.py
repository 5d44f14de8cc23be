"""The trainer's dashboard against a real lab (one per module, on 127.0.161), in Chromium.

`lab up` starts the dashboard; `lab open dashboard` gives the one-time sign-in link. The tests
watch what a trainer would: arrows appearing live for a sign-in, a fault added on the page
changing the next sign-in, a scenario run from the launcher with its report, the demo paced by
the Next step button, and (with a second, blank lab and a roster) the class tiles.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import httpx
import pytest

from lab.classroom import roster
from lab.dashboard import lifecycle, narration
from tests.lab.support import ROOT, ok, run_lab
from tests.support import running_services

SUBNET = "127.0.161"
BLANK_SUBNET = "127.0.162"
CLASS_HOST = "127.0.163.90"
TRAINEE_2_SERVICES = ["mail", "okta", "ec2", "ad-connector"]
LOGIN_WAIT = 120_000         # ms: a sign-in's arrows and outcome (the lab's own timeouts are shorter)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("dashboard-lab")
    try:
        up = ok(run_lab(state_dir, "up", "--subnet", SUBNET)).stdout
        assert f"dashboard at http://{SUBNET}.90:8080" in up, up
        # `lab up` does not wait for the dashboard's first answer; `lab open dashboard` does.
        lifecycle.wait_ready(state_dir, None, state_dir / "logs" / "dashboard.log")
        yield state_dir
    finally:
        assert run_lab(state_dir, "down").returncode == 0
        assert lifecycle.process_row(state_dir) is None, "lab down stops the dashboard"


@pytest.fixture
def board(lab, page):
    """The lab's dashboard open in Chromium, signed in through `lab open dashboard`'s link."""
    link = ok(run_lab(lab, "open", "dashboard", "--no-browser")).stdout.strip()
    assert re.fullmatch(rf"http://{SUBNET}\.90:8080/signin\?ticket=[\w-]+", link), link
    page.goto(link)
    page.wait_for_selector("body[data-live=true]")
    return page


def login(lab, user="alice", mfa=None):
    """`lab login USER --json` with the phone's code (or MFA, e.g. push: the phone approves): exit 0
    signed in, 1 refused (the answer says why)."""
    done = run_lab(lab, "login", user, "--json", *(["--mfa", mfa] if mfa else []), timeout=300)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def test_the_dashboard_needs_a_session_and_a_csrf_token(lab):
    base = lifecycle.url(lab)
    assert ok(run_lab(lab, "status")).stdout.count(f"dashboard: {base} (`lab open dashboard` signs you in)") == 1
    status = json.loads(ok(run_lab(lab, "status", "--json")).stdout)
    assert (status["dashboard"], status["dashboard_ready"]) == (base, True)
    assert not lifecycle.answers("http://127.0.0.1:9")       # nothing listens there: "starting"
    assert httpx.get(base + "/").headers["location"] == "/signin"
    assert httpx.get(base + "/labs/lab/events").status_code == 401
    assert httpx.post(base + "/labs/lab/reset").status_code == 401
    link = ok(run_lab(lab, "open", "dashboard", "--no-browser")).stdout.strip()
    with httpx.Client(follow_redirects=True) as browser:
        signed_in = browser.get(link)                 # redirected to the page, with the session cookie
        assert signed_in.status_code == 200 and "The lab, live" in signed_in.text
        cookie = browser.cookies.jar
        assert any(c.name == "lab_dashboard" and c.has_nonstandard_attr("HttpOnly") for c in cookie)
        refused = browser.post(base + "/labs/lab/clock", data={"service": "all", "offset": "5"})
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
        # Secrets are never on the page.
        creds = json.loads((lab / "credentials.json").read_text())
        for key in ("admin_token", "okta_api_token", "radius_shared_secret", "aws_secret_access_key"):
            assert creds[key] not in signed_in.text
    with httpx.Client(follow_redirects=False) as again:
        assert "did not open" in again.get(link).text, "the link works once"
        wrong = again.get(base + "/signin")
        pre = again.cookies["lab_dashboard_pre"]
        assert again.post(base + "/signin", data={"csrf": pre, "token": "wrong"}).status_code == 401
        token = json.loads((lab / "credentials.json").read_text())["admin_token"]
        assert again.post(base + "/signin", data={"csrf": pre, "token": token}).status_code == 303
        assert wrong.status_code == 200


def test_a_sign_in_draws_live_arrows(lab, board, shot):
    board.evaluate("window.notReloaded = true")
    result = login(lab)
    assert result["success"], result
    board.wait_for_selector("#outcome.good", timeout=LOGIN_WAIT)
    wire = "#picture g.arrow"
    request = f'{wire}[data-protocol=RADIUS][data-from=ad-connector][data-to=radius-agent]'
    accept = f'{wire}[data-protocol=RADIUS][data-to=ad-connector]'
    kerberos, ldap = f'{wire}[data-protocol=Kerberos][data-to=dc]', f'{wire}[data-protocol=LDAP][data-to=dc]'
    answer = f'{wire}[data-from=workspaces][data-to=client]'
    # Each service's events reach the page on the feed's next poll, so the verdict can come
    # before another service's last arrow: wait for each, then count.
    for drawn in (request, accept, kerberos, ldap, answer):
        board.wait_for_selector(drawn, state="attached", timeout=10_000)
    assert "Access-Request" in board.locator(request).text_content()
    assert "Access-Accept" in board.locator(accept).text_content()
    assert [board.locator(d).count() for d in (kerberos, ldap, answer)] == [1, 1, 1]
    assert "alice" in board.locator("#outcome").inner_text()
    assert board.evaluate("window.notReloaded") is True, "drawn live, without a reload"
    # The timeline's filters: alice's RADIUS events only.
    board.get_by_label("User").fill("alice")
    board.get_by_label("Kind").fill("radius.request")
    shown = board.locator("#events tbody tr:not([hidden])")
    assert shown.count() >= 1
    assert all("radius.request" in k for k in shown.locator("td:nth-child(3)").all_inner_texts())
    shot(board, "01-sign-in-live")


def test_a_fault_added_on_the_dashboard_fails_the_next_sign_in(lab, board, shot):
    fault = board.get_by_role("form", name="Fault")
    fault.get_by_label("Service").select_option("dc")
    fault.get_by_label("Action").select_option("drop")
    fault.get_by_label("Protocol").select_option("kerberos")
    fault.get_by_role("button", name="Add fault").click()
    board.wait_for_selector("#knob-message.good")
    assert "fault" in board.locator("#knob-message").inner_text()
    board.get_by_role("button", name="Clear faults on dc").wait_for()
    # A push: alice's code of this 30 s step may be spent already (the test before), and a replay
    # would be refused by RADIUS before Kerberos is ever tried.
    result = login(lab, "bob", mfa="push")
    assert not result["success"] and result["reason"] == "dc_unreachable", result
    board.wait_for_selector("#outcome.bad", timeout=LOGIN_WAIT)
    assert "sign-in failed" in board.locator("#outcome").inner_text()
    shot(board, "02-fault-dc-kerberos")
    board.get_by_role("button", name="Clear faults on dc").click()
    board.get_by_role("button", name="Clear faults on dc").wait_for(state="detached")
    assert login(lab, "bob", mfa="push")["success"], "cleared"


def test_a_scenario_run_from_the_launcher_passes_and_its_report_opens(lab, board, shot):
    board.get_by_label("Scenario", exact=True).select_option("code-accepted")
    board.get_by_role("button", name="Run scenario").click()
    board.wait_for_selector("#run-verdict.good", timeout=240_000)
    assert board.locator("#run-verdict").inner_text() == "code-accepted: passed"
    assert "1 passed, 0 failed" in board.locator("#run-output").inner_text()
    with board.context.expect_page() as opened:
        board.get_by_role("link", name="Open the report").click()
    report = opened.value
    report.wait_for_load_state()
    assert "code-accepted" in report.content() and "PASS" in report.content()
    shot(board, "03-scenario-run")


def wait_for_demo(lab, timeout=60.0):
    """The id of the demo that began writing its narration (lab/dashboard/narration.py)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = narration.lines(lab)
        if rows and not rows[-1].get("end"):
            return rows[0]["demo"]
        time.sleep(0.1)
    raise AssertionError("the demo wrote no narration")


def test_the_demo_is_paced_by_the_next_button(lab, board):
    demo = subprocess.Popen([sys.executable, "-m", "lab.cli", "--state-dir", str(lab), "demo", "code-accepted",
                             "--browser"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        next_step = board.get_by_role("button", name="Next step")
        demo_id = wait_for_demo(lab)
        board.wait_for_selector(f"body[data-demo-id='{demo_id}']")
        presses = 0
        while presses < 20:        # the button is enabled at each pause; the demo's end disables it
            board.wait_for_selector("#next:not([disabled]), body[data-demo=ended]", timeout=120_000)
            if board.locator("body").get_attribute("data-demo") == "ended":
                break
            next_step.click()
            presses += 1
        assert demo.wait(timeout=120) == 0, demo.stdout.read() if demo.stdout else ""
        assert presses >= 1
        board.wait_for_selector("#narration p:text('The scenario went as expected.')")
        assert next_step.is_disabled()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


def test_class_tiles_for_a_two_lab_roster(lab, page, tmp_path, shot, request):
    """Trainee 1 is the module's seeded lab; trainee 2 a blank lab at the walkthrough's start, with
    only the services its milestones are read from running (the rest shows as unhealthy)."""
    blank = tmp_path / "trainee-02"
    class_dir = tmp_path / "class-home"
    with running_services(TRAINEE_2_SERVICES, blank, BLANK_SUBNET, blank=True):
        roster.save(class_dir, roster.Roster(runtime="process", trainees=[
            roster.Trainee(1, lab, SUBNET), roster.Trainee(2, blank, BLANK_SUBNET)]))
        url = lifecycle.start(class_dir, host=CLASS_HOST, port=8080, roster_state_dir=class_dir)
        request.addfinalizer(lambda: lifecycle.stop(class_dir))
        assert url == f"http://{CLASS_HOST}:8080"
        page.goto(lifecycle.sign_in_link(class_dir))
        first, second = page.locator("#tile-1"), page.locator("#tile-2")
        page.wait_for_selector("#tile-1 .milestones li")
        page.wait_for_selector("#tile-2 .milestones li")
        # The seeded lab: connected, Completed, imported, enrolled, and the earlier tests signed in with a code.
        assert first.get_attribute("data-reached") == "5"
        assert first.locator("li.done").all_inner_texts()[-1].endswith("first sign-in with a code")
        assert second.get_attribute("data-reached") == "0"       # the blank lab: the walkthrough's start
        assert first.locator(".health").inner_text() == "healthy"
        assert second.locator(".health").inner_text().startswith("unhealthy: ad-agent, aws-console, dc")
        shot(page, "04-class-tiles")
        first.click()
        page.wait_for_selector("body[data-live=true]")
        assert page.locator("h1").inner_text() == "trainee-01"
        lifecycle.stop(class_dir)
        assert lifecycle.url(class_dir) is None


# -- the dashboard's HTTP API, fuzzed (tests/support/http_fuzzing.py) ---------------------------------
TEXT = {"type": "string", "maxLength": 40}


def form(**members):
    return {"type": "object", "properties": members}


def form_api(posts: dict, gets: list[str]) -> dict:
    """An OpenAPI document for the dashboard's form POSTs and its plain GETs (not the streams:
    they never end)."""
    paths: dict = {}
    key = {"name": "key", "in": "path", "required": True, "schema": {"type": "string", "enum": ["lab"]}}
    for route, body in posts.items():
        paths.setdefault(route, {})["post"] = {
            "parameters": [key] if "{key}" in route else [], "responses": {"default": {"description": "any"}},
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": body}}}}
    for route in gets:
        params = [key] if "{key}" in route else [
            {"name": "run_id", "in": "path", "required": True, "schema": TEXT}] if "{run_id}" in route else []
        if route == "/signin":
            params = [{"name": "ticket", "in": "query", "required": False, "schema": TEXT}]
        paths.setdefault(route, {})["get"] = {"parameters": params, "responses": {"default": {"description": "any"}}}
    return {"openapi": "3.0.3", "info": {"title": "lab dashboard", "version": "lab"}, "paths": paths}


def test_fuzz_the_dashboard_api(lab):
    from tests.support.http_fuzzing import fuzz_openapi

    base = lifecycle.url(lab)
    with httpx.Client(follow_redirects=True) as browser:
        signed_in = browser.get(lifecycle.sign_in_link(lab))
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', signed_in.text).group(1)
        session = browser.cookies["lab_dashboard"]
    services = {"enum": ["dc", "okta", "phone", "nothing", ""]}
    document = form_api({
        "/labs/{key}/faults": form(service=services, action={"enum": ["drop", "delay", "deny", "x"]},
                                   protocol={"enum": ["ldap", "push", "", "tcp"]}, seconds=TEXT),
        "/labs/{key}/faults/clear": form(service=services),
        "/labs/{key}/clock": form(service={"enum": ["all", "dc", "x"]}, offset=TEXT),
        "/labs/{key}/phone": form(user={"enum": ["alice", "nobody", ""]}, action={"enum": ["approve", "deny", "?"]},
                                  after=TEXT),
        "/labs/{key}/security-groups": form(group=TEXT, change={"enum": ["authorize", "revoke", "x"]},
                                            protocol={"enum": ["tcp", "udp", "icmp"]}, port=TEXT, cidr=TEXT),
        "/labs/{key}/firewall": form(host={"enum": ["InstanceRDC", "nowhere"]}, action={"enum": ["allow", "x"]},
                                     port=TEXT, protocol={"enum": ["udp", "sctp"]}),
        "/labs/{key}/runs": form(scenario={"type": "string", "maxLength": 8}),    # never a real scenario's name
        "/labs/{key}/narration/next": form(),
        "/signin": form(csrf=TEXT, token=TEXT),
    }, ["/healthz", "/signin", "/labs/{key}", "/labs/{key}/knobs", "/runs/{run_id}/report"])
    log = lab / "logs" / "dashboard.log"
    report = fuzz_openapi(document, base, examples=6, seed=1812,
                          headers={"Cookie": f"lab_dashboard={session}", "X-CSRF-Token": csrf})
    print(f"dashboard API: {report.summary()}")
    assert not report.findings, report.failures()
    assert "Traceback" not in log.read_text(errors="replace")
    assert httpx.get(base + "/healthz").json()["healthy"]
    assert sum(n for status, n in report.statuses.items() if status in (200, 303)) > 0, report.statuses
