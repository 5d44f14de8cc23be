"""The Active Directory domain controller `InstanceRDC`: LDAP and DNS (Kerberos comes later).

Wire and state are kept apart: `directory.py` holds the entries and AD's account rules
(passwords, lockout, account states), `filters.py` evaluates LDAP filters against them,
`ldap.py`/`ber.py` speak LDAPv3 on TCP, and `dns.py` serves the domain's zone on UDP and TCP.
"""
