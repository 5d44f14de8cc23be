"""services/common/tls.py with certificates from the real lab CA (lab/ca.py): the HTTPS listener a
client verifies against the lab CA, the TLS-inspection fault that swaps in a certificate no lab
client trusts (and ends the connections made before it), the error a refused certificate is
reported with, and how an agent chooses HTTPS or plain HTTP from the topology."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from lab import ca
from lab import topology as topo
from services.common import tls
from services.common.context import ServiceContext

SUBNET = "127.0.196"
log = logging.getLogger("test")


@pytest.fixture()
def topology(tmp_path):
    t = topo.build(tmp_path, subnet=SUBNET)
    ca.issue_for_topology(tmp_path, t)
    t["services"]["okta"]["ports"]["https"] = 0         # the kernel picks
    return t


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/where")
    async def where(request: Request) -> dict[str, str]:
        return {"scheme": request.url.scheme}

    return app


async def _started(listener: tls.HttpsListener) -> asyncio.Task[None]:
    task = asyncio.create_task(listener())
    for _ in range(500):
        if listener.server.started:
            return task
        await asyncio.sleep(0.01)
    raise AssertionError("the HTTPS listener did not start")


def test_https_verified_by_the_lab_ca_until_a_proxy_intercepts(topology):
    ctx = ServiceContext(name="okta", topology=topology, log=log)
    entry = topology["services"]["okta"]

    async def scenario() -> None:
        context = tls.server_context(entry, log, "HTTPS")
        inspection = tls.server_context(entry, log, "TLS inspection", key="tls_inspection")
        assert context is not None and inspection is not None
        listener = tls.HttpsListener(ctx, "https", _app(), context, inspection)
        port = listener.sock.getsockname()[1]
        task = await _started(listener)
        url = f"https://{SUBNET}.30:{port}/where"
        verify = tls.client_context(topology["ca"]["cert"])
        try:
            async with httpx.AsyncClient(verify=verify) as client:
                assert (await client.get(url)).json() == {"scheme": "https"}
                # A client that trusts only the machine's store refuses the lab's certificate.
                async with httpx.AsyncClient() as stranger:
                    with pytest.raises(httpx.ConnectError):
                        await stranger.get(url)

                ctx.faults.add({"action": tls.INTERCEPT, "protocol": "https"})
                listener.sync()          # as the org's admin API does after a fault changes
                with pytest.raises(httpx.ConnectError) as refused:
                    await client.get(url)     # the kept-alive connection was closed: a new handshake
                why = tls.describe_error(refused.value)
                assert why is not None and why.startswith(tls.PKIX_FAILURE)
                assert "self-signed certificate in certificate chain" in why, why   # the proxy sends its CA along
                # A client that trusts the proxy's CA gets through: the proxy passes traffic on.
                proxy_ca = tls.client_context(str(Path(topology["ca"]["cert"]).parent / ca.INSPECTION_DIR / ca.CA_CERT))
                async with httpx.AsyncClient(verify=proxy_ca) as trusting:
                    assert (await trusting.get(url)).status_code == 200

                ctx.faults.clear()
                listener.sync()
                assert (await client.get(url)).status_code == 200
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())


def test_other_errors_are_not_described_as_certificate_failures():
    assert tls.describe_error(httpx.ConnectError("[Errno 111] Connection refused")) is None


def test_an_agent_calls_the_org_over_https_only_when_the_topology_has_the_ca_and_the_certificate(topology):
    ctx = ServiceContext(name="radius-agent", topology=topology, log=log)
    url, verify = tls.peer_https(ctx, "okta")
    assert url == f"https://{SUBNET}.30:0" and verify is not None
    del topology["ca"]                 # the docker demo lab: no CA given to the services
    url, verify = tls.peer_https(ctx, "okta")
    assert url == f"http://{SUBNET}.30:8080" and verify is None


def test_cookies_served_over_https_are_secure_and_the_phone_trusts_the_lab_ca(topology):
    """The HTTPS listener marks every cookie Secure (once); the same app on plain HTTP does not (a
    browser would drop it there). `lab_trust`: the lab CA when the topology names one."""
    ctx = ServiceContext(name="okta", topology=topology, log=log)
    app = _app()

    @app.get("/cookies")
    async def cookies() -> Any:
        response = JSONResponse({})
        response.set_cookie("sid", "secure-looking-value", httponly=True, samesite="lax")
        response.set_cookie("already", "x", secure=True)
        return response

    async def scenario() -> None:
        context = tls.server_context(topology["services"]["okta"], log, "HTTPS")
        assert context is not None
        listener = tls.HttpsListener(ctx, "https", app, context)
        task = await _started(listener)
        try:
            async with httpx.AsyncClient(verify=tls.lab_trust(ctx)) as client:
                resp = await client.get(f"https://{SUBNET}.30:{listener.sock.getsockname()[1]}/cookies")
            cookies = resp.headers.get_list("set-cookie")
            assert [c.lower().count("; secure") for c in cookies] == [1, 1], cookies
            assert cookies[0].startswith("sid=secure-looking-value") and "HttpOnly" in cookies[0]
            plain = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=plain, base_url="http://org") as client:
                assert "; secure" not in (await client.get("/cookies")).headers.get_list("set-cookie")[0].lower()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert tls.lab_trust(ctx) is tls.client_context(topology["ca"]["cert"])
    del topology["ca"]
    assert tls.lab_trust(ctx) is True
