# The two commands a newcomer needs:
#   make dev    set up a virtualenv and run Linkport (embedded PostgreSQL and Redis by default)
#   make test   set up the same virtualenv and run the whole test suite
# And for speed (needs wrk, the local PostgreSQL and Redis; see bench/README.md):
#   make bench        every figure beside its raw baseline (~20 minutes)
#   make bench-smoke  the same in about two minutes, only to check it still works
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: dev test lint install bench bench-smoke wrk test-deps deploy-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/linkport dev

test: $(STAMP) test-deps
	$(BIN)/pytest

# What the tests need beyond Python packages: Debian's Chromium for the browser tests
# (Playwright drives it; its own browser download cannot work offline), PgBouncer for the
# managed-services test (transaction pooling in front of PostgreSQL), and the npm
# packages the browser tests load (tests/e2e/js: the exact versions in its package-lock.json,
# installed with npm, which Debian packages). Installed here when we may (root with
# apt-get), else the exact command is printed and nothing runs.
JS_TESTS := tests/e2e/js
test-deps:
	@[ -n "$$LINKPORT_TEST_CHROMIUM" ] || command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; } || \
	  { echo "the browser tests need Chromium: sudo apt-get install chromium (or set LINKPORT_TEST_CHROMIUM)"; exit 1; }
	@command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; }; } || \
	  { echo "the PgBouncer test needs pgbouncer: sudo apt-get install pgbouncer"; exit 1; }
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }; } || \
	  { echo "the browser tests need npm: sudo apt-get install nodejs npm"; exit 1; }
	cd $(JS_TESTS) && npm ci --no-audit --no-fund --loglevel=error

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# wrk drives the HTTP load; Debian packages it. Installed here when we may, else explained.
wrk:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || \
	  { echo "the benchmark needs wrk: apt-get install wrk"; exit 1; }

bench: $(STAMP) wrk
	$(BIN)/python -m bench

bench-smoke: $(STAMP) wrk
	$(BIN)/python -m bench --smoke --out bench/out-smoke

# The container image, compose file and Helm chart: lint, render (default and production
# values) and validate offline against the Kubernetes schemas; tools go to deploy/.tools.
deploy-check:
	bash deploy/check.sh
