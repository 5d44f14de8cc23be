"""A suite of another team's: its tooling meets the lab through the plugin's fixtures (no conftest)."""
import asyncio


def test_the_directory_is_registered_and_alice_signs_in(lab):
    directory = lab.ds.describe_directories()["DirectoryDescriptions"][0]
    registered = lab.workspaces.describe_workspace_directories()["Directories"]
    assert directory["DirectoryId"] in {d["DirectoryId"] for d in registered}

    result = lab.login("alice", mfa=lab.phone("alice"))
    assert result["success"], result
    kinds = [(e["service"], e["kind"], e.get("outcome")) for e in lab.events()]
    assert ("radius-agent", "radius.request", "accept") in kinds


def test_the_okta_sdk_sees_the_seeded_users(lab):
    from okta.client import Client as OktaClient  # here: the SDK takes seconds to import

    async def logins():
        users, _resp, error = await OktaClient(lab.okta_config).list_users()
        assert error is None, error
        return {u.profile.login.split("@")[0] for u in users}

    assert {"alice", "bob"} <= asyncio.run(logins())


def test_a_denied_push_is_refused(lab):
    lab.phone_respond("bob", "deny")
    result = lab.login("bob", mfa="push")
    assert not result["success"]
