# One task runner: `make demo` and `make test` each set everything up first.
# `make demo` installs the trust and the demo's servers only (requirements/demo.lock); `make test` and
# `make lint` install everything the tests and the linters need (requirements/test.lock, a superset).
# Each install leaves a stamp, so running again installs nothing until a lock or pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
DEMO_STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test

.PHONY: setup setup-demo demo test lint lock clean

# $(1): the lock to install. A lock holds every package its set needs (tests/test_dependencies.py), so pip
# skips resolving (--no-deps) and `pip check` confirms nothing is missing; --no-compile leaves the
# bytecode to each module's first import (a third of the install's time otherwise). setuptools builds
# the editable install of the trust itself (without the wheel package since setuptools 70.1).
define install
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) setuptools==80.9.0
	$(PIP) --no-deps --no-compile -r $(1)
	$(PIP) --no-deps --no-build-isolation -e .
	$(PY) -m pip check --disable-pip-version-check
endef

$(DEMO_STAMP): requirements/demo.lock pyproject.toml
	$(call install,requirements/demo.lock)
	touch $@

# test.lock holds every pin of demo.lock (tests/test_dependencies.py checks it), so it stamps both.
$(TEST_STAMP): requirements/test.lock requirements/demo.lock pyproject.toml
	$(call install,requirements/test.lock)
	touch $@ $(DEMO_STAMP)

setup-demo: $(DEMO_STAMP)

setup: $(TEST_STAMP)

demo: setup-demo
	$(VENV)/bin/trust demo

test: setup
	sh scripts/install-browser.sh
	sh scripts/install-java.sh
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check trust tests benchmarks
	$(VENV)/bin/ruff format --check trust tests benchmarks
	$(VENV)/bin/mypy

# Re-lock requirements/*.lock after changing pyproject.toml (needs the package index).
lock:
	$(PYTHON) scripts/lock.py

clean:
	rm -rf $(VENV) .trust-demo
