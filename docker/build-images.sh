#!/usr/bin/env bash
# Builds the lab's image (`make images`): the project and its dependencies as wheels built on this
# host into ./wheelhouse (the build context), then `docker build` with no network access needed.
#
# Environment:
#   PYTHON       the Python whose pip builds the wheels (default .venv/bin/python, else python3);
#                it must be CPython 3.11, the Python of both base images
#   BASE_IMAGE   the image to build on (default: okta-workspaces-lab-base:bookworm when it exists
#                locally, made by `make base-image`, else python:3.11-slim-bookworm from a registry)
#   LAB_IMAGE    the tag to build (default okta-workspaces-lab:latest)
set -euo pipefail
cd "$(dirname "$0")/.."

LOCAL_BASE=okta-workspaces-lab-base:bookworm
LAB_IMAGE="${LAB_IMAGE:-okta-workspaces-lab:latest}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
die() { echo "images: $*" >&2; exit 2; }

command -v docker >/dev/null || die "docker is not installed (apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "no Docker engine answers (start dockerd)"

PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$PYVER" = 3.11 ] || die "$PYTHON is Python $PYVER; the image's Python is 3.11 and the wheels must match (set PYTHON)"

if [ -z "${BASE_IMAGE:-}" ]; then
    if docker image inspect "$LOCAL_BASE" >/dev/null 2>&1; then BASE_IMAGE="$LOCAL_BASE"
    else BASE_IMAGE=python:3.11-slim-bookworm; fi
fi

echo "images: wheels for $("$PYTHON" --version) into wheelhouse/"
rm -rf wheelhouse
had_build=no; [ -e build ] && had_build=yes
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
"$PYTHON" -m pip wheel --disable-pip-version-check --wheel-dir wheelhouse . >"$log" 2>&1 \
    || { tail -n 30 "$log" >&2; die "pip wheel failed"; }
# setuptools' scratch folder from building the project's wheel, unless it was there before
[ "$had_build" = yes ] || rm -rf build

previous="$(docker image inspect --format '{{.Id}}' "$LAB_IMAGE" 2>/dev/null || true)"
echo "images: docker build $LAB_IMAGE on $BASE_IMAGE"
# The classic builder: no BuildKit or buildx needed (Debian's docker.io 20.10 has neither plugin).
SOURCE="$("$PYTHON" docker/source_digest.py .)"
DOCKER_BUILDKIT=0 docker build --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg LAB_SOURCE="$SOURCE" \
    --tag "$LAB_IMAGE" . >"$log" 2>&1 \
    || { tail -n 30 "$log" >&2; die "docker build failed"; }
# Only the build stages of this Dockerfile (labelled), and only once nothing uses them.
docker image prune --force --filter label=org.okta-workspaces-lab.stage=build >/dev/null
# The image this tag named before, if nothing else names or uses it now.
current="$(docker image inspect --format '{{.Id}}' "$LAB_IMAGE")"
if [ -n "$previous" ] && [ "$previous" != "$current" ] &&
   [ "$(docker image inspect --format '{{len .RepoTags}}' "$previous" 2>/dev/null)" = 0 ]; then
    docker rmi "$previous" >/dev/null 2>&1 || true
fi
docker image inspect "$LAB_IMAGE" --format "images: $LAB_IMAGE {{.Id}} ({{.Size}} bytes)"
