# The lab's front door. `make lab-up` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
LAB     = $(BIN)/lab
STAMP   = $(VENV)/.installed
# Containers: the lab's image, and the base it is built on (empty: the local Debian 12 base that
# `make base-image` makes when it exists, else python:3.11-slim-bookworm from a registry).
IMAGE      ?= okta-workspaces-lab:latest
BASE_IMAGE ?=

.PHONY: lab-up lab-down lab-status test scenarios bench venv clean base-image images test-docker lint soak class-capacity

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

lab-up: $(STAMP)
	$(LAB) up $(if $(RUNTIME),--runtime $(RUNTIME))

lab-down: $(STAMP)
	$(LAB) down

lab-status: $(STAMP)
	$(LAB) status

# The containers' and the browser's tests run alongside the rest, in a pytest of their own: they
# wait on Docker and Chromium more than they compute, and use subnets no other test uses (172.28.x,
# 172.29.x and their own 127.0.x). Their output follows the main run's; either failing fails `make test`.
SIDE_TESTS := tests/docker tests/lab/classroom/test_class_docker.py tests/ui
test: $(STAMP)
	@mkdir -p reports
	@$(BIN)/pytest -p no:cacheprovider --durations=10 $(SIDE_TESTS) >reports/test-side.log 2>&1 & side=$$!; \
	$(BIN)/pytest --durations=30 $(addprefix --ignore=,$(SIDE_TESTS)); main=$$?; \
	wait $$side; rc=$$?; \
	echo "== alongside: $(SIDE_TESTS) (reports/test-side.log)"; cat reports/test-side.log; \
	[ $$main -eq 0 ] && [ $$rc -eq 0 ]

# The scenario catalog (packaged in lab/scenarios/catalog) against the running lab, or one brought
# up for the run on SUBNET (default 127.0.10; the blank lab's is derived from it): JUnit + HTML.
scenarios: $(STAMP)
	$(LAB) scenarios run $(if $(TAG),--tag $(TAG)) $(if $(SUBNET),--subnet $(SUBNET)) --junit reports/junit.xml --report reports/scenarios

bench: $(STAMP)
	bash bench/install-references.sh
	@for b in bench/bench_*.py; do [ -e "$$b" ] || continue; echo "== $$b"; $(BIN)/python $$b || exit 1; done
	@echo "every figure and ratio: reports/bench.json (bench/README.md keeps the last table to compare with)"

# A bounded soak run (not in `make test`): a lab of its own on 127.0.44, sign-ins, imports, admin
# changes and a service killed every minute for SOAK_MINUTES; a report, exit 1 on any violation.
SOAK_MINUTES ?= 2
soak: $(STAMP)
	$(BIN)/python -m lab.soak --minutes $(SOAK_MINUTES)

# How many trainee labs this host holds (not in CI): classes of CLASS_SIZES trainees in CLASS_RUNTIME
# (process on 127.68.x, docker on 172.29.x): start-up time, memory per lab, sign-in latency with
# every trainee at once.
CLASS_SIZES ?= 10 30
CLASS_RUNTIME ?= process
class-capacity: $(STAMP)
	$(BIN)/python bench/class_capacity.py --runtime $(CLASS_RUNTIME) --trainees $(CLASS_SIZES)

# A Debian 12 base image without any registry: debootstrap from this host's Debian mirror, then
# `docker import` (needs root, debootstrap and a running Docker engine).
base-image:
	docker/base-image.sh

# The lab's one image for every service, from wheels built here into wheelhouse/ (no network
# inside the build).
images: $(STAMP)
	BASE_IMAGE=$(BASE_IMAGE) LAB_IMAGE=$(IMAGE) PYTHON=$(BIN)/python docker/build-images.sh

# The docker runtime's tests, failing (not skipping) when Docker cannot run them.
test-docker: $(STAMP)
	LAB_DOCKER_TESTS=1 $(BIN)/pytest tests/docker

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache wheelhouse

# Lint: ruff (the rule set is in pyproject.toml) and mypy with check_untyped_defs over lab/ and services/.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
