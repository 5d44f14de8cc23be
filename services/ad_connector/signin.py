"""The connector's sign-in path, in AWS's documented order: RADIUS first, then Active Directory.

The order is a setting (`auth_order`: "radius_first" or "ad_first", settings.py) because AWS documents it only
for Managed Microsoft AD. The AD step finds the DC by SRV records, proves the password with a
Kerberos AS exchange (`kerberos_auth`), then reads the user's attributes over LDAP with the
service account (`directory_auth`). Each step leaves an event; the result names the step that failed so
scenarios can assert on it, while WorkSpaces shows its one generic message.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from services.common import ad_wire
from services.common.context import ServiceContext

from . import directory_auth, kerberos_auth, radius_client
from .discovery import DiscoveryError, find_domain_controller
from .service_account import ServiceAccount
from .settings import ConnectorSettings


@dataclass
class SignInResult:
    authenticated: bool
    reason: str = "ok"
    detail: str = ""
    user: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"authenticated": self.authenticated}
        if self.authenticated:
            out["user"] = self.user
        else:
            out.update(reason=self.reason, detail=self.detail)
        return out


class SignIn:
    def __init__(self, ctx: ServiceContext, settings: ConnectorSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self._sources = itertools.cycle(settings.connect_ips)

    async def run(self, directory: dict[str, Any], username: str, password: str, mfa_code: str,
                  trace: str | None) -> SignInResult:
        order = self.settings.auth_order
        radius_on = directory.get("RadiusSettings") is not None
        if directory.get("Stage") != "Active":
            return SignInResult(False, "directory_not_active", f"directory Stage is {directory.get('Stage')}")
        if radius_on and directory.get("RadiusStatus") != "Completed":
            # AWS: while RadiusStatus is Creating, users cannot log in to their WorkSpaces.
            return SignInResult(False, "radius_not_ready", f"RadiusStatus is {directory.get('RadiusStatus')}")
        steps = [self._radius, self._active_directory] if order == "radius_first" else \
            [self._active_directory, self._radius]
        user: dict[str, Any] = {}
        # One connector address (ENI) carries the whole sign-in: RADIUS, DNS and LDAP alike.
        source = next(self._sources)
        for step in steps:
            if step == self._radius and not radius_on:
                continue
            outcome = await step(directory, username, password, mfa_code, trace, source)
            if not outcome.authenticated:
                return outcome
            user.update(outcome.user)
        return SignInResult(True, user=user)

    async def _radius(self, directory, username, _password, mfa_code, trace, source) -> SignInResult:
        rs = directory["RadiusSettings"]

        def sent(attempt: radius_client.Attempt, number: int, packet_id: int) -> None:
            self.ctx.record("connector.radius_request", peer=attempt.server, trace=trace, source=attempt.source,
                            user=username, attempt=number, packet_id=packet_id)

        def attempt_unanswered(attempt: radius_client.Attempt) -> None:
            self.ctx.record("connector.radius_attempt", peer=attempt.server, outcome=attempt.outcome,
                            trace=trace, source=attempt.source, user=username)

        try:
            result = await radius_client.authenticate(
                servers=rs["RadiusServers"], port=int(rs["RadiusPort"]), secret=rs["SharedSecret"].encode(),
                username=username, mfa_code=mfa_code, source_ip=source,
                timeout=float(rs["RadiusTimeout"]) * self.settings.time_scale,
                retries=int(rs["RadiusRetries"]), nas_identifier=directory["DirectoryId"],
                protocol=rs.get("AuthenticationProtocol", "PAP"), on_send=sent,
                on_unanswered=attempt_unanswered)
        except (OSError, ValueError) as exc:
            self.ctx.record("connector.radius", outcome="error", trace=trace, user=username, reason=str(exc))
            return SignInResult(False, "radius_error", str(exc))
        self.ctx.record("connector.radius", peer=result.server, outcome=result.outcome, trace=trace,
                        user=username, source=source, attempts=len(result.attempts),
                        elapsed_ms=round(result.elapsed * 1000))
        if result.outcome == "accept":
            return SignInResult(True)
        detail = {"reject": "RADIUS server rejected the MFA code",
                  "challenge": "Access-Challenge received; AWS Directory Service does not support "
                               "RADIUS Challenge/Response authentication",
                  "timeout": "no reply from any RADIUS server within the time budget"}[result.outcome]
        return SignInResult(False, f"radius_{result.outcome}", detail)

    async def _active_directory(self, directory, username, password, _mfa_code, trace, source) -> SignInResult:
        domain = directory["Name"]
        try:
            dc = await find_domain_controller(domain, directory["DnsIpAddrs"], self.settings.dns_port,
                                              source=source)
        except DiscoveryError as exc:
            self.ctx.record("connector.dc_discovery", outcome="failed", trace=trace, reason=str(exc))
            return SignInResult(False, "dc_unreachable", str(exc))
        self.ctx.record("connector.dc_discovery", peer=f"{dc.address}:{dc.ldap_port}", outcome="found",
                        trace=trace, dc=dc.hostname)
        principal = username if ("@" in username or "\\" in username) else f"{username}@{domain}"
        reason, detail = await self._kerberos_password_check(directory, dc, username, password, trace,
                                                             principal, source)
        if reason != "ok":
            if reason == "dc_unreachable" or reason.startswith("kerberos_"):
                return SignInResult(False, reason, detail)
            return SignInResult(False, f"ad_{reason}", ad_wire.BIND_SUBCODES.get(reason, detail))
        sam = principal.split("@")[0].split("\\")[-1]
        attrs = await directory_auth.read_user(dc.address, dc.ldap_port, ServiceAccount.of(directory), sam, source)
        if attrs is None:
            # Kerberos proved the password, but the connector reads the user with its service
            # account to hand WorkSpaces who signed in; when it cannot (LDAP blocked, the service
            # account's password changed, disabled or locked), there is no sign-in.
            self.ctx.record("connector.ad_lookup", peer=f"{dc.address}:{dc.ldap_port}", outcome="failed",
                            trace=trace, user=principal)
            return SignInResult(False, "ad_lookup_failed",
                                "the service account could not read the user from the directory")
        return SignInResult(True, user=_jsonable(attrs))

    async def _kerberos_password_check(self, directory, dc, username, password, trace, principal,
                                       source) -> tuple[str, str]:
        """The password step as AWS documents it: a Kerberos AS exchange with pre-authentication
        against the DC found by SRV discovery. Returns (reason, detail): "ok", an AD sub-code
        ("52e", "525", "533", "775", "701", "532", "773"), "kerberos_skew", "dc_unreachable", or
        "kerberos_<error>" for anything else the KDC says. CLIENT_REVOKED and KEY_EXPIRED are
        narrowed to AD's sub-code with an LDAP read as the service account (Kerberos cannot say).
        Kerberos is the only password check, as in AD Connector: a KDC port that refuses (no KDC)
        or stays silent (dropped, filtered) fails the sign-in as `dc_unreachable`."""
        domain = directory["Name"]
        peer = f"{dc.address}:{dc.kerberos_port}"
        if not dc.kerberos_port:
            self.ctx.record("connector.ad_auth", peer=dc.address, outcome="unreachable", trace=trace,
                            user=principal, reason="no Kerberos SRV port")
            return "dc_unreachable", "no Kerberos port for the domain controller"
        result = await kerberos_auth.authenticate(
            dc.address, dc.kerberos_port, domain, username, password, source=source,
            now=self.ctx.clock.now, timeout=self.settings.kerberos_timeout_seconds,
            transport=self.settings.kerberos_transport, udp_fallback=self.settings.kerberos_udp_fallback)
        code = result.error_code
        if result.ok:
            reason, detail = "ok", ""
        elif result.outcome in ("unreachable", "refused", "bad_reply"):
            reason, detail = "dc_unreachable", result.detail
        elif code == kerberos_auth.KDC_ERR_PREAUTH_FAILED:
            reason, detail = ad_wire.BAD_PASSWORD, ""
        elif code == kerberos_auth.KDC_ERR_C_PRINCIPAL_UNKNOWN:
            reason, detail = ad_wire.NO_SUCH_USER, ""
        elif code in (kerberos_auth.KDC_ERR_CLIENT_REVOKED, kerberos_auth.KDC_ERR_KEY_EXPIRED):
            sam = principal.split("@")[0].split("\\")[-1]
            reason = await kerberos_auth.explain(code, dc.address, dc.ldap_port, ServiceAccount.of(directory),
                                                 sam, source)
            detail = ""
        elif code == kerberos_auth.KRB_AP_ERR_SKEW:
            reason, detail = "kerberos_skew", ("clock skew too great between AD Connector and the "
                                               "domain controller (KRB_AP_ERR_SKEW)")
        else:
            reason, detail = f"kerberos_{result.outcome.lower()}", result.outcome
        self.ctx.record("connector.ad_auth", peer=peer, outcome="unreachable" if reason == "dc_unreachable" else reason,
                        trace=trace, user=principal, kerberos=result.outcome, transport=result.transport,
                        etype=result.etype)
        return reason, detail


def _jsonable(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (str, int, list, type(None))) else str(v)) for k, v in attrs.items()}
