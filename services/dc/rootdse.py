"""The RootDSE (the entry with the empty DN) and the OIDs it advertises.

AD serves it to anyone, bound or not; clients read it first to find the naming contexts and what
the server supports. What it lists is what this DC really does: the controls it honours (or may
safely ignore), AD's capability OIDs, and the extended operations the LDAP server offers (it
passes them in: StartTLS only when it has a certificate). See docs/active-directory.md ("RootDSE").
"""
from __future__ import annotations

from collections.abc import Sequence

from .directory import Directory
from .entry import Entry
from .names import generalized_time

# Controls
PAGED_RESULTS = "1.2.840.113556.1.4.319"     # simple paged results (RFC 2696), honoured
SUPPORTED_CONTROLS = [
    PAGED_RESULTS,
    "1.2.840.113556.1.4.801",    # LDAP_SERVER_SD_FLAGS_OID (no security descriptors are returned)
    "1.2.840.113556.1.4.417",    # LDAP_SERVER_SHOW_DELETED_OID (nothing is ever deleted here)
    "1.2.840.113556.1.4.1339",   # LDAP_SERVER_DOMAIN_SCOPE_OID (no referrals are generated)
    "1.2.840.113556.1.4.1413",   # LDAP_SERVER_PERMISSIVE_MODIFY_OID
]   # extended DN (1.2.840.113556.1.4.529) is not honoured, so not listed
SUPPORTED_CAPABILITIES = [
    "1.2.840.113556.1.4.800",    # LDAP_CAP_ACTIVE_DIRECTORY_OID
    "1.2.840.113556.1.4.1670",   # LDAP_CAP_ACTIVE_DIRECTORY_V51_OID
    "1.2.840.113556.1.4.1791",   # LDAP_CAP_ACTIVE_DIRECTORY_LDAP_INTEG_OID
    "1.2.840.113556.1.4.1935",   # LDAP_CAP_ACTIVE_DIRECTORY_V61_OID
    "1.2.840.113556.1.4.2080",   # LDAP_CAP_ACTIVE_DIRECTORY_V61_R2_OID
    "1.2.840.113556.1.4.2237",   # LDAP_CAP_ACTIVE_DIRECTORY_W8_OID
]
# Extended operations
WHO_AM_I = "1.3.6.1.4.1.4203.1.11.3"         # RFC 4532
START_TLS = "1.3.6.1.4.1.1466.20037"          # RFC 4511 4.14
NOTICE_OF_DISCONNECTION = "1.3.6.1.4.1.1466.20036"   # unsolicited, RFC 4511 4.4.1

FUNCTIONAL_LEVEL = 7     # Windows Server 2016


def root_dse(directory: Directory, extensions: Sequence[str] = (WHO_AM_I,)) -> Entry:
    """The RootDSE as AD serves it (built per read: currentTime and the highest USN move)."""
    domain = directory.domain
    base = domain.base_dn
    schema_dn = directory.schema_dn
    config = f"CN=Configuration,{base}"
    server = f"CN={domain.dc_hostname.upper()},CN=Servers,CN=Default-First-Site-Name,CN=Sites,{config}"
    return Entry("", {
        "currentTime": generalized_time(directory.now()),
        "subschemaSubentry": f"CN=Aggregate,{schema_dn}",
        "dsServiceName": f"CN=NTDS Settings,{server}",
        "namingContexts": [base, config, schema_dn, f"DC=DomainDnsZones,{base}", f"DC=ForestDnsZones,{base}"],
        "defaultNamingContext": base,
        "rootDomainNamingContext": base,
        "configurationNamingContext": config,
        "schemaNamingContext": schema_dn,
        "serverName": server,
        "dnsHostName": domain.dc_fqdn,
        "ldapServiceName": f"{domain.dns_name}:{domain.dc_hostname.lower()}$@{domain.dns_name.upper()}",
        "supportedControl": SUPPORTED_CONTROLS,
        "supportedLDAPVersion": ["3", "2"],
        "supportedLDAPPolicies": ["MaxPageSize", "MaxConnIdleTime", "MaxReceiveBuffer"],
        "supportedSASLMechanisms": ["GSSAPI", "GSS-SPNEGO", "EXTERNAL", "DIGEST-MD5"],
        "supportedCapabilities": SUPPORTED_CAPABILITIES,
        "supportedExtension": list(extensions),
        "highestCommittedUSN": directory.usn,
        "isSynchronized": "TRUE",
        "isGlobalCatalogReady": "FALSE",
        "domainFunctionality": FUNCTIONAL_LEVEL, "forestFunctionality": FUNCTIONAL_LEVEL,
        "domainControllerFunctionality": FUNCTIONAL_LEVEL,
    })
