"""The Okta RADIUS Server Agent, emulated: RADIUS/UDP in (one port per RADIUS app), Okta API out.

Modules: `radius` (the wire), `dedup` (RFC 5080 duplicate cache), `org` (HTTP client to the org),
`model` (apps, policy, outcomes), `resolve` (User-Name → Okta user, with reasons), `mfa` (the
Verifier and Okta's MFA-only rules), `primary` ("Okta performs primary authentication", in one
request or through Access-Challenge), `challenge` (State → pending challenge), `groups` (groups in
the Access-Accept), `apps` (app list refresh and ports), `agent` (the pipeline and the Okta-shaped
log), `__main__` (wiring).
"""
