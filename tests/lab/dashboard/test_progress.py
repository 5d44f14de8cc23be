"""The class tiles' milestones: the rules that turn what a trainee lab answers into progress."""
from lab.dashboard import progress


def ev(kind, outcome, **fields):
    return {"kind": kind, "outcome": outcome, "fields": fields}


def test_directory_and_radius_from_describe_directories():
    assert progress.directory_facts([]) == {"directory": False, "radius": False}
    assert progress.directory_facts([{"Stage": "Creating"}]) == {"directory": False, "radius": False}
    assert progress.directory_facts([{"Stage": "Active", "RadiusStatus": "Creating"}]) == \
        {"directory": True, "radius": False}
    assert progress.directory_facts([{"Stage": "Active", "RadiusStatus": "Completed"}]) == \
        {"directory": True, "radius": True}
    assert progress.directory_facts([{"Stage": "Active", "RadiusStatus": "Failed"}])["radius"] is False


def test_imported_users_are_those_from_ad():
    okta_only = {"id": "1", "credentials": {"provider": {"type": "OKTA"}}}
    from_ad = {"id": "2", "credentials": {"provider": {"type": "ACTIVE_DIRECTORY", "name": "corp.example.com"}}}
    assert progress.ad_users([okta_only, {"id": "3"}]) == []
    assert progress.ad_users([okta_only, from_ad]) == [from_ad]


def test_a_sign_in_counts_by_the_method_radius_accepted():
    seen = progress.SignIns()
    seen.feed([ev("radius.request", "accept", user="alice", method="code"),
               ev("workspaces.signin", "success", user="alice")])
    assert seen.done == {"code"}
    seen.feed([ev("radius.request", "accept", user="bob", method="push"),
               ev("workspaces.signin", "failure", user="bob", reason="dc_unreachable")])
    assert seen.done == {"code"}, "a sign-in that failed after RADIUS is no first sign-in"
    seen.feed([ev("radius.request", "reject", user="carol", method="push"),
               ev("workspaces.signin", "success", user="carol")])
    assert seen.done == {"code"}, "a rejected push is no push sign-in"
    seen.feed([ev("radius.request", "accept", user="BOB@corp.example.com", method="push"),
               ev("workspaces.signin", "success", user="bob")])
    assert seen.done == {"code", "push"}


def test_milestones_count_in_the_walkthroughs_order():
    assert progress.reached({}) == 0
    assert progress.reached({"directory": True, "radius": True, "imported": True}) == 3
    assert progress.reached({"directory": True, "imported": True, "enrolled": True}) == 1, \
        "users imported before RADIUS is Completed does not skip the step"
    every = {key: True for key, _ in progress.STEPS}
    assert progress.reached(every) == len(progress.STEPS) == 6
    listed = progress.milestones({"directory": True})
    assert [m["label"] for m in listed] == ["directory connected", "RADIUS Completed", "users imported", "enrolled",
                                            "first sign-in with a code", "first sign-in with a push"]
    assert [m["done"] for m in listed] == [True, False, False, False, False, False]
