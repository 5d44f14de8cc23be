#!/usr/bin/env bash
# Builds the lab's base image without any container registry: a minimal Debian 12 (bookworm) root
# file system made by debootstrap from the Debian mirror this host's apt already uses, with
# python3 and python3-venv, imported with `docker import`.
#
#   docker/base-image.sh [TAG]            (default tag okta-workspaces-lab-base:bookworm)
#   docker/base-image.sh --print-mirror   only say which mirror it would use
#
# Environment:
#   DEBIAN_MIRROR   the mirror to bootstrap from (default: read from /etc/apt/sources.list*)
#   DEBIAN_SUITE    default bookworm; the lab's wheels are built for Python 3.11, bookworm's python3
#   APT_ETC         where apt's configuration is (default /etc/apt; the tests point it elsewhere)
#
# Needs root (debootstrap creates device nodes and chowns files), debootstrap and a Docker engine.
set -euo pipefail

TAG="${1:-${LAB_BASE_IMAGE:-okta-workspaces-lab-base:bookworm}}"
SUITE="${DEBIAN_SUITE:-bookworm}"
APT_ETC="${APT_ETC:-/etc/apt}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

die() { echo "base-image: $*" >&2; exit 2; }

PRINT_MIRROR=no
if [ "${1:-}" = --print-mirror ]; then
    PRINT_MIRROR=yes
else
    [ "$(id -u)" = 0 ] || die "debootstrap needs root; run as root (sudo make base-image)"
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    command -v docker >/dev/null || die "docker is not installed (apt-get install docker.io)"
    docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd)"
fi

# The mirror: the first apt source of this host that serves "$SUITE" with component main, in the
# one-line format (/etc/apt/sources.list, *.list) or the deb822 format (*.sources).
find_mirror() {
    local f
    for f in "$APT_ETC/sources.list" "$APT_ETC"/sources.list.d/*.list; do
        [ -r "$f" ] || continue
        awk -v suite="$SUITE" '
            $1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                uri = $i; s = $(i + 1)
                main = 0; for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
                if (s == suite && main) { print uri; exit }
            }' "$f"
    done
    for f in "$APT_ETC"/sources.list.d/*.sources; do
        [ -r "$f" ] || continue
        # Stanzas are separated by blank lines; fields are "Name: value" (comments start with #).
        awk -v suite="$SUITE" '
            function flush() {
                if (enabled && types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") &&
                    (" " comps " ") ~ / main /) { split(uris, u, " "); print u[1]; found = 1; exit }
                types = uris = suites = comps = ""; enabled = 1
            }
            BEGIN { enabled = 1 }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            {
                key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
                if (key == "types") types = $0
                else if (key == "uris") uris = $0
                else if (key == "suites") suites = $0
                else if (key == "components") comps = $0
                else if (key == "enabled" && tolower($0) == "no") enabled = 0
            }
            END { if (!found) flush() }' "$f"
    done
}

MIRROR="${DEBIAN_MIRROR:-$(find_mirror | head -n1)}"
[ -n "$MIRROR" ] || die "no apt source for $SUITE/main in $APT_ETC/sources.list*; set DEBIAN_MIRROR"
[ "$PRINT_MIRROR" = yes ] && { echo "$MIRROR"; exit 0; }
echo "base-image: bootstrapping Debian $SUITE from $MIRROR"

ROOTFS="$(mktemp -d /var/tmp/lab-rootfs.XXXXXX)"
cleanup() { rm -rf --one-file-system "$ROOTFS"; }
trap cleanup EXIT

KEYRING_ARG=()
[ -r "$KEYRING" ] && KEYRING_ARG=(--keyring="$KEYRING")

debootstrap --variant=minbase --include=python3,python3-venv "${KEYRING_ARG[@]}" \
    "$SUITE" "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || {
        tail -n 30 "$ROOTFS.log" >&2; rm -f "$ROOTFS.log"; die "debootstrap failed"; }
rm -f "$ROOTFS.log"

# What an image does not need: package lists and caches, documentation, locales. (Python's
# byte code stays: the stdlib compiled at install keeps every start and health check fast.)
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/log/*.log \
       "$ROOTFS"/var/cache/debconf/*-old "$ROOTFS"/var/lib/dpkg/*-old \
       "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* \
       "$ROOTFS"/usr/share/locale/* "$ROOTFS"/tmp/* "$ROOTFS"/root/.cache
# The image must not keep this host's resolver or host name.
: >"$ROOTFS/etc/resolv.conf"
: >"$ROOTFS/etc/hostname"

"$ROOTFS/usr/bin/python3" --version >/dev/null 2>&1 || chroot "$ROOTFS" python3 --version >/dev/null \
    || die "python3 does not run in the bootstrapped root"
PYVER="$(chroot "$ROOTFS" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

tar --numeric-owner -C "$ROOTFS" -c . | docker import \
    --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --message "Debian $SUITE minbase with python3 $PYVER and python3-venv (docker/base-image.sh)" \
    - "$TAG" >/dev/null
docker image inspect "$TAG" --format \
    "base-image: $TAG ({{.Size}} bytes, Debian $SUITE, python3 $PYVER)"
