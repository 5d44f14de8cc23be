"""AWS Directory Service AD Connector: authenticates sign-ins against the DC, with RADIUS MFA."""
