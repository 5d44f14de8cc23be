"""services/common/udp.py's ReplyFromDestination: on a wildcard bind, each reply leaves from the
address its request was sent to, and the answer is told that address (kpasswd names it in its
KRB-PRIV). A wildcard bind is only tried inside a network namespace of the test's own (a user
namespace, `unshare -rn`: only its loopback exists), so nothing listens on the host's interfaces.
A plain socket on the same wildcard is the contrast: its reply comes from the kernel's choice."""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = textwrap.dedent("""
    import asyncio, logging, socket, subprocess
    from services.common.udp import ReplyFromDestination

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)

    async def answer(data, peer, transport, destination):
        return f"{destination}|{peer}|{transport}|{data.decode()}".encode()

    async def main():
        server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        server.bind(("0.0.0.0", 10464))
        task = asyncio.create_task(ReplyFromDestination(server, answer, logging.getLogger("t"), "t")())
        plain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        plain.bind(("0.0.0.0", 10465))
        loop = asyncio.get_running_loop()
        for target in ("127.0.0.5", "127.0.0.9"):
            client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            client.bind(("127.0.0.1", 0))
            client.setblocking(False)
            await loop.sock_sendto(client, b"hello", (target, 10464))
            data, source = await asyncio.wait_for(loop.sock_recvfrom(client, 2048), 10)
            print("pktinfo", target, source[0], source[1], data.decode())
            await loop.sock_sendto(client, b"x", (target, 10465))
            _, peer = plain.recvfrom(2048)
            plain.sendto(b"y", peer)
            _, source = await asyncio.wait_for(loop.sock_recvfrom(client, 2048), 10)
            print("plain", target, source[0])
        task.cancel()

    asyncio.run(main())
""")


def _can_unshare_net() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_unshare_net(), reason="no user and network namespaces (unshare -rn) here")
def test_replies_leave_from_the_address_each_request_was_sent_to():
    out = subprocess.run(["unshare", "-rn", sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = [line.split() for line in out.stdout.splitlines()]
    pktinfo = [ln for ln in lines if ln[0] == "pktinfo"]
    assert pktinfo == [["pktinfo", t, t, "10464", f"{t}|127.0.0.1|udp|hello"] for t in ("127.0.0.5", "127.0.0.9")]
    # without IP_PKTINFO the kernel answers from the route's source, not the address asked
    assert [ln for ln in lines if ln[0] == "plain"] == [["plain", t, "127.0.0.1"] for t in ("127.0.0.5", "127.0.0.9")]
