"""The DC's snapshot: an admin's change, a lockout and a password set over LDAP outlive a restart
(a new Directory over the same state directory), a reset or another seed starts from the seed."""
import logging
import time

import pytest
import yaml

from lab import topology as topo
from services.dc import krb_crypto, modify
from services.dc.accounts import DISABLED, LOCKED, Accounts
from services.dc.directory import Directory
from services.dc.krb_keys import KeyTable
from services.dc.settings import DcSettings
from services.dc.snapshot import DirectorySnapshot

LOG = logging.getLogger("test")


@pytest.fixture
def seed():
    return yaml.safe_load(topo.SEED_DEFAULT.read_text())


def started(seed, state_dir):
    """What the DC's start does: seed, then lay the snapshot over it."""
    d = Directory(seed, time.time, DcSettings.from_settings({"lockout_threshold": 3}, seed))
    keys = KeyTable(d, d.domain.dns_name.upper())
    keys.watch(d)
    snap = DirectorySnapshot(state_dir, d, keys, LOG)
    snap.restore()
    return d, keys, snap


def admin(d):
    return d.by_sam["administrator"]


def test_admin_changes_lockouts_and_new_passwords_survive_a_restart(seed, tmp_path):
    d, _, snap = started(seed, tmp_path)
    carol = d.by_sam["carol"].entry.dn
    assert modify.apply(d, admin(d), carol, [("replace", "userAccountControl", [b"514"])], secure=False) is None
    assert modify.apply(d, admin(d), carol, [("replace", "mail", [b"carol.new@corp.example.com"])],
                        secure=False) is None
    assert d.index["mail"]["carol.new@corp.example.com"][0].dn == carol     # indexed at once
    rules = Accounts(d)
    for _ in range(3):
        rules.bind("CORP\\bob", "wrong")
    password = '"Brand-New-Passw0rd!"'.encode("utf-16-le")
    assert modify.apply(d, admin(d), d.by_sam["alice"].entry.dn, [("replace", "unicodePwd", [password])],
                        secure=True) is None
    snap.save_if_changed()
    assert (tmp_path / "directory.json").stat().st_mode & 0o777 == 0o600

    d2, keys2, _ = started(seed, tmp_path)
    rules2 = Accounts(d2)
    now = d2.now()
    assert rules2.revoked(d2.by_sam["carol"], now) == DISABLED
    assert rules2.revoked(d2.by_sam["bob"], now) == LOCKED
    assert d2.find_account("carol.new@corp.example.com") is None          # mail is not a bind name...
    assert d2.index["mail"]["carol.new@corp.example.com"][0].dn == carol   # ...but the index follows it
    assert rules2.bind("CORP\\alice", "Brand-New-Passw0rd!").ok
    # the KDC knows the new password's keys without having seen the password again
    alice = d2.by_sam["alice"]
    expected = krb_crypto.string_to_key(krb_crypto.AES256, "Brand-New-Passw0rd!", keys2.salt(alice))
    assert keys2.key(alice, krb_crypto.AES256).contents == expected.contents
    assert d2.usn >= d.usn


def test_reset_discards_and_another_seed_ignores_the_snapshot(seed, tmp_path):
    d, _, snap = started(seed, tmp_path)
    dave = d.by_sam["dave"].entry.dn          # seeded disabled
    assert modify.apply(d, admin(d), dave, [("replace", "userAccountControl", [b"512"])], secure=False) is None
    snap.save_if_changed()

    other = dict(seed, domain=dict(seed["domain"], max_page_size=999))
    d2, _, _ = started(other, tmp_path)
    assert Accounts(d2).revoked(d2.by_sam["dave"], d2.now()) == DISABLED

    d3, _, snap3 = started(seed, tmp_path)
    assert Accounts(d3).revoked(d3.by_sam["dave"], d3.now()) is None
    d3.load()
    snap3.discard()
    assert not (tmp_path / "directory.json").exists()
    d4, _, _ = started(seed, tmp_path)
    assert Accounts(d4).revoked(d4.by_sam["dave"], d4.now()) == DISABLED


def test_a_damaged_snapshot_is_ignored_with_a_warning(seed, tmp_path, caplog):
    (tmp_path / "directory.json").write_text("{not json")
    d, _, _ = started(seed, tmp_path)
    assert "unreadable" in caplog.text and d.by_sam["alice"] is not None


