"""The org's settings: read once into OrgSettings, defaults stated there, bad values refused with
one line (the runner prints it and the service does not start)."""
from __future__ import annotations

import pytest

from services.okta.settings import DEFAULT_RATE_LIMITS, OrgSettings


def test_defaults_and_overrides():
    s = OrgSettings.from_settings({})
    assert s == OrgSettings() and s.authn_state_ttl_seconds == 300 and s.delegated_auth == "auto"
    s = OrgSettings.from_settings({"push_ttl_seconds": 2, "rate_limits": {"/api/v1/apps": 2},
                                   "authn_user_limit_per_second": 0, "factor_code_resend_seconds": 0})
    assert s.push_ttl_seconds == 2.0 and s.authn_user_limit_per_second == 0
    assert s.rate_limits == {**DEFAULT_RATE_LIMITS, "/api/v1/apps": 2}
    ov = (s.okta_verify_number_challenge, s.number_challenge_radius, s.okta_verify_max_devices)
    assert ov == ("never", "skip", 1)


@pytest.mark.parametrize("bad", [
    {"delegated_auth": "maybe"}, {"push_ttl_seconds": "soon"}, {"push_ttl_seconds": 0},
    {"factor_lockout_attempts": 0}, {"totp_window_steps": -1}, {"activation_code_counts_as_used": "yes"},
    {"rate_limits": {"/api/v1/apps": "two"}}, {"mail_from": "nobody"}, {"authn_user_limit_per_second": True},
    {"okta_verify_number_challenge": "sometimes"}, {"number_challenge_radius": True}, {"okta_verify_max_devices": 0},
])
def test_bad_values_are_refused_in_one_line(bad):
    with pytest.raises(ValueError) as err:
        OrgSettings.from_settings(bad)
    assert next(iter(bad)) in str(err.value) and "\n" not in str(err.value)
