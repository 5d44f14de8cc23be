"""Helpers shared by the DC's test modules."""
from __future__ import annotations

import socket
import threading


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    """Exactly n bytes from `sock`, failing if the DC closes the connection first."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        assert chunk, "the DC closed the connection"
        data += chunk
    return data


class Recorder:
    """A UDP relay between a real client and one of the DC's UDP services that keeps what the
    client sent (to mutate real requests, such as MIT's TGS-REQ or kpasswd request, in fuzz tests).
    It listens on the .98 address of the DC's subnet; `close()` stops it."""

    def __init__(self, host: str, port: int):
        self.sent: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host.rsplit(".", 1)[0] + ".98", 0))
        self.sock.settimeout(0.2)
        self.target = (host, port)
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def _run(self) -> None:
        while not self.stop:
            try:
                data, client = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            self.sent.append(data)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(5)
                up.sendto(data, self.target)
                try:
                    self.sock.sendto(up.recvfrom(65536)[0], client)
                except TimeoutError:
                    pass

    def close(self) -> None:
        self.stop = True
        self.thread.join()
        self.sock.close()
