"""Light fuzzing of the console's HTTP surface against the real processes (ec2, dc,
ad-connector, workspaces, aws-console on 127.0.123.x): every form of a signed-in session gets hypothesis-drawn
field values (any text, huge, control characters, numbers out of range), the paths get odd
directory ids, and the POST routes get malformed bodies. Every answer must be a page (never 500 or
more, never a dropped connection); the log holds no traceback; the console still signs in after.
The admin API is fuzzed as every service's is (tests/support/http_fuzzing.fuzz_admin)."""
from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.support import default_seed, running_services, url
from tests.support.fuzzing import LogWatch
from tests.support.http_fuzzing import SCALE, fuzz_admin

from .support import csrf_of, sign_in

SUBNET = "127.0.123"
DIRECTORY = default_seed()["aws"]["directory"]["id"]
EXAMPLES = 40 * SCALE
VALUE = st.one_of(st.text(max_size=40), st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=8),
                  st.integers(-10**30, 10**30).map(str), st.sampled_from(["", " ", "1e309", "NaN", "0x10", "9" * 5000,
                                                                         "x" * 70_000, "PAP", "DENY", "Small"]))
FORMS = {
    "/directoryservice/new": ["name", "short_name", "password", "password_confirm", "size", "description", "vpc_id",
                              "subnet_ids", "dns_ips", "service_account"],
    f"/directoryservice/{DIRECTORY}/mfa": ["servers", "port", "timeout", "retries", "secret", "secret_confirm",
                                           "protocol", "label", "same_username"],
    "/workspaces/launch": ["directory", "user", "bundle"],
    f"/workspaces/directories/{DIRECTORY}/access": ["DeviceTypeWeb", "DeviceTypeWindows", "DeviceTypeOsx"],
    "/signin": ["account", "username", "password", "next"],
}
EC2_RULE_FIELDS = ["protocol", "ports", "source", "cidr", "description",      # + the path of a real group
                   "protocol-1", "ports-1", "source-1", "cidr-1", "description-1", "ports-2"]
ID_PATHS = ["/directoryservice/{}", "/directoryservice/{}/live?part=radius", "/directoryservice/{}/mfa",
            "/ec2/securitygroups/{}", "/workspaces/directories/{}", "/workspaces/launch?directory={}",
            "/signin?next={}"]
MALFORMED = [(b"%zz=%%&&==", "application/x-www-form-urlencoded"),
             (b"--x\r\nbroken", "multipart/form-data; boundary=x"), (b"--x\r\n", "multipart/form-data"),
             (b'{"csrf_token": 1}', "application/json"), (b"\xff\xfe", "text/plain")]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    settings_ = {"ad-connector": {"stage_delay_seconds": 0.2}, "workspaces": {"stage_delay_seconds": 0.2}}
    with running_services(["ec2", "dc", "ad-connector", "workspaces", "aws-console"], tmp_path_factory.mktemp("fuzz"),
                          SUBNET, settings=settings_) as topology:
        yield topology


def test_fuzz_the_console_forms_and_paths(lab, tmp_path):
    started = time.monotonic()
    log = LogWatch(Path(lab["state_dir"]) / "logs" / "aws-console.log")
    statuses: Counter[int] = Counter()
    findings: list[str] = []
    with httpx.Client(base_url=url(lab, "aws-console"), timeout=60) as client:
        assert sign_in(client, password=lab["credentials"]["console_password"]).status_code == 303
        token = csrf_of(client, "/")
        # The EC2 editor of a real group (InstanceOkta's), found through its list page.
        found = re.search(r'securitygroups/(sg-[0-9a-f]+)">[^<]*</a></td>\s*<td>InstanceOkta-sg<',
                          client.get("/ec2/securitygroups").text)
        assert found, "InstanceOkta-sg is not on the Security Groups page"
        group = found.group(1)
        rule = re.findall(r"sgr-[0-9a-f]+", client.get(f"/ec2/securitygroups/{group}").text)[0]
        forms = FORMS | {f"/ec2/securitygroups/{group}/rules": EC2_RULE_FIELDS,
                         f"/ec2/securitygroups/{group}/egress-rules": EC2_RULE_FIELDS,
                         f"/ec2/securitygroups/{group}/rules/{rule}/delete": ["x"],
                         f"/ec2/securitygroups/{group}/egress-rules/{rule}/delete": ["x"]}

        def send(method: str, path: str, **kw) -> None:
            try:
                r = client.request(method, path, follow_redirects=False, **kw)
            except httpx.HTTPError as exc:
                findings.append(f"{method} {path[:80]}: {exc!r}")
                return
            statuses[r.status_code] += 1
            if r.status_code >= 500:
                findings.append(f"{method} {path[:80]}: {r.status_code} {r.text[:300]}")

        def fuzz_form(path: str) -> None:
            fields = forms[path]

            @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @seed(1313)
            @given(st.dictionaries(st.sampled_from(fields), VALUE, max_size=len(fields)))
            def post(form):
                send("POST", path, data={"csrf_token": token, **form})
            post()

        for path in forms:
            if path != "/signin":              # fuzzed last, below
                fuzz_form(path)

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @seed(1314)
        @given(st.sampled_from(ID_PATHS), st.text(max_size=30))
        def get(template, value):
            send("GET", template.format(quote(value, safe="")))
        get()

        for body, content_type in MALFORMED:
            for path in forms:
                send("POST", path, content=body, headers={"content-type": content_type, "X-CSRF-Token": token})

        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @seed(1315)
        @given(st.dictionaries(st.sampled_from(FORMS["/signin"]), VALUE, max_size=4))
        def sign_in_form(form):
            send("POST", "/signin", data={"csrf_token": token, **form})
        sign_in_form()

    admin = fuzz_admin(lab, "aws-console", tmp_path, examples=10, seed=1316)
    print(f"console: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}; "
          f"admin: {admin.summary()} in {time.monotonic() - started:.1f} s")
    assert not findings, findings[:5]
    assert not admin.findings, admin.failures()
    assert not log.tracebacks(), log.tracebacks()[:3]
    assert httpx.get(url(lab, "aws-console", "admin") + "/healthz").json()["healthy"]
    with httpx.Client(base_url=url(lab, "aws-console"), timeout=30) as fresh:
        assert sign_in(fresh, password=lab["credentials"]["console_password"]).status_code == 303
        assert DIRECTORY in fresh.get("/directoryservice/rows").text
