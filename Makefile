# Two commands: `make demo` sets up what running needs and starts the demo; `make test` sets up
# the test extra and runs the suite. Both install from the hashed locks into .venv and reuse
# what an earlier run installed (a lock or pyproject.toml newer than .venv installs again).
# .ci/run runs `make test` too. PYTHON=python3.11 chooses the interpreter, DEMO_LANG=ru|kk|en
# the demo's language.

PYTHON ?= python3
VENV ?= .venv
DEMO_LANG ?= en
BIN := $(VENV)/bin

.PHONY: demo test install install-test

demo: install
	$(BIN)/python -m bot demo --lang $(DEMO_LANG)

test: install-test
	$(BIN)/python -m pytest -n 5 -q --cov

install: $(VENV)/.runtime
install-test: $(VENV)/.test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# What running needs, each file checked against its hash; the bot from this checkout.
$(VENV)/.runtime: requirements/runtime.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/runtime.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# The test extra (a superset of the runtime lock, setuptools included): nothing resolved or
# downloaded beyond the lock.
$(VENV)/.test: requirements/test.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/test.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $@ $(VENV)/.runtime
