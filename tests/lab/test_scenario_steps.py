"""The scenario step vocabulary and its helpers, without a lab."""
from lab.scenarios import model
from lab.scenarios.placeholders import dig
from lab.scenarios.steps import ACTIONS, tell


def test_dig_follows_keys_indexes_and_selectors():
    answer = {"DirectoryDescriptions": [{"DirectoryId": "d-1", "Stage": "Active"},
                                        {"DirectoryId": "d-2", "Stage": "Failed"}]}
    assert dig(answer, "DirectoryDescriptions.1.Stage") == "Failed"
    assert dig(answer, "DirectoryDescriptions.DirectoryId=d-2.Stage") == "Failed"
    assert dig({"DirectoryId": "d-3"}, "DirectoryId") == "d-3"
    assert dig(answer, "DirectoryDescriptions.5.Stage") is None
    assert dig(answer, "Nothing") is None


def test_every_catalog_step_is_in_the_one_table():
    used = {next(k for k in step if k != "expect") for s in model.catalog() for step in s.steps}
    assert used <= set(ACTIONS)


def test_demo_tells_each_step_in_words_or_by_its_name():
    assert tell({"say": "hello"}) == "hello"
    assert tell({"restart": "okta"}) == "okta restarts."
    assert tell({"login": {"user": "alice", "mfa": "push"}}).startswith("alice opens the WorkSpaces client")
    assert tell({"ad_import": {}}) == "ad_import"
