#!/usr/bin/env bash
# The reference servers the benchmarks measure against, from Debian: FreeRADIUS (bench_radius.py),
# OpenLDAP slapd (bench_ldap.py) and MIT krb5kdc (bench_kerberos.py). Their packages may start daemons on the
# standard ports; the benchmarks run their own copies on loopback addresses, so stop those.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v freeradius >/dev/null || need+=(freeradius)
command -v slapd >/dev/null || need+=(slapd)
command -v radclient >/dev/null || need+=(freeradius-utils)
# krb5kdc (krb5-kdc) serves; kadmin.local (krb5-admin-server) makes bench_kerberos.py's throwaway
# database's principal: either may be present without the other.
command -v krb5kdc >/dev/null || [ -x /usr/sbin/krb5kdc ] || need+=(krb5-kdc)
command -v kadmin.local >/dev/null || [ -x /usr/sbin/kadmin.local ] || need+=(krb5-admin-server)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
service freeradius stop >/dev/null 2>&1 || true
service slapd stop >/dev/null 2>&1 || true
service krb5-kdc stop >/dev/null 2>&1 || true
service krb5-admin-server stop >/dev/null 2>&1 || true
