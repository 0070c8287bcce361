# v7d — the two commands a fresh machine needs are `make demo` and `make test`.
# Everything here runs from a clean clone with only Python 3.11+ installed.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: help venv demo test test-fast test-systemd chaos soak lint bench deb clean

help:
	@echo "make demo          simulator + daemon + 14-day backfill, then what to query"
	@echo "make test          the whole test suite (what CI runs)"
	@echo "make test-systemd  only the real-systemd container tests"
	@echo "make chaos|soak    long fault-injection and soak runs (marker: slow)"
	@echo "make lint          ruff check, ruff format --check, mypy --strict"
	@echo "make bench         benchmarks in bench/, printed as tables"
	@echo "make deb           build the Debian package into packaging/out/"

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

demo: venv
	$(BIN)/v7d demo

# pytest exits 5 when it collected no test: that is a failure here, never a pass.
test: venv
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/python -m pytest -m "not slow and not systemd" $(PYTEST_ARGS)

test-systemd: venv
	$(BIN)/python -m pytest -m systemd $(PYTEST_ARGS)

chaos: venv
	$(BIN)/python -m pytest -m slow -k chaos $(PYTEST_ARGS)

soak: venv
	$(BIN)/python -m pytest -m slow -k soak $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check v7d tests bench
	$(BIN)/ruff format --check v7d tests bench
	$(BIN)/mypy --strict --ignore-missing-imports v7d

bench: venv
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

deb:
	bash packaging/build-deb.sh

clean:
	rm -rf $(VENV) build dist *.egg-info packaging/out .pytest_cache .ruff_cache
