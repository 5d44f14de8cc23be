# One image for every lab service: `docker run IMAGE <service>` (any service of the topology: dc,
# mail, okta, ad-agent, phone, radius-agent, ad-connector, workspaces) or `docker run IMAGE
# provision`. docker-compose.yml runs the lab; `lab up --runtime docker` runs it through the CLI.
#
# Nothing is downloaded during the build: the project and its dependencies come as wheels built on
# the host into ./wheelhouse (`make images` does both steps; see docker/build-images.sh).
#
# BASE_IMAGE: an official Python image for users who can pull from a registry, or the Debian 12
# image that `make base-image` (docker/base-image.sh) bootstraps locally with debootstrap. Either
# must provide python3 3.11 with the venv module: the wheels are built for CPython 3.11.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# The classic builder keeps this stage as an untagged image; build-images.sh prunes it by label.
LABEL org.okta-workspaces-lab.stage=build
COPY wheelhouse/ /tmp/wheelhouse/
RUN python3 -m venv /opt/lab \
 && /opt/lab/bin/python -m pip install --quiet --no-index --no-cache-dir --disable-pip-version-check \
        --find-links /tmp/wheelhouse okta-workspaces-lab \
 && /opt/lab/bin/python -m pip uninstall --quiet --yes pip setuptools \
 && mkdir -p /etc/lab \
 && cp "$(/opt/lab/bin/python -c 'import lab.topology as t; print(t.SEED_DEFAULT)')" /etc/lab/seed.yaml

FROM ${BASE_IMAGE}
ARG LAB_UID=10001
# docker/source_digest.py of the tree built: the lab tells a stale image from a current one.
ARG LAB_SOURCE=unknown
LABEL org.okta-workspaces-lab.source="${LAB_SOURCE}"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LANG=C.UTF-8 \
    PATH=/opt/lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LAB_TOPOLOGY=/etc/lab/topology.json
RUN useradd --system --uid "${LAB_UID}" --user-group --home-dir /var/lib/lab --no-create-home \
        --shell /usr/sbin/nologin lab \
 && install -d -o lab -g lab -m 0750 /var/lib/lab
COPY --from=build /opt/lab /opt/lab
COPY --from=build /etc/lab/seed.yaml /etc/lab/seed.yaml
# The demo topology, for `docker run` without docker-compose; docker-compose.yml mounts its own.
COPY docker/config/topology.json /etc/lab/topology.json
COPY docker/entrypoint.py docker/healthcheck.py /opt/lab/docker/

USER lab
WORKDIR /var/lib/lab
# Each service's state is <state_dir>/<service> with state_dir /var/lib/lab: a volume per service.
VOLUME ["/var/lib/lab"]
# Services listen on the standard ports (25, 53, 80, 88, 389, 636, 1812) and the admin API on 9100.
EXPOSE 25/tcp 53/tcp 53/udp 80/tcp 88/tcp 88/udp 389/tcp 636/tcp 1812/udp 9100/tcp
HEALTHCHECK --interval=2s --timeout=3s --start-period=60s --retries=3 \
    CMD ["/opt/lab/bin/python", "/opt/lab/docker/healthcheck.py"]
ENTRYPOINT ["/opt/lab/bin/python", "/opt/lab/docker/entrypoint.py"]
CMD ["--help"]
