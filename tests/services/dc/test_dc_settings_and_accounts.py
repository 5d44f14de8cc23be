"""In-process checks of the DC's settings (read once, bad values refused by name) and of the account
rules the LDAP bind and the KDC share."""
import pytest
import yaml

from lab import topology as topo
from services.common import ad_wire
from services.dc import ldap_results as R
from services.dc import modify
from services.dc.accounts import ACCOUNT_EXPIRED, DISABLED, LOCKED, MUST_CHANGE, PASSWORD_EXPIRED, Accounts
from services.dc.directory import Directory
from services.dc.settings import DAY, DcSettings


@pytest.fixture
def seed():
    return yaml.safe_load(topo.SEED_DEFAULT.read_text())


class Clock:
    def __init__(self):
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


# -- settings ------------------------------------------------------------------------------------
def test_defaults_and_the_seed_domain_section(seed):
    s = DcSettings.from_settings({}, seed)
    assert s.policy.lockout_threshold == seed["domain"]["lockout_threshold"]
    assert s.policy.max_password_age == 42 * DAY and s.max_page_size == 1000 and s.starttls
    # AD's LDAP policy: MaxReceiveBuffer, MaxQueryDuration; the lab's filter bounds
    assert (s.ldap_max_message_bytes, s.ldap_max_query_seconds) == (10485760, 120.0)
    assert (s.ldap_max_filter_terms, s.ldap_max_filter_depth) == (10000, 100)
    s = DcSettings.from_settings({"lockout_threshold": 3, "starttls": False}, seed)
    assert s.policy.lockout_threshold == 3 and not s.starttls   # the topology wins over the seed


@pytest.mark.parametrize("settings,named", [
    ({"lockout_threshold": "many"}, "lockout_threshold"),
    ({"max_page_size": 0}, "max_page_size"),
    ({"ldap_idle_seconds": -1}, "ldap_idle_seconds"),
    ({"starttls": "yes"}, "starttls"),
    ({"generated_users": 2.5}, "generated_users"),
    ({"generated_password": 123}, "generated_password"),
    ({"ldap_max_query_seconds": 0}, "ldap_max_query_seconds"),
    ({"ldap_max_filter_terms": 0}, "ldap_max_filter_terms"),
    ({"ldap_max_filter_depth": "deep"}, "ldap_max_filter_depth"),
])
def test_bad_values_are_refused_naming_the_setting(seed, settings, named):
    with pytest.raises(ValueError, match=named):
        DcSettings.from_settings(settings, seed)


# -- account rules -------------------------------------------------------------------------------
def test_states_as_both_protocols_see_them(seed):
    clock = Clock()
    d = Directory(seed, clock, DcSettings.from_settings({}, seed))
    rules = Accounts(d)
    states = {sam: rules.revoked(d.by_sam[sam], clock()) or rules.key_expired(d.by_sam[sam], clock())
              for sam in ("alice", "dave", "erin", "heidi", "grace", "frank")}
    assert states == {"alice": None, "dave": DISABLED, "erin": LOCKED, "heidi": ACCOUNT_EXPIRED,
                      "grace": MUST_CHANGE, "frank": PASSWORD_EXPIRED}


def test_bad_passwords_from_either_protocol_lock_the_account(seed):
    clock = Clock()
    d = Directory(seed, clock, DcSettings.from_settings({"lockout_threshold": 3}, seed))
    rules = Accounts(d)
    bob = d.by_sam["bob"]
    assert rules.bind("CORP\\bob", "nope").outcome == ad_wire.BAD_PASSWORD
    rules.bad_password(bob, clock())                     # what the KDC does with a bad timestamp
    assert rules.bind("CORP\\bob", "nope").outcome == ad_wire.BAD_PASSWORD
    assert rules.bind("CORP\\bob", "Bob-Passw0rd!").outcome == ad_wire.ACCOUNT_LOCKED
    clock.t += d.policy.lockout_duration + 1
    assert rules.bind("CORP\\bob", "Bob-Passw0rd!").ok
    assert bob.entry.int("badPwdCount") == 0 and bob.entry.int("logonCount") == 1


def test_modify_refusals_are_typed_and_nothing_is_applied(seed):
    d = Directory(seed, Clock(), DcSettings.from_settings({}, seed))
    admin, alice = d.by_sam["administrator"], d.by_sam["alice"]
    dn = alice.entry.dn
    refused = modify.apply(d, alice, dn, [("replace", "mail", [b"x@y"])], secure=True)
    assert refused == R.Refusal(R.INSUFFICIENT_ACCESS, R.ACCESS)
    refused = modify.apply(d, admin, dn, [("replace", "mail", [b"x@y"]), ("replace", "cn", [b"x"])], secure=True)
    assert refused is not None and refused.name == "unwillingToPerform" and "WILL_NOT_PERFORM" in refused.message()
    assert alice.entry.first("mail") == "alice@corp.example.com"
    missing = modify.apply(d, admin, f"CN=Nobody,{d.domain.base_dn}", [], secure=True)
    assert missing is not None and missing.result == R.NO_SUCH_OBJECT and d.domain.base_dn in missing.message()


def test_a_password_set_over_ldap_is_heard_by_the_listeners(seed):
    d = Directory(seed, Clock(), DcSettings.from_settings({}, seed))
    heard = []
    d.password_listeners.append(lambda account, password: heard.append((account.sam, password)))
    value = '"Grace-N3w-Passw0rd!"'.encode("utf-16-le")
    grace = d.by_sam["grace"]
    assert modify.apply(d, d.by_sam["administrator"], grace.entry.dn,
                        [("replace", "unicodePwd", [value])], secure=True) is None
    assert heard == [("grace", "Grace-N3w-Passw0rd!")]
    assert Accounts(d).bind("CORP\\grace", "Grace-N3w-Passw0rd!").ok
