"""The asyncio LDAP client (services/common/ldap_client.py) writes what ldap3 writes, byte for byte,
and reads the replies as ldap3 does: both clients talk to one recording LDAP responder on loopback
(127.0.247.x, the signin subnets) and their requests are compared.

The responder answers a bind with success (or AD's invalidCredentials for the password "wrong"), a
search with one entry and searchResDone, and records every message it reads."""
from __future__ import annotations

import asyncio
import socket
import threading

import ldap3
import pytest

from services.common import ldap_client as lc
from services.dc import ber

HOST = "127.0.247.10"
SOURCE = "127.0.247.11"
DIAGNOSTIC = "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563"
ENTRY = [("sAMAccountName", [b"alice"]), ("memberOf", [b"CN=A,DC=x", b"CN=B,DC=x"]),
         ("userAccountControl", [b"512"]), ("thumbnailPhoto", [b"\xff\xfe\x00"]), ("mail", [])]


class Responder:
    """A loopback LDAP server on a thread: one loop, every connection's messages recorded in order."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.peers: list[str] = []
        self.ended = threading.Semaphore(0)        # released as each connection ends
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, HOST, 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.peers.append(writer.get_extra_info("peername")[0])
        frames = ber.MessageReader(reader, idle=5)
        try:
            while True:
                message = await frames.next()
                self.messages.append(message)
                mid = message_id(message)
                tag = op(message)[0]
                if tag == 0x60:
                    wrong = b"wrong" in message
                    writer.write(ber.result(mid, "bindResponse", 49 if wrong else 0, DIAGNOSTIC if wrong else ""))
                elif tag == 0x63:
                    writer.write(ber.encode_entry(mid, "CN=alice,DC=x", ENTRY))
                    writer.write(ber.result(mid, "searchResDone", 0))
                elif tag == 0x42:
                    break
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        writer.close()
        self.ended.release()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def responder():
    r = Responder()
    yield r
    r.close()


def via_ldap3(port: int, user: str, password: str, ldap_filter: str, attributes: list[str]):
    conn = ldap3.Connection(ldap3.Server(HOST, port=port, get_info=ldap3.NONE), user=user, password=password,
                            raise_exceptions=False, source_address=SOURCE)
    bound = conn.bind()
    entry = None
    if bound:
        conn.search("DC=corp,DC=example,DC=com", ldap_filter, attributes=attributes, size_limit=1)
        entry = conn.entries[0] if conn.entries else None
    result = dict(conn.result)
    conn.unbind()
    return bound, result, entry


async def via_client(port: int, user: str, password: str, ldap_filter: str, attributes: list[str]):
    async with await lc.LdapConnection.open(HOST, port, source=SOURCE) as conn:
        bound = await conn.bind(user, password)
        entry = None
        if bound.ok:
            _, entries = await conn.search("DC=corp,DC=example,DC=com", ldap_filter, attributes, size_limit=1)
            entry = entries[0] if entries else None
    return bound, entry


def message_id(message: bytes) -> int:
    _, pos, end = lc._read(message, 0, len(message))
    _, s, e = lc._read(message, pos, end)
    return int.from_bytes(message[s:e], "big")


def op(message: bytes) -> bytes:
    """The message without its header and messageID: the operation (and controls)."""
    _, pos, end = lc._read(message, 0, len(message))
    _, _, e = lc._read(message, pos, end)
    return message[e:end]


FILTERS = [
    "(sAMAccountName=alice)",
    "(sAMAccountName=" + lc.escape_filter_chars("a*b(c)d\\e\x00") + ")",
    "(&(objectClass=user)(|(sAMAccountName=bob)(userPrincipalName=bob@corp.example.com)))",
    "(!(userAccountControl=514))",
    "(&(mail=*)(pwdLastSet>=1)(pwdLastSet<=9)(cn~=bob))",
    "(sAMAccountName=\u00e9l\u00e8ve)",
]


@pytest.mark.parametrize("ldap_filter", FILTERS)
def test_requests_are_byte_for_byte_ldap3s(responder, ldap_filter):
    attributes = ["sAMAccountName", "memberOf", "userAccountControl"]
    responder.messages.clear()
    via_ldap3(responder.port, "svc@corp.example.com", "Pa55-w\u00f6rd", ldap_filter, attributes)
    assert responder.ended.acquire(timeout=10)
    theirs = list(responder.messages)
    responder.messages.clear()
    asyncio.run(via_client(responder.port, "svc@corp.example.com", "Pa55-w\u00f6rd", ldap_filter, attributes))
    assert responder.ended.acquire(timeout=10)
    # ldap3 numbers messages across connections of a process: compare the operations and, apart,
    # that our IDs count from 1 on each connection.
    assert [op(m).hex() for m in responder.messages] == [op(m).hex() for m in theirs]
    assert [message_id(m) for m in responder.messages] == [1, 2, 3]
    assert [op(m)[0] for m in theirs] == [0x60, 0x63, 0x42]           # bind, search, unbind
    assert set(responder.peers) == {SOURCE}


def test_a_refused_bind_carries_the_code_its_name_and_the_diagnostic(responder):
    bound, result, _ = via_ldap3(responder.port, "svc@corp.example.com", "wrong", "(cn=x)", [])
    ours, _ = asyncio.run(via_client(responder.port, "svc@corp.example.com", "wrong", "(cn=x)", []))
    assert responder.ended.acquire(timeout=10) and responder.ended.acquire(timeout=10)
    assert not bound and not ours.ok
    assert (ours.code, ours.description, ours.diagnostic) == (result["result"], result["description"],
                                                              result["message"])


def test_entries_read_as_ldap3_reads_them(responder):
    from services.ad_connector.service_account import value
    names = [name for name, _ in ENTRY]
    _, _, theirs = via_ldap3(responder.port, "svc@corp.example.com", "x", "(cn=x)", names)
    _, ours = asyncio.run(via_client(responder.port, "svc@corp.example.com", "x", "(cn=x)", names))
    assert responder.ended.acquire(timeout=10) and responder.ended.acquire(timeout=10)
    assert ours.dn == theirs.entry_dn
    for name in names:
        assert value(ours, name) == theirs[name].value, name
        assert (ours.get(name.upper()) is not None) == (name in theirs), name
        if ours.get(name):
            assert ours.get(name.upper()) == theirs.entry_raw_attributes[name]


def test_failures_keep_ldap3s_names():
    closed = socket.socket()
    closed.bind((HOST, 0))
    port = closed.getsockname()[1]
    closed.close()                      # nothing listens there now: refused
    with pytest.raises(lc.LDAPSocketOpenError):
        asyncio.run(lc.LdapConnection.open(HOST, port))

    silent = socket.socket()
    silent.bind((HOST, 0))
    silent.listen(1)                    # accepts (the kernel does) and never answers

    async def bind_to_silence():
        async with await lc.LdapConnection.open(HOST, silent.getsockname()[1], receive_timeout=0.2) as conn:
            await conn.bind("x", "y")
    try:
        with pytest.raises(lc.LDAPSocketReceiveError):
            asyncio.run(bind_to_silence())
    finally:
        silent.close()


@pytest.mark.parametrize("bad", ["sAMAccountName=x", "(&)", "(a=b", "(!(a=b)(c=d))", "(ab)", "(cn=a*b)",
                                 "(cn=\\zz)", "(a=b)(c=d)"])
def test_filters_it_cannot_write_are_refused(bad):
    with pytest.raises(lc.LDAPInvalidFilterError):
        lc.encode_filter(bad)


@pytest.mark.parametrize("user,password,error", [("svc@corp.example.com", "", "LDAPPasswordIsMandatoryError"),
                                                 ("", "x", "LDAPUserNameIsMandatoryError")])
def test_a_simple_bind_without_a_name_or_password_is_refused_as_ldap3_refuses_it(responder, user, password, error):
    conn = ldap3.Connection(ldap3.Server(HOST, port=responder.port, get_info=ldap3.NONE), user=user or None,
                            password=password, authentication=ldap3.SIMPLE, raise_exceptions=False)
    with pytest.raises(ldap3.core.exceptions.LDAPException) as theirs:
        conn.bind()
    conn.unbind()
    assert type(theirs.value).__name__ == error
    assert responder.ended.acquire(timeout=10)
    responder.messages.clear()
    with pytest.raises(lc.LDAPException) as ours:
        asyncio.run(via_client(responder.port, user, password, "(cn=x)", []))
    assert type(ours.value).__name__ == error
    assert responder.ended.acquire(timeout=10)
    assert [op(m)[0] for m in responder.messages] == [0x42]          # nothing but the unbind was sent
