"""The Okta RADIUS Server Agent, emulated: RADIUS/UDP in (one port per RADIUS app), Okta API out.

Modules: `radius` (the wire), `dedup` (RFC 5080 duplicate cache), `org` (HTTP client to the org),
`mfa` (Okta's MFA-only / primary-auth semantics), `apps` (app list refresh and ports),
`agent` (the pipeline and the Okta-shaped log), `__main__` (wiring).
"""