def test_a_bind_s_counters_survive_a_restart_without_remaking_the_entry(seed, tmp_path):
    d, _, snap = started(seed, tmp_path)
    rules = Accounts(d)
    assert rules.bind("CORP\\alice", "wrong").ok is False
    assert rules.bind("CORP\\bob", "Bob-Passw0rd!").ok and rules.bind("CORP\\bob", "Bob-Passw0rd!").ok
    alice, bob = d.by_sam["alice"].entry, d.by_sam["bob"].entry
    snap.save_if_changed()
    # a logon changes the counters' record only: the entries have no row of their own
    assert snap.rows == {} and set(snap.logons) == {alice.norm, bob.norm}
    saved = {e.norm: {n: e.values(n) for n in ("badPwdCount", "badPasswordTime", "lastLogon", "logonCount")}
             for e in (alice, bob)}

    d2, _, _ = started(seed, tmp_path)
    for e in (d2.by_sam["alice"].entry, d2.by_sam["bob"].entry):
        assert {n: e.values(n) for n in saved[e.norm]} == saved[e.norm]
    assert d2.by_sam["bob"].entry.int("logonCount") == bob.int("logonCount") >= 2
    assert d2.by_sam["alice"].entry.int("badPwdCount") == 1


def test_an_admin_change_and_later_logons_are_both_kept(seed, tmp_path):
    """The entry's row (an admin's change) and its counters (logons after it) are saved apart and
    laid over the seed together; an admin's unlock (lockoutTime, a counter) is kept too."""
    d, _, snap = started(seed, tmp_path)
    rules = Accounts(d)
    for _ in range(3):
        rules.bind("CORP\\bob", "wrong")
    snap.save_if_changed()
    bob = d.by_sam["bob"].entry.dn
    assert modify.apply(d, admin(d), bob, [("replace", "description", [b"moved"])], secure=False) is None
    assert modify.apply(d, admin(d), bob, [("replace", "lockoutTime", [b"0"])], secure=False) is None
    snap.save_if_changed()
    assert rules.bind("CORP\\bob", "Bob-Passw0rd!").ok
    rows_before = dict(snap.rows)
    snap.save_if_changed()
    assert snap.rows == rows_before                # the logon did not remake bob's row

    d2, _, _ = started(seed, tmp_path)
    e = d2.by_sam["bob"].entry
    assert e.first("description") == "moved" and e.int("lockoutTime") == 0 and e.int("badPwdCount") == 0
    assert Accounts(d2).revoked(d2.by_sam["bob"], d2.now()) is None and e.int("logonCount") >= 1


def test_a_version_1_snapshot_is_still_read(seed, tmp_path):
    """Before the counters had their own record, they were in the entry's row (version 1)."""
    import json

    from services.dc import snapshot
    d, _, snap = started(seed, tmp_path)
    for _ in range(3):
        Accounts(d).bind("CORP\\bob", "wrong")
    bob = d.by_sam["bob"].entry
    row = snapshot._encode({"dn": bob.norm, "attributes": list(bob.items()), "digest": d.by_sam["bob"].digest.hex()})
    head = json.dumps({"version": 1, "fingerprint": snap.fingerprint(), "usn": d.usn})
    (tmp_path / "directory.json").write_text(head[:-1] + ', "entries": [' + row + "]}")
    d2, _, _ = started(seed, tmp_path)
    assert Accounts(d2).revoked(d2.by_sam["bob"], d2.now()) == LOCKED


def test_the_periodic_save_alone_keeps_logons(seed, tmp_path):
    """What a kill -9 leaves: the file as the last periodic save wrote it (no clean stop), which
    has every logon made before that save."""
    import asyncio

    async def scenario():
        d, _, snap = started(seed, tmp_path)
        task = asyncio.create_task(snap.run())
        try:
            assert Accounts(d).bind("CORP\\alice", "Alice-Passw0rd!").ok
            while snap.saved_generation != d.generation:     # the next periodic save
                await asyncio.sleep(0.05)
        finally:
            task.cancel()
        return d.by_sam["alice"].entry.values("lastLogon")

    last_logon = asyncio.run(scenario())
    d2, _, _ = started(seed, tmp_path)                     # never closed: as after a kill -9
    assert d2.by_sam["alice"].entry.values("lastLogon") == last_logon != []
