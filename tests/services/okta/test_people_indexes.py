"""In-process checks of what the org keeps in memory beside its store (people.Derived: app-user
search, group members, the gate's API tokens) and of its commits (one per loop iteration, every
write committed before an answer can go out): each answer equals what reading the store gives."""
import asyncio
import sqlite3

from services.okta.gate import Tokens, ensure_token
from services.okta.ids import digest
from services.okta.people import People
from services.okta.store import Store
from services.okta.users import create_user
from tests.services.okta.support import in_process_org


def naive_search(people: People, app_id: str, q: str) -> list[dict]:
    """The app-user search as a scan of the store (what the index must answer)."""
    ql = q.lower()
    out = []
    for au in people.app_users(app_id):
        u = people.user(au["userId"]) or {"profile": {}}
        keys = ("login", "email", "firstName", "lastName")
        fields = [au["userName"]] + [str(u["profile"].get(k) or "") for k in keys]
        if any(f.lower().startswith(ql) for f in fields):
            out.append(au)
    return out


def user(org, login: str, first: str, last: str) -> dict:
    return create_user(org, {"login": login, "email": login, "firstName": first, "lastName": last}, "ACTIVE")


def test_app_user_search_and_members_follow_every_write(tmp_path):
    org = in_process_org(tmp_path)
    people = org.people
    users = [user(org, f"u{i}@corp.example.com", "Ann" if i % 2 else "Bob", f"Stra{chr(223)}e{i}") for i in range(6)]
    for u in users:
        people.save_app_user({"appId": "0oaA", "userId": u["id"], "userName": u["profile"]["login"].upper()})
        people.add_member("00gG", u["id"])
    queries = ["u1", "U1@", "ann", "BOB", "strasse", f"stra{chr(223)}e3", "nobody", "u"]
    assert people.app_users_matching("0oaA", "ann") == naive_search(people, "0oaA", "ann") != []
    for q in queries:
        assert people.app_users_matching("0oaA", q) == naive_search(people, "0oaA", q), q

    users[1]["profile"]["firstName"] = "Zed"                 # a renamed user
    people.save(users[1])
    people.save_app_user({"appId": "0oaA", "userId": users[2]["id"], "userName": "other"})   # keeps its place
    people.remove_app_user("0oaA", users[3]["id"])
    people.delete_user(users[4]["id"])
    people.remove_member("00gG", users[0]["id"])
    for q in [*queries, "zed", "oth"]:
        assert people.app_users_matching("0oaA", q) == naive_search(people, "0oaA", q), q
    assert people.member_ids("00gG") == [users[i]["id"] for i in (1, 2, 3, 5)]

    # writes that bypass People (and a wipe) are seen from the store's version of the kind
    org.store.put("app_users", f"0oaA/{users[0]['id']}", {"appId": "0oaA", "userId": users[0]["id"], "userName": "zz"})
    org.store.put("group_members", f"00gG/{users[0]['id']}", {"groupId": "00gG", "userId": users[0]["id"]})
    assert people.app_users_matching("0oaA", "zz") == naive_search(people, "0oaA", "zz") != []
    assert people.member_ids("00gG")[-1] == users[0]["id"]
    everyone = people.member_ids(people.everyone_id)
    assert everyone == [u["id"] for u in people.users()]
    org.store.wipe()
    assert people.app_users_matching("0oaA", "u") == [] and people.member_ids("00gG") == []


def test_the_gates_tokens_follow_revocation_and_wipes(tmp_path):
    org = in_process_org(tmp_path)
    tokens = Tokens(org)
    t = ensure_token(org, "secret-one")
    assert tokens.find(digest("secret-one"))["status"] == "ACTIVE"
    t["status"] = "REVOKED"
    org.store.put("api_tokens", t["id"], t)
    assert tokens.find(digest("secret-one"))["status"] == "REVOKED"
    org.store.wipe()
    assert tokens.find(digest("secret-one")) is None


def test_writes_on_the_loop_are_committed_by_the_end_of_the_iteration(tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    other = sqlite3.connect(tmp_path / "s.sqlite3")       # what another process (or a restart) sees

    def seen() -> int:
        return other.execute("SELECT count(*) FROM docs").fetchone()[0]

    store.put("meta", "a", {"n": 1})                       # no loop running: committed at once
    assert seen() == 1

    async def on_the_loop() -> list[int]:
        store.put("meta", "b", {"n": 2})
        store.put("meta", "c", {"n": 3})
        before = seen()                                    # one transaction, not yet committed
        await store.committed()                            # what the gate awaits before an answer
        return [before, seen()]
    assert asyncio.run(on_the_loop()) == [1, 3]
    assert store.get("meta", "c") == {"n": 3}
    store.close()
    other.close()
