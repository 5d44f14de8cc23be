"""Secrets never reach events: the journal redacts by field name."""
from services.common.clock import Clock
from services.common.events import Journal
from services.common.redact import redact


def test_secret_named_fields_are_redacted_at_any_depth():
    out = redact({"user": "alice", "password": "p", "nested": {"sharedSecret": "s", "passCode": "123456"},
                  "list": [{"mfa_code": "1"}], "errorCode": "E0000068", "api_token": "00x"})
    assert out == {"user": "alice", "password": "***", "nested": {"sharedSecret": "***", "passCode": "***"},
                   "list": [{"mfa_code": "***"}], "errorCode": "E0000068", "api_token": "***"}


def test_journal_records_redacted_events(tmp_path):
    journal = Journal("svc", Clock(), tmp_path / "e.jsonl")
    journal.record("login", peer="1.2.3.4", outcome="ok", password="hunter2", user="alice")
    assert "hunter2" not in (tmp_path / "e.jsonl").read_text()
    assert journal.since(0)[0]["fields"] == {"password": "***", "user": "alice"}


def test_event_numbers_continue_after_a_restart(tmp_path):
    first = Journal("svc", Clock(), tmp_path / "e.jsonl")
    first.record("a")
    first.record("b")
    again = Journal("svc", Clock(), tmp_path / "e.jsonl")
    assert again.record("c")["seq"] == 3
