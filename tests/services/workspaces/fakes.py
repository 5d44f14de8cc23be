"""Test helpers for the AWS API tests: boto3 clients pointed at the lab, a Terraform-style waiter,
and a RADIUS responder standing in for the Okta RADIUS agent.

The domain controller is never doubled: the tests run the lab's own `dc` process (DNS, LDAP and the
Kerberos KDC) and use its admin faults for the failure cases. Shared by tests/services/ad_connector
and tests/services/workspaces.
"""
from __future__ import annotations

import socket
import threading
from typing import Any

import boto3
from botocore.config import Config
from pyrad import packet
from pyrad.dictionary import Dictionary

from services.ad_connector import radius_client

# -- boto3 -----------------------------------------------------------------------------------------

def aws_client(topology: dict[str, Any], service: str, **overrides: Any):
    """A boto3 client for `ds` or `workspaces` with the lab's keys, as a user would make one."""
    creds = topology["credentials"]
    target = "ad-connector" if service == "ds" else "workspaces"
    svc = topology["services"][target]
    kwargs = dict(endpoint_url=f"http://{svc['host']}:{svc['ports']['api']}",
                  aws_access_key_id=creds["aws_access_key_id"],
                  aws_secret_access_key=creds["aws_secret_access_key"], region_name=creds["aws_region"],
                  config=Config(retries={"max_attempts": 1}))
    kwargs.update(overrides)
    return boto3.client(service, **kwargs)




# -- RADIUS ----------------------------------------------------------------------------------------

class RadiusResponder:
    """Answers Access-Requests: `mode` accept, reject or silent; signs replies with `secret`."""

    def __init__(self, host: str, secret: bytes, mode: str = "reject", port: int = 0,
                 dictionary: Dictionary = radius_client.DICTIONARY):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.secret, self.mode, self.dictionary = secret, mode, dictionary
        self.received: list[tuple[str, str]] = []     # (source address, User-Name)
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            req = packet.AuthPacket(packet=data, secret=self.secret, dict=self.dictionary)
            self.received.append((addr[0], str(req["User-Name"][0])))
            if self.mode == "silent":
                continue
            reply = req.CreateReply()
            reply.code = packet.AccessAccept if self.mode == "accept" else packet.AccessReject
            reply.add_message_authenticator()
            self.sock.sendto(reply.ReplyPacket(), addr)

    def close(self) -> None:
        self._stop = True
        self.thread.join()
        self.sock.close()
