# paygate: `make run` starts the whole system locally; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Everything (tests, linters, CDK); RUNNABLE: only what `make run` needs.
INSTALLED := $(VENV)/.installed
RUNNABLE := $(VENV)/.runnable
SOURCES := core handlers workers cli infra tests bench

NODE_INSTALLED := node_modules/.installed
# Debian's Chromium, for the test that opens the docs page in a real browser.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Every Python dependency comes from a lock (requirements/*.lock: pinned, hash-checked;
# `make lock` rewrites them from pyproject.toml's ranges). paygate itself is then
# installed editable, built by the locked setuptools, with nothing else resolved.
DEV_LOCK := requirements/dev.lock
RUN_LOCK := requirements/run.lock
LOCKED_INSTALL = $(BIN)/python -m pip install --require-hashes --no-deps
SELF_INSTALL = $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .

.PHONY: install lint format test test-fast simulate mutate run bench synth openapi lock clean

$(INSTALLED): pyproject.toml $(DEV_LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(LOCKED_INSTALL) --quiet -r $(DEV_LOCK)
	$(SELF_INSTALL)
	touch $(INSTALLED) $(RUNNABLE)

# The local stack only needs the CLI extras: about half the size and time of everything.
$(RUNNABLE): pyproject.toml $(RUN_LOCK)
	@echo "Installing paygate and its local stack into $(VENV) (the first time takes about a minute)..."
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(LOCKED_INSTALL) --progress-bar on -r $(RUN_LOCK)
	$(SELF_INSTALL)
	touch $(RUNNABLE)

# Re-resolve every lock from pyproject.toml's ranges (newest versions within them).
lock: $(INSTALLED)
	$(BIN)/python -m infra.locks

# The CDK CLI, pinned in package-lock.json (for `npx cdk synth` / `npx cdk deploy`).
$(NODE_INSTALLED): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_INSTALLED)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

install: $(INSTALLED) $(NODE_INSTALLED)

lint: install
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/mypy $(SOURCES)

format: install
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

test: lint $(CHROMIUM)
	$(BIN)/pytest

# The unit tier (no moto, no server, no synth: the domain, the use cases on in-memory fakes,
# the HTTP edge) and the contract suites (each fake and its adapter, on in-process moto).
# Seconds; run it while you work, `make test` before you push.
test-fast: $(INSTALLED)
	$(BIN)/pytest -q tests/unit tests/contract

# The deterministic simulation (tests/simulation/): make simulate [SEEDS=1000] [FIRST=0]
# [JOBS=1]; make simulate SEED=n [MUTANT=name] replays one seed and prints its trace.
simulate: $(INSTALLED)
	$(BIN)/python -m tests.simulation $(if $(SEED),--seed $(SEED),--seeds $(or $(SEEDS),1000) --first $(or $(FIRST),0) --jobs $(or $(JOBS),1))$(if $(MUTANT), --mutant $(MUTANT))

# Mutation testing of the fast tier (bench/mutate.py; mutmut in its own .venv-mutate, made on
# first use): make mutate [MODULE=core/domain/payment.py]; all of core/domain and core/use_cases
# by default (about 17 minutes on 2 cores; a module takes about a minute).
mutate: $(INSTALLED)
	$(BIN)/python -m bench.mutate $(MODULE)

# make run [PORT=8420] [AWS_PORT=0]; or PAYGATE_PORT / PAYGATE_AWS_PORT in the environment.
run: $(RUNNABLE)
	$(BIN)/paygate local$(if $(PORT), --port $(PORT))$(if $(AWS_PORT), --aws-port $(AWS_PORT))

bench: install
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(BIN)/python -m bench.run

openapi: $(INSTALLED)
	$(BIN)/python -m handlers.openapi > docs/openapi.json

synth: install
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 npx --no-install cdk synth --quiet

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache cdk.out build
