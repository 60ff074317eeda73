# One task runner: `make demo` and `make test` each set everything up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check setuptools==80.9.0 wheel==0.45.1
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/trust demo

test: setup
	sh scripts/install-browser.sh
	sh scripts/install-java.sh
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check trust tests benchmarks
	$(VENV)/bin/ruff format --check trust tests benchmarks
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .trust-demo
