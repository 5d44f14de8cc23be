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
command -v krb5kdc >/dev/null || [ -x /usr/sbin/krb5kdc ] || need+=(krb5-kdc krb5-admin-server)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
service freeradius stop >/dev/null 2>&1 || true
service slapd stop >/dev/null 2>&1 || true
service krb5-kdc stop >/dev/null 2>&1 || true
