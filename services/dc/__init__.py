"""The Active Directory domain controller `InstanceRDC`: LDAP (and LDAPS), DNS and a Kerberos KDC.

Wire and state are kept apart: `directory.py` holds the entries (built by `seeding.py`),
`accounts.py` AD's account rules that LDAP binds and the KDC share, `ldap.py`/`ldap_messages.py`/`ber.py`
speak LDAPv3 on TCP, `kerberos.py`/`krb_as.py` the AS exchange, and `dns.py` serves the domain's zone.
The module map is in services/dc/README.md; AD's behaviour, with sources, in docs/active-directory.md.
"""
