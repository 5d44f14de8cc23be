"""The shared pieces of the services' start-up and AWS plumbing: the settings reader (bad values
refused, naming the key), the Describe* pager and the background-work tracker."""
import asyncio
import logging

import pytest

from services.ad_agent.settings import AgentSettings
from services.ad_connector.settings import ConnectorSettings
from services.common.aws_errors import AwsError
from services.common.aws_paging import Pager
from services.common.background import Background
from services.common.settings import SettingsReader
from services.radius_agent.model import Policy
from services.workspaces.settings import WorkspacesSettings

TOPOLOGY_CONNECTOR = {"connect_ips": ["127.0.0.41"], "dns_port": 10053, "customer_dns_ips": ["127.0.0.10"]}


def test_reader_converts_and_refuses_naming_the_key():
    r = SettingsReader({"n": "2.5", "i": "15", "f": "true", "l": ["a"], "c": "udp"})
    got = (r.number("n"), r.integer("i"), r.flag("f", False), r.strings("l"), r.choice("c", ("udp", "tcp"), "tcp"))
    assert got == (2.5, 15, True, ("a",), "udp")
    assert r.number("absent", 1.0) == 1.0
    for call in (lambda: SettingsReader({"x": "soon"}).number("x"),
                 lambda: SettingsReader({"x": 2.5}).integer("x"),
                 lambda: SettingsReader({"x": "yes"}).flag("x", False),
                 lambda: SettingsReader({"x": "sctp"}).choice("x", ("udp", "tcp"), "udp"),
                 lambda: SettingsReader({"x": -1}).number("x", minimum=0),
                 lambda: SettingsReader({}).strings("x")):
        with pytest.raises(ValueError, match="setting x"):
            call()


def test_each_service_reads_its_settings_once_with_defaults():
    connector = ConnectorSettings.from_settings(TOPOLOGY_CONNECTOR)
    assert (connector.auth_order, connector.stage_delay_seconds, connector.radius_probe_retries) == \
        ("radius_first", 1.0, 0)
    assert WorkspacesSettings.from_settings({}).registration_code_prefix == ""      # the Region's
    agent = AgentSettings.from_settings({})
    assert (agent.import_interval_seconds, agent.user_ous, agent.lifecycle.deactivated) == \
        (3600, ("OU=Users",), "deactivate")
    policy = Policy.from_settings({})
    assert (policy.threads, policy.max_http_connections, policy.app_refresh, policy.dedup_ttl) == (15, 20, 30, 10)


@pytest.mark.parametrize("build,settings,key", [
    (ConnectorSettings.from_settings, {**TOPOLOGY_CONNECTOR, "auth_order": "whatever"}, "auth_order"),
    (ConnectorSettings.from_settings, {"dns_port": 53}, "connect_ips"),
    (WorkspacesSettings.from_settings, {"stage_delay_seconds": "slow"}, "stage_delay_seconds"),
    (AgentSettings.from_settings, {"page_size": 0}, "page_size"),
    (Policy.from_settings, {"ragent.num_request_threads": "many"}, "ragent.num_request_threads"),
])
def test_a_bad_setting_is_one_line_naming_the_key(build, settings, key):
    with pytest.raises(ValueError, match=key) as caught:
        build(settings)
    assert "\n" not in str(caught.value)


def test_pager_pages_and_binds_its_token_to_the_query():
    pager = Pager(2, "InvalidNextTokenException", "bad token")
    items = list(range(5))
    seen, token = [], None
    while True:
        page, token = pager.page(items, {"NextToken": token} if token else {}, ("DirectoryId",))
        seen += page
        if token is None:
            break
    assert seen == items
    _, token = pager.page(items, {"DirectoryId": "d-1"}, ("DirectoryId",))
    with pytest.raises(AwsError) as caught:
        pager.page(items, {"DirectoryId": "d-2", "NextToken": token}, ("DirectoryId",))
    assert caught.value.code == "InvalidNextTokenException"
    with pytest.raises(AwsError):
        pager.page(items, {"NextToken": "garbage"})


def test_background_work_is_superseded_per_key_and_cancelled_on_reset():
    async def scenario() -> list[str]:
        work = Background(logging.getLogger("test"))
        done: list[str] = []

        async def step(name: str) -> None:
            await asyncio.sleep(0.05)
            if work.current("k"):
                done.append(name)

        work.start("k", step("first"))
        work.start("k", step("second"))          # supersedes the first
        work.start("other", step("other"))       # not current for "k": finishes silently
        await asyncio.sleep(0.1)
        work.start("k", step("third"))
        work.cancel_all()
        await asyncio.sleep(0.1)
        return done

    assert asyncio.run(scenario()) == ["second"]
