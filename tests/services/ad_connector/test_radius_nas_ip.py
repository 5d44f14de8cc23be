"""NAS-IP-Address: AD Connector's Access-Request states the connector address it leaves from, and
the Okta agent's parser reads it back (what its log shows as `nasIp=`). The packet goes over a
real UDP socket on this test's own loopback addresses and is decoded by the agent's own code."""
from __future__ import annotations

import asyncio
import socket

from services.ad_connector import radius_client
from services.radius_agent import radius

SECRET = b"nas-ip-test-secret"
CONNECTOR, SERVER = "127.0.197.41", "127.0.197.20"


def test_the_access_request_carries_the_address_it_is_sent_from():
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((SERVER, 0))
    server.settimeout(5)

    async def send() -> radius_client.RadiusResult:
        return await radius_client.authenticate(
            servers=[SERVER], port=server.getsockname()[1], secret=SECRET, username="alice",
            mfa_code="123456", source_ip=CONNECTOR, timeout=0.2, retries=0, nas_identifier="d-1234567890")

    try:
        result = asyncio.run(send())          # no one answers: one attempt, then timeout
        data, source = server.recvfrom(4096)
    finally:
        server.close()
    assert result.outcome == "timeout" and source[0] == CONNECTOR
    request = radius.parse(data, source, 1812, SECRET, require_message_authenticator=True)
    assert request.nas_ip() == CONNECTOR == source[0]
    assert request.user_name() == "alice"


def test_a_request_without_the_attribute_has_no_nas_ip():
    req = radius_client.build_access_request("alice", "123456", SECRET, "d-1", "PAP")
    request = radius.parse(req.RequestPacket(), (CONNECTOR, 5000), 1812, SECRET, require_message_authenticator=True)
    assert request.nas_ip() is None
