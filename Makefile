# The lab's front door. `make lab-up` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
LAB     = $(BIN)/lab
STAMP   = $(VENV)/.installed

.PHONY: lab-up lab-down lab-status test scenarios bench venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

lab-up: $(STAMP)
	$(LAB) up

lab-down: $(STAMP)
	$(LAB) down

lab-status: $(STAMP)
	$(LAB) status

test: $(STAMP)
	$(BIN)/pytest

# The scenario catalog against the running lab (or one brought up for the run): JUnit + HTML.
scenarios: $(STAMP)
	$(LAB) scenarios run $(if $(TAG),--tag $(TAG)) --junit reports/junit.xml --report reports/scenarios

bench: $(STAMP)
	bash bench/install-references.sh
	@for b in bench/bench_*.py; do [ -e "$$b" ] || continue; echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
