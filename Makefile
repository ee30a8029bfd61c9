# Two commands set up everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APP_STAMP := $(VENV)/.installed-app
STAMP := $(VENV)/.installed
# pytest keeps the test modules it rewrites (for its assertion messages) as bytecode; with
# PYTHONDONTWRITEBYTECODE set it would rewrite and compile every one of them on each run.
PYTEST := PYTHONDONTWRITEBYTECODE= $(PY) -m pytest
# `make test` and `make test-fast` spread the tests over one worker a core (pytest-xdist); many
# slow tests wait on real time (subprocesses, grace periods), so they overlap well. worksteal
# hands a worker that runs out the queued tests of a busy one. `make test JOBS=0` runs serially.
JOBS ?= auto
PARALLEL := -n $(JOBS) --dist worksteal

.PHONY: demo test test-fast lint bench venv clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall when the project metadata changes. An editable install compiles nothing, and with
# PYTHONDONTWRITEBYTECODE set every launch would compile crondeck again (~0.3 s): compile
# it here, as pip does for a wheel.
$(APP_STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e .
	$(PY) -m compileall -q core cli tui themes
	touch $(APP_STAMP)

# The demo needs only the app; tests, lint and benchmarks add their tools on top.
$(STAMP): $(APP_STAMP)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(APP_STAMP)
	$(VENV)/bin/crondeck --demo

# mypy cannot follow the editable install's import hook that maps crondeck.* onto the top-level
# folders, so it reads them through links named as they are imported (mypy_path in pyproject).
MYPY_TREE := $(VENV)/mypy/crondeck

$(MYPY_TREE): | $(PY)
	mkdir -p $@
	for d in core cli tui; do ln -sfn ../../../$$d $@/$$d; done

lint: $(STAMP) $(MYPY_TREE)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# CI runs only `make test`: the lint runs there too. The export tests compare against the real
# systemd-analyze; install it where missing.
test: lint
	@command -v systemd-analyze >/dev/null || (apt-get update -qq && apt-get install -y -qq systemd >/dev/null)
	$(PYTEST) $(PARALLEL)

# The quick loop while editing: every test not marked slow (the whole suite is `make test`).
test-fast: $(STAMP)
	$(PYTEST) $(PARALLEL) -m "not slow"

bench: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m compileall -q core cli tui themes
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
