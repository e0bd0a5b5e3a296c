# fanout: the two commands are `make demo` and `make test`; both set up .venv themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt src/requirements.txt | cksum | cut -d' ' -f1)
export PYTHONPATH := $(CURDIR)/src:$(CURDIR)
EVENT ?= events/direct.json

.PHONY: help venv demo build api invoke sam-invoke sam-image fault-tools browser-tools openapi monitors-schema configdoc checkov test test-processes test-in-process lint typecheck unit integration e2e faults bench clean deploy-regions

help:
	@echo "make demo                 run the function in the Lambda runtime emulator against a local demo target"
	@echo "make demo MONITOR=1       a monitors file applied to moto, its schedule run three times: transitions and alerts"
	@echo "make invoke EVENT=...     invoke it with an event file (default $(EVENT))"
	@echo "make sam-invoke EVENT=... sam build + sam local invoke FanoutFunction (Docker; official image, or the offline one)"
	@echo "make build                sam build + the function's bytecode (.pyc): what sam deploy should upload"
	@echo "make api [STORE=moto]     sam build + sam local start-api on http://127.0.0.1:3000 (API_PORT=...)"
	@echo "make sam-image            start Docker if needed and build the offline Lambda image (air-gapped machines)"
	@echo "make deploy-regions HOME_REGION=us-east-1 PROBE_REGIONS=\"eu-west-1 ap-southeast-2\" [STACK=fanout] [DRY_RUN=1]"
	@echo "                          sam deploy to the home region, then to each probe region pointed at it"
	@echo "make openapi              regenerate docs/openapi.json from the code (a test fails when it drifts)"
	@echo "make monitors-schema      regenerate docs/monitors.schema.json (the monitors file's JSON Schema)"
	@echo "make configdoc            regenerate docs/configuration.md's settings tables from the settings model"
	@echo "make checkov              scan template.yaml with checkov (own venv, .venv-checkov): no failed check"
	@echo "make test                 lint, type-check, checkov and run every test tier"
	@echo "make bench                benchmarks: prints a table, writes bench/results.json and bench/results.png"

$(STAMP): requirements-dev.txt src/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@# The `fanout` command line (pyproject's console script), on the working tree.
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# src/ on the venv's path (a .pth file): tools run from it (lint-imports, python -m ...) find fanout.
	@$(BIN)/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "fanout-src.pth").write_text("$(CURDIR)/src\n$(CURDIR)\n")'
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

demo: venv
ifeq ($(MONITOR),1)
	$(BIN)/python -m devtools.demo_monitor
else
	$(BIN)/python -m devtools.demo
endif

invoke: venv
	$(BIN)/python -m devtools.demo --event $(EVENT)

sam-invoke: venv
	@scripts/sam-invoke.sh $(EVENT)

build: venv
	@scripts/sam-invoke.sh --build

api: venv
	@scripts/sam-api.sh

# Several regions (docs/deploy.md): the home region first, then each probe region with its queue.
HOME_REGION ?=
PROBE_REGIONS ?=
STACK ?= fanout
deploy-regions: venv
	@scripts/deploy-regions.sh --home "$(HOME_REGION)" --probes "$(PROBE_REGIONS)" --stack "$(STACK)" $(if $(DRY_RUN),--dry-run)

sam-image:
	@scripts/ensure-docker.sh
	@scripts/offline-lambda-image.sh >/dev/null

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

# checkov in a venv of its own (its pins conflict with the project's), from a full freeze. It fails on
# any failed check: deliberate ones are skipped in template.yaml with their reasons (docs/security.md).
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(shell cat requirements-checkov.txt | cksum | cut -d' ' -f1)

$(CHECKOV_STAMP): requirements-checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	@rm -f $(CHECKOV_VENV)/.installed-* && touch $@

checkov: $(CHECKOV_STAMP)
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

# The e2e tier runs `sam local invoke` in Docker: start the engine and build the offline Lambda
# image first; the fault tier needs namespaces and iptables (all idempotent; all fail loudly).
# The fetcher, the engine, the deadline and the ways in, against real servers: the asyncio-loop job.
ASYNCIO_TESTS := $(addprefix tests/integration/test_,fetch_outcomes.py retries.py run_fanout.py checks.py \
	cookies.py egress_guard.py lean_wire.py handler_direct.py front_doors.py sharded_runs_launch.py \
	sharded_runs_deliveries.py sharded_runs_continuations.py sharded_runs_leftovers.py tracing.py)

# pytest without this make's job server in its environment (the tests run make themselves).
PYTEST := env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL $(BIN)/python -m pytest

# Two pytest runs side by side (one per core; each prints when it ends), about even in time: the
# Docker, emulator and browser tiers, which mostly wait on other processes, then what the event
# loop drives (ASYNCIO_TESTS) on uvloop, the default loop, and again on asyncio's own; and the rest
# of the integration tier with the unit tier.
test: lint typecheck checkov sam-image fault-tools browser-tools
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-processes test-in-process

test-processes: venv
	$(PYTEST) tests/e2e tests/browser tests/faults
	$(PYTEST) $(ASYNCIO_TESTS)
	FANOUT_EVENT_LOOP=asyncio $(PYTEST) $(ASYNCIO_TESTS)

test-in-process: venv
	$(PYTEST) tests/integration tests/unit $(addprefix --ignore=,$(ASYNCIO_TESTS))

fault-tools:
	@scripts/ensure-fault-tools.sh

# The status page's browser tests (tests/browser): Debian's chromium and axe-core (package-lock.json).
browser-tools:
	@scripts/ensure-browser.sh

unit integration e2e faults: venv
	$(BIN)/python -m pytest tests/$@

openapi: venv
	EGRESS_ALLOW_CIDRS= $(BIN)/python -m devtools.openapi --write

monitors-schema: venv
	$(BIN)/python -m devtools.monitors_schema --write

configdoc: venv
	$(BIN)/python -m devtools.configdoc --write

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-checkov .mypy_cache .pytest_cache .ruff_cache .aws-sam
