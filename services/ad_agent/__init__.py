"""The Okta AD agent: imports AD users and groups into the org, checks AD passwords for it."""
