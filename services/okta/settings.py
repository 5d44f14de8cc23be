"""The org's settings (`topology.services.okta.settings`), read once at start-up into one frozen
dataclass: every default is stated here and nowhere else, and a bad value stops the service with
one line (the runner prints it) instead of failing later inside a request. A scenario changes a
setting by restarting the service, so nothing re-reads them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DELEGATED_MODES = ("auto", "agent", "ldap", "accept", "reject")
NUMBER_CHALLENGE = ("never", "high_risk", "all")     # Okta Verify's "Number Challenge" (push.py)
NUMBER_CHALLENGE_RADIUS = ("skip", "send")
# Requests per minute by path prefix (the longest prefix wins); `rate_limits` overrides them.
DEFAULT_RATE_LIMITS = {"default": 600, "/api/v1/logs": 120, "/api/v1/radius": 600, "/api/v1/authn": 600,
                       "/api/v1/users": 600, "/api/v1/apps": 600}


@dataclass(frozen=True)
class OrgSettings:
    authn_state_ttl_seconds: float = 300.0          # sliding: every authn call renews it
    activation_token_ttl_seconds: float = 7 * 86400.0
    delegated_auth: str = "auto"                    # one of DELEGATED_MODES (delegated.py)
    delegated_auth_timeout_seconds: float = 10.0
    mail_from: str = "noreply@okta.com"
    push_ttl_seconds: float = 60.0
    push_activation_ttl_seconds: float = 600.0
    factor_lockout_attempts: int = 10
    totp_window_steps: int = 1
    # Steps beyond the window still recognised as the factor's code: 403 E0000083 "valid but
    # exceeded time window" instead of E0000068. Lab choice: Okta documents the error, not how far
    # it looks; 0 makes every code outside the window simply wrong.
    totp_outside_window_steps: int = 2
    activation_code_counts_as_used: bool = False
    api_token_idle_days: float = 30.0
    agent_inactive_days: float = 7.0                # a DISRUPTED agent shows INACTIVE after this
    rate_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    authn_user_limit_per_second: int = 4            # 0 turns the per-user authn limit off
    factor_code_ttl_seconds: float = 300.0
    factor_code_resend_seconds: float = 30.0
    # Okta Verify (push.py, docs/okta.md "Number challenge"): when a push carries a number to pick;
    # whether a push for a RADIUS sign-in does too (skip: Okta's "Disable number matching
    # challenge for RADIUS"); how many Okta Verify devices (push factors) a user may enrol.
    okta_verify_number_challenge: str = "never"
    number_challenge_radius: str = "skip"
    okta_verify_max_devices: int = 1

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> OrgSettings:
        """The settings as given, checked; ValueError names the first bad one."""
        d = cls()

        def number(key: str, default: float, *, minimum: float = 0.0, positive: bool = True) -> float:
            raw = settings.get(key, default)
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise ValueError(f"okta setting {key} must be a number, not {raw!r}")
            if raw < minimum or (positive and raw <= 0):
                raise ValueError(f"okta setting {key} must be {'positive' if positive else f'at least {minimum:g}'}")
            return float(raw)

        def integer(key: str, default: int, *, minimum: int) -> int:
            raw = settings.get(key, default)
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
                raise ValueError(f"okta setting {key} must be an integer of at least {minimum}, not {raw!r}")
            return raw

        mode = settings.get("delegated_auth", d.delegated_auth)
        if mode not in DELEGATED_MODES:
            raise ValueError(f"okta setting delegated_auth must be one of {', '.join(DELEGATED_MODES)}")
        mail_from = settings.get("mail_from", d.mail_from)
        if not isinstance(mail_from, str) or "@" not in mail_from:
            raise ValueError(f"okta setting mail_from must be an email address, not {mail_from!r}")
        counts_as_used = settings.get("activation_code_counts_as_used", d.activation_code_counts_as_used)
        if not isinstance(counts_as_used, bool):
            raise ValueError("okta setting activation_code_counts_as_used must be true or false")
        limits = settings.get("rate_limits", {})
        if not isinstance(limits, dict) or not all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
                for k, v in limits.items()):
            raise ValueError("okta setting rate_limits must map path prefixes to requests per minute")
        challenge = settings.get("okta_verify_number_challenge", d.okta_verify_number_challenge)
        if challenge not in NUMBER_CHALLENGE:
            raise ValueError(f"okta setting okta_verify_number_challenge must be one of {', '.join(NUMBER_CHALLENGE)}")
        radius_challenge = settings.get("number_challenge_radius", d.number_challenge_radius)
        if radius_challenge not in NUMBER_CHALLENGE_RADIUS:
            raise ValueError("okta setting number_challenge_radius must be one of "
                             f"{', '.join(NUMBER_CHALLENGE_RADIUS)}")
        return cls(
            okta_verify_number_challenge=challenge,
            number_challenge_radius=radius_challenge,
            okta_verify_max_devices=integer("okta_verify_max_devices", d.okta_verify_max_devices, minimum=1),
            authn_state_ttl_seconds=number("authn_state_ttl_seconds", d.authn_state_ttl_seconds),
            activation_token_ttl_seconds=number("activation_token_ttl_seconds", d.activation_token_ttl_seconds),
            delegated_auth=mode,
            delegated_auth_timeout_seconds=number("delegated_auth_timeout_seconds",
                                                  d.delegated_auth_timeout_seconds),
            mail_from=mail_from,
            push_ttl_seconds=number("push_ttl_seconds", d.push_ttl_seconds),
            push_activation_ttl_seconds=number("push_activation_ttl_seconds", d.push_activation_ttl_seconds),
            factor_lockout_attempts=integer("factor_lockout_attempts", d.factor_lockout_attempts, minimum=1),
            totp_window_steps=integer("totp_window_steps", d.totp_window_steps, minimum=0),
            totp_outside_window_steps=integer("totp_outside_window_steps", d.totp_outside_window_steps, minimum=0),
            activation_code_counts_as_used=counts_as_used,
            api_token_idle_days=number("api_token_idle_days", d.api_token_idle_days),
            agent_inactive_days=number("agent_inactive_days", d.agent_inactive_days),
            rate_limits={**DEFAULT_RATE_LIMITS, **limits},
            authn_user_limit_per_second=integer("authn_user_limit_per_second", d.authn_user_limit_per_second,
                                                minimum=0),
            factor_code_ttl_seconds=number("factor_code_ttl_seconds", d.factor_code_ttl_seconds),
            factor_code_resend_seconds=number("factor_code_resend_seconds", d.factor_code_resend_seconds,
                                              positive=False),
        )
