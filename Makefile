# Two commands set up everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pytest keeps the test modules it rewrites (for its assertion messages) as bytecode; with
# PYTHONDONTWRITEBYTECODE set it would rewrite and compile every one of them on each run.
PYTEST := PYTHONDONTWRITEBYTECODE= $(PY) -m pytest

.PHONY: demo test test-fast lint bench venv clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall when the project metadata changes. An editable install compiles nothing, and with
# PYTHONDONTWRITEBYTECODE set every launch would compile crondeck again (~0.3 s): compile
# it here, as pip does for a wheel.
$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m compileall -q core cli tui themes
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/crondeck --demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The export tests compare against the real systemd-analyze; install it where missing.
test: $(STAMP)
	@command -v systemd-analyze >/dev/null || (apt-get update -qq && apt-get install -y -qq systemd >/dev/null)
	$(VENV)/bin/ruff check .
	$(PYTEST)

# The quick loop while editing: every test not marked slow (the whole suite is `make test`).
test-fast: $(STAMP)
	$(PYTEST) -m "not slow"

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m compileall -q core cli tui themes
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
