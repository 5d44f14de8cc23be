#!/usr/bin/env bash
# The reference servers the benchmarks measure against, from Debian: FreeRADIUS (bench_radius.py)
# and OpenLDAP slapd (bench_ldap.py, when it compares). Their packages may start daemons on the
# standard ports; the benchmarks run their own copies on loopback addresses, so stop those.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
command -v freeradius >/dev/null || need+=(freeradius)
command -v slapd >/dev/null || need+=(slapd)
command -v radclient >/dev/null || need+=(freeradius-utils)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
service freeradius stop >/dev/null 2>&1 || true
service slapd stop >/dev/null 2>&1 || true
