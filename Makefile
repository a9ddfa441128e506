# One command per job, identical locally and in CI. Every target that needs Python creates its own virtualenv.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
MINI_VENV := .venv-ministack
PY := $(VENV)/bin/python
SAM := $(abspath $(SAM_VENV))/bin/sam
export SAM_CLI_TELEMETRY := 0
export __SAM_CLI_APP_DIR := $(abspath .samcli)
export AWS_DEFAULT_REGION ?= eu-central-1
PYTEST_ARGS ?=
TEST_WORKERS ?= 3
# Browser tests drive Debian's Chromium (downloaded browser builds do not work here); installed once, as root or via sudo.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: help demo local reliability bench invocations scale scale-check dev browser lint format typecheck unit usecases contract template stack frontend test coverage build validate openapi \
	deploy-check clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-sam.txt
	touch $@

# ministack (an AWS emulator with CloudFormation) pins its own botocore: it gets a virtualenv of its own.
$(MINI_VENV)/.installed: requirements-ministack.txt
	$(PYTHON) -m venv $(MINI_VENV)
	$(MINI_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-ministack.txt
	touch $@

demo: $(VENV)/.installed ## the whole story against the local stack (no Docker, no AWS)
	POWERTOOLS_TRACE_DISABLED=true $(PY) -W ignore::UserWarning -m scripts.demo

LOCAL_PORT ?= 3000
FINAPI_PORT ?= 8480
WEBFORM_PORT ?= 8481
INTEGRATION ?= ACCESS
FRONTEND_PORT ?=

local: $(VENV)/.installed ## the stack in the foreground (LOCAL_PORT=3000, FINAPI_PORT, WEBFORM_PORT, INTEGRATION=ACCESS|WEB_FORM, FRONTEND_PORT)
	POWERTOOLS_TRACE_DISABLED=true $(PY) -m local_stack --port $(LOCAL_PORT) --finapi-port $(FINAPI_PORT) \
		--webform-port $(WEBFORM_PORT) --integration $(INTEGRATION) $(if $(FRONTEND_PORT),--front-end-port $(FRONTEND_PORT))

reliability: $(VENV)/.installed ## larger runs: 100 updates at 30 % faults, 1,000 fuzzed and 2,400 generated requests
	FAULT_UPDATES=100 FAULT_RATE=0.3 FUZZ_EXAMPLES=1000 OUTSIDE_IN_CASES=2400 $(PY) -m pytest -s -q \
		tests/reliability/test_fault_injection.py tests/reliability/test_fuzz_api.py tests/reliability/test_outside_in.py

bench: $(VENV)/.installed ## cold starts, latency above finAPI's, cost per update per flow and integration (Standard transitions, Express poll loops, polls), the shapes compared, scheduler (~40 min) -> bench/results/
	$(PY) -W ignore::UserWarning -m bench.cold_start
	$(PY) -W ignore::UserWarning -m bench.latency
	$(PY) -W ignore::UserWarning -m bench.changes
	$(PY) -W ignore::UserWarning -m bench.flows
	$(PY) -W ignore::UserWarning -m bench.invocations
	$(PY) -m bench.scheduler 10000 100000
	$(PY) -m bench.report

invocations: $(VENV)/.installed ## the rush's update measured one at a time, for the scale simulation (~6 min; after bench.flows) -> bench/results/invocations.md
	$(PY) -W ignore::UserWarning -m bench.invocations

scale: $(VENV)/.installed ## the morning rush (20,000 presses in a minute) and a night of 1,000,000 due connections, simulated through AWS's quotas with the measured calls (about 5 minutes) -> bench/results/scale.md
	$(PY) -m bench.scale

scale-check: $(VENV)/.installed ## the simulation against a real local-stack run of the scheduled path (600 updates: about 31 minutes on a 2-core machine) -> bench/results/scale_validation.md
	$(PY) -m bench.scale.validate $(SCALE_CHECK_ARGS)

dev: $(VENV)/.installed $(SAM_VENV)/.installed $(MINI_VENV)/.installed ## create the virtualenvs (project, SAM CLI, ministack)

$(CHROMIUM):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver

browser: $(CHROMIUM) ## install Debian's chromium and chromium-driver for the browser tests (if missing)

format: $(VENV)/.installed ## format and auto-fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lint: $(VENV)/.installed ## ruff (lint + format check)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed ## mypy --strict
	$(VENV)/bin/mypy layers/core/bankupdate functions finapi_sandbox local_stack scripts bench tests

# Test tiers, fastest first: while working run the tier of what you change; before committing, `make test`.
unit: $(VENV)/.installed ## tier 1: the domain and pure helpers (no network; seconds)
	$(PY) -m pytest tests/unit tests/bench $(PYTEST_ARGS)

usecases: $(VENV)/.installed ## tier 2: every use case over in-memory ports and the finAPI sandbox, and the layer rules (no moto; ~3 min)
	$(PY) -m pytest tests/usecases tests/architecture $(PYTEST_ARGS)

contract: $(VENV)/.installed ## tier 3: adapters against moto, the sandbox against finAPI's spec (no stack; ~2 min)
	$(PY) -m pytest tests/contract tests/sandbox tests/integration $(PYTEST_ARGS)

template: $(VENV)/.installed $(SAM_VENV)/.installed $(MINI_VENV)/.installed ## tier 4: the template (lint, names, timing, durations, grants; deploy to ministack)
	SAM_BIN=$(SAM) $(PY) -m pytest tests/template $(PYTEST_ARGS)

stack: $(VENV)/.installed ## tier 5: the application on the local stack (workflows, reliability, AWS's rules; ~12 min)
	$(PY) -m pytest tests/local_stack tests/workflow tests/reliability $(PYTEST_ARGS)

frontend: $(VENV)/.installed $(CHROMIUM) ## tier 6: the reference front end clicked through in headless Chromium, screenshots kept
	$(PY) -m pytest tests/browser $(PYTEST_ARGS)

# The whole suite in TEST_WORKERS pytest workers (the local stack's tests mostly wait on Wait states and finAPI's pace,
# so more workers than cores pay), then, in a session of its own, the check over what every stack of that run saw.
# The layer rules run as tests/architecture. Coverage is its own target: tracing every thread of the local stack made
# its suites ten times as costly in CPU (39 s against 396 s for tests/workflow/test_user_present_flows.py).
test: $(VENV)/.installed $(SAM_VENV)/.installed $(MINI_VENV)/.installed $(CHROMIUM) lint typecheck ## the README's test command: lint, types, layer rules, every test suite
	SAM_BIN=$(SAM) $(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)
	$(PY) -m pytest -m after_every_stack tests/template/test_least_privilege.py

# The whole suite with coverage of layers/core/bankupdate and the handlers (they run in-process in the local stack);
# below the floor in pyproject.toml ([tool.coverage.report] fail_under) the run fails. Slow: see `test`.
coverage: $(VENV)/.installed $(SAM_VENV)/.installed $(MINI_VENV)/.installed $(CHROMIUM) ## the whole suite with coverage and its floor (far slower than make test)
	SAM_BIN=$(SAM) $(PY) -m pytest -n $(TEST_WORKERS) --cov --cov-report=term $(PYTEST_ARGS)

validate: $(SAM_VENV)/.installed ## sam validate --lint
	$(SAM) validate --lint

openapi: $(VENV)/.installed ## regenerate docs/openapi.json from the HTTP handlers
	$(PY) -m scripts.openapi

deploy-check: $(VENV)/.installed $(SAM_VENV)/.installed $(MINI_VENV)/.installed ## sam build, then sam deploy twice side by side to ministack
	SAM_BIN=$(SAM) $(PY) -m pytest -q tests/template/test_two_stacks_deploy.py tests/template/test_physical_names.py

build: $(SAM_VENV)/.installed ## sam build (no Docker; downloads arm64 wheels for python3.13 from PyPI: needs the package index)
	$(SAM) build --parallel

clean: ## remove build output and virtualenvs
	rm -rf .aws-sam .samcli .bench-layer $(VENV) $(SAM_VENV) $(MINI_VENV) .mypy_cache .ruff_cache .pytest_cache test-artifacts .coverage
