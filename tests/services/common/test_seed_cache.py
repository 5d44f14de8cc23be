"""The seed is parsed once per lab (services/common/context.load_seed): the first service leaves
JSON in the state directory, the others read it; a changed seed is parsed again; a seed JSON
cannot hold exactly (a date) is never cached."""
from __future__ import annotations

import datetime as dt
import os
import stat

import yaml

from services.common.context import load_seed


def test_the_seed_is_parsed_once_and_read_back_from_the_cache(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(yaml.safe_dump({"users": [{"sam": "alice", "groups": ["A"]}], "ous": ["Users"]}))
    cache = tmp_path / "state" / "seed-cache"
    first = load_seed(seed, cache)
    cached = list(cache.glob("seed-*.json"))
    assert first == {"users": [{"sam": "alice", "groups": ["A"]}], "ous": ["Users"]} and len(cached) == 1
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    first["users"].clear()                          # a caller's change stays its own
    assert load_seed(seed, cache) == {"users": [{"sam": "alice", "groups": ["A"]}], "ous": ["Users"]}

    seed.write_text(yaml.safe_dump({"users": [{"sam": "bob"}]}))
    os.utime(seed, ns=(seed.stat().st_atime_ns, seed.stat().st_mtime_ns + 1_000_000))
    assert load_seed(seed, cache) == {"users": [{"sam": "bob"}]}, "a changed seed is read again"


def test_a_seed_json_cannot_hold_is_not_cached(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text("when: 2024-01-02\nports: {389: ldap}\n")
    cache = tmp_path / "seed-cache"
    assert load_seed(seed, cache) == {"when": dt.date(2024, 1, 2), "ports": {389: "ldap"}}
    assert not list(cache.glob("seed-*.json"))
    assert load_seed(seed, cache)["ports"] == {389: "ldap"}
