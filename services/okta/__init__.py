"""The Okta org: Management API (users, groups, apps, factors, System Log), the emulator-private
RADIUS app endpoint and the Okta Verify device channel, with its state in SQLite."""
