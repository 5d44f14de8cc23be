"""On an event loop the journal writes its file once per loop iteration, not once per event: the
lines of an iteration arrive together, in `seq` order, right after it; `GET /events` readers
(`since`) see events at once and never an event that is not on file; lines from a thread stay in
order; rotation still holds per line; and what is pending when the loop dies is written at exit."""
import asyncio
import json
import threading

from services.common import events
from services.common.clock import Clock
from services.common.events import Journal


def seqs(*paths):
    return [json.loads(line)["seq"] for p in paths if p.exists() for line in p.read_text().splitlines()]


def test_one_write_per_loop_iteration_in_order(tmp_path):
    path = tmp_path / "e.jsonl"
    journal = Journal("svc", Clock(), path)

    async def main():
        for i in range(5):
            journal.record("tick", n=i)
        assert path.read_text() == "", "written before the iteration ended"
        await asyncio.sleep(0)
        assert seqs(path) == [1, 2, 3, 4, 5]
        journal.record("more")
        await asyncio.sleep(0)
        assert seqs(path) == [1, 2, 3, 4, 5, 6]

    asyncio.run(main())


def test_readers_see_events_at_once_and_only_events_on_file(tmp_path):
    path = tmp_path / "e.jsonl"
    journal = Journal("svc", Clock(), path)

    async def main():
        journal.record("a")
        journal.record("b", password="hunter2")
        shown = journal.since(0)
        assert [e["kind"] for e in shown] == ["a", "b"] and shown[1]["fields"]["password"] == "***"
        # since() wrote them first: a kill -9 now could not make a restarted service reuse 1 or 2
        assert seqs(path) == [1, 2]

    asyncio.run(main())
    assert Journal("svc", Clock(), path).record("after")["seq"] == 3


def test_a_thread_writing_meanwhile_keeps_the_file_in_order(tmp_path):
    path = tmp_path / "e.jsonl"
    journal = Journal("svc", Clock(), path)

    async def main():
        journal.record("on the loop")
        worker = threading.Thread(target=journal.record, args=("from a thread",))
        worker.start()
        worker.join()
        await asyncio.sleep(0)

    asyncio.run(main())
    assert seqs(path) == [1, 2]


def test_a_batch_rotates_line_by_line(tmp_path):
    path = tmp_path / "e.jsonl"
    journal = Journal("svc", Clock(), path, max_bytes=5_000, backups=3)

    async def main():
        for i in range(40):
            journal.record("tick", n=i, pad="p" * 300)
        await asyncio.sleep(0)

    asyncio.run(main())
    files = [tmp_path / "e.jsonl.3", tmp_path / "e.jsonl.2", tmp_path / "e.jsonl.1", path]
    assert all(p.exists() and 0 < p.stat().st_size <= 5_000 for p in files)
    assert seqs(*files) == list(range(seqs(*files)[0], 41))


def test_lines_pending_when_the_loop_stops_are_written_at_exit(tmp_path):
    path = tmp_path / "e.jsonl"
    journal = Journal("svc", Clock(), path)
    loop = asyncio.new_event_loop()

    def last_callback():
        journal.record("service.stop")
        loop.stop()                      # the loop ends before its next iteration's flush

    loop.call_soon(last_callback)
    loop.run_forever()
    loop.close()
    assert path.read_text() == ""
    events._flush_all()                  # what atexit runs
    assert seqs(path) == [1]
    journal.record("after the loop")    # no loop any more: written at once
    assert seqs(path) == [1, 2]
