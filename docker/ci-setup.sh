#!/usr/bin/env bash
# Makes a Debian 12 machine ready for the docker runtime and its tests (CI runs this as root):
# installs Docker, docker-compose and debootstrap, starts dockerd unless an engine already answers,
# builds the base image with debootstrap (unless it exists; LAB_REBUILD_BASE=1 forces it) and the
# lab's image. Says how long each step took.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
BASE=okta-workspaces-lab-base:bookworm
DOCKERD_LOG="${DOCKERD_LOG:-/tmp/lab-dockerd.log}"

timed() {   # timed LABEL COMMAND...
    local label="$1" start end
    shift
    start=$(date +%s%N)
    "$@"
    end=$(date +%s%N)
    local ms=$(( (end - start) / 1000000 ))
    printf 'docker-setup: %-30s %4d.%d s\n' "$label" $((ms / 1000)) $((ms % 1000 / 100))
}

install_packages() {
    apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null
}

start_engine() {
    if docker info >/dev/null 2>&1; then
        echo "docker-setup: a Docker engine already answers"
        return
    fi
    nohup dockerd >"$DOCKERD_LOG" 2>&1 &
    for _ in $(seq 120); do
        docker info >/dev/null 2>&1 && return
        sleep 0.5
    done
    echo "docker-setup: dockerd did not come up; the end of $DOCKERD_LOG:" >&2
    tail -n 30 "$DOCKERD_LOG" >&2
    exit 1
}

base_image() {
    if [ "${LAB_REBUILD_BASE:-0}" != 1 ] && docker image inspect "$BASE" >/dev/null 2>&1; then
        echo "docker-setup: $BASE exists (LAB_REBUILD_BASE=1 rebuilds it)"
        return
    fi
    docker/base-image.sh "$BASE"
}

timed "apt-get install docker.io ..." install_packages
timed "dockerd ready" start_engine
timed "base image (debootstrap)" base_image
timed "lab image (wheels + build)" env BASE_IMAGE="$BASE" docker/build-images.sh
docker image ls --format 'docker-setup: image {{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'okta-workspaces-lab' || true
