"""The journal stays bounded whatever a caller sends: a field keeps at most a few KB (with a marker
saying how much was cut), the file rotates by size (journal.jsonl -> journal.jsonl.1 ...), event
numbers stay monotonic across a rotation and a restart, and `since(N)` keeps working."""
import json
import os
import stat

from services.common.clock import Clock
from services.common.events import MAX_FIELD_CHARS, Journal


def test_a_huge_field_is_cut_with_a_marker(tmp_path):
    journal = Journal("svc", Clock(), tmp_path / "e.jsonl")
    huge = "u" * 1_000_000
    event = journal.record("signin", user=huge, params={"UserName": huge, "list": [huge] * 50})
    line = (tmp_path / "e.jsonl").read_text()
    assert len(line) < 8 * MAX_FIELD_CHARS, f"one event wrote {len(line)} bytes"
    assert event["fields"]["user"].startswith("u" * 100) and "truncated" in event["fields"]["user"]
    assert "1000000" in event["fields"]["user"]           # says how long the original was
    assert len(json.dumps(event)) < 8 * MAX_FIELD_CHARS


def test_fifty_one_megabyte_user_names_stay_small(tmp_path):
    """The reproduction of issue 16: 50 sign-ins with a 1 MB user name added 50+ MB to the journal."""
    journal = Journal("svc", Clock(), tmp_path / "e.jsonl")
    for _ in range(50):
        journal.record("workspaces.signin", user="x" * 1_000_000, outcome="bad_request")
    assert (tmp_path / "e.jsonl").stat().st_size < 1_000_000


def test_the_file_rotates_and_numbers_continue(tmp_path):
    path = tmp_path / "e.jsonl"
    journal = Journal("svc", Clock(), path, max_bytes=20_000, backups=2)
    for i in range(300):
        journal.record("tick", n=i, pad="p" * 200)
    assert path.exists() and (tmp_path / "e.jsonl.1").exists() and (tmp_path / "e.jsonl.2").exists()
    assert not (tmp_path / "e.jsonl.3").exists(), "only `backups` old files are kept"
    sizes = [p.stat().st_size for p in tmp_path.glob("e.jsonl*")]
    assert max(sizes) <= 20_000
    seqs = [json.loads(line)["seq"] for name in ("e.jsonl.2", "e.jsonl.1", "e.jsonl")
            for line in (tmp_path / name).read_text().splitlines()]
    assert seqs == sorted(seqs) and seqs[-1] == 300 and len(set(seqs)) == len(seqs)
    # What `lab events` and the scenario runner ask: everything after a mark, across the rotation.
    assert [e["seq"] for e in journal.since(290)] == list(range(291, 301))


def test_numbers_continue_after_a_restart_that_follows_a_rotation(tmp_path):
    path = tmp_path / "e.jsonl"
    journal = Journal("svc", Clock(), path, max_bytes=5_000)
    while not (tmp_path / "e.jsonl.1").exists():
        journal.record("tick", pad="p" * 300)
    last = journal.since(0)[-1]["seq"]
    journal.close()
    assert Journal("svc", Clock(), path, max_bytes=5_000).record("after")["seq"] == last + 1
    # A service stopped right after a rotation: the new file is empty, the numbers are in .1.
    in_backup = json.loads((tmp_path / "e.jsonl.1").read_text().splitlines()[-1])["seq"]
    path.write_text("")
    assert Journal("svc", Clock(), path, max_bytes=5_000).record("again")["seq"] == in_backup + 1


def test_memory_is_bounded_by_bytes_too(tmp_path):
    journal = Journal("svc", Clock(), None, keep=100_000, max_memory_bytes=200_000)
    for i in range(2000):
        journal.record("tick", n=i, pad="p" * 1000)
    kept = journal.since(0)
    assert kept[-1]["seq"] == 2000 and len(kept) < 250


def test_journal_files_are_private(tmp_path):
    path = tmp_path / "events" / "e.jsonl"
    journal = Journal("svc", Clock(), path, max_bytes=3_000)
    while not (path.parent / "e.jsonl.1").exists():
        journal.record("tick", pad="p" * 300)
    for p in path.parent.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert os.access(path, os.W_OK)
