# PeaceWatch developer commands (GNU make). `make help` lists them.

SHELL := /bin/sh
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

HOST ?= 127.0.0.1
PORT ?= 8000

# Extra arguments for pytest, e.g. make test PYTEST_ARGS='-k incidents -x'
PYTEST_ARGS ?=
# Set it (as CI and `make test-postgres` do) to run every database test on PostgreSQL as well.
PEACEWATCH_TEST_POSTGRES_URL ?=
export PEACEWATCH_TEST_POSTGRES_URL

# The PostgreSQL server that `make test-postgres` makes a throwaway database on.
PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
PG_USER ?= postgres

.PHONY: help install browser run test test-postgres bench lint lock clean distclean

help:
	@echo "make install        create .venv and install PeaceWatch with its dev tools (pinned by constraints.txt)"
	@echo "make run            migrate the database, then serve on http://$(HOST):$(PORT) (HOST=, PORT= to change)"
	@echo "make browser        install chromium + chromium-driver for the browser tests (apt, as root)"
	@echo "make test           run the tests (SQLite; PostgreSQL too if PEACEWATCH_TEST_POSTGRES_URL is set)"
	@echo "make test-postgres  run the tests on SQLite and on a throwaway PostgreSQL database at $(PG_HOST):$(PG_PORT)"
	@echo "make bench          ingestion benchmark on SQLite (BENCH_ARGS='--quick' or '--postgres URL')"
	@echo "make lint           ruff check and ruff format --check"
	@echo "make lock           rewrite constraints.txt from the packages installed in .venv"
	@echo "make clean          remove caches and build output (keeps .venv and data/)"
	@echo "make distclean      clean, and remove .venv too (keeps data/)"

install: $(STAMP)

# Re-runs only when pyproject.toml or constraints.txt is newer than the last install.
$(STAMP): pyproject.toml constraints.txt
	@if [ ! -x $(BIN)/python ]; then echo "==> creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi
	@echo "==> upgrading pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> installing peacewatch (editable) with dev extras, pinned by constraints.txt"
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev]'
	@touch $@

# On a new database (no records, no tokens) it seeds the fictional demo mission and runs the field
# simulator beside the server (stopped with it); PEACEWATCH_DEMO=0 starts empty instead, and
# PEACEWATCH_DEMO_RATE sets the simulator's records per minute. An existing database is left alone.
run: install
	@echo "==> migrating the database (peacewatch db upgrade)"
	$(BIN)/peacewatch db upgrade
	@sim=; \
	if [ "$${PEACEWATCH_DEMO:-1}" != 0 ]; then \
		$(BIN)/peacewatch demo --if-new; status=$$?; \
		if [ $$status -eq 0 ]; then \
			echo "==> field simulator: $${PEACEWATCH_DEMO_RATE:-12} records a minute (PEACEWATCH_DEMO=0 to start empty)"; \
			$(BIN)/peacewatch simulate --url http://$(HOST):$(PORT) --rate $${PEACEWATCH_DEMO_RATE:-12} & sim=$$!; \
			trap 'kill $$sim 2>/dev/null' EXIT; \
			trap 'exit 130' INT TERM HUP; \
		elif [ $$status -ne 10 ]; then exit $$status; fi; \
	fi; \
	echo "==> serving on http://$(HOST):$(PORT) (Ctrl-C stops)"; \
	$(BIN)/peacewatch serve --host $(HOST) --port $(PORT)

# The dashboard's browser tests drive Debian's chromium through chromium-driver. Installed here
# with apt when missing and run as root (as CI is); otherwise those tests skip and say why.
browser:
	@if command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "==> installing chromium and chromium-driver (apt) for the dashboard's browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
		echo "==> no chromium/chromedriver and not root: the dashboard's browser tests will skip" \
			"(sudo apt-get install chromium chromium-driver)"; \
	fi

test: install browser
	@if [ -n "$$PEACEWATCH_TEST_POSTGRES_URL" ]; then \
		echo "==> running tests on SQLite and PostgreSQL"; \
	else \
		echo "==> running tests on SQLite (set PEACEWATCH_TEST_POSTGRES_URL or use make test-postgres for PostgreSQL)"; \
	fi
	$(BIN)/pytest $(PYTEST_ARGS)

# A database of its own per run (the shell's pid in its name), dropped afterwards even when the
# tests fail or are interrupted; the exit status is the tests'.
test-postgres: install
	@db=peacewatch_test_$$$$; \
	echo "==> creating database $$db on $(PG_HOST):$(PG_PORT)"; \
	createdb -h $(PG_HOST) -p $(PG_PORT) -U $(PG_USER) "$$db" || exit $$?; \
	trap 'echo "==> dropping database $$db"; dropdb -h $(PG_HOST) -p $(PG_PORT) -U $(PG_USER) --if-exists "$$db"' EXIT; \
	trap 'exit 130' INT TERM HUP; \
	PEACEWATCH_TEST_POSTGRES_URL="postgresql+psycopg://$(PG_USER)@$(PG_HOST):$(PG_PORT)/$$db" \
		$(MAKE) --no-print-directory test; \
	status=$$?; \
	exit $$status

# Single posts and /sync batches against their baselines; figures and goals in docs/benchmarks.md.
BENCH_ARGS ?=
bench: install
	$(BIN)/python -m bench.ingest $(BENCH_ARGS)

lint: install
	@echo "==> ruff check"
	$(BIN)/ruff check .
	@echo "==> ruff format --check"
	$(BIN)/ruff format --check .

# To change a pin: edit pyproject.toml or run .venv/bin/pip install -U PACKAGE, then make lock.
lock:
	@test -x $(BIN)/pip || { echo "no $(VENV); run make install first" >&2; exit 1; }
	@echo "==> writing constraints.txt from $(VENV) (pip freeze)"
	@{ \
		echo '# Pinned versions of every package in the development environment (runtime + dev extras),'; \
		echo '# used as a pip constraints file: pip install -c constraints.txt -e ".[dev]" (make install)'; \
		echo '# and pip install -c constraints.txt . (Dockerfile).'; \
		echo '# Regenerate from the current .venv with: make lock'; \
		$(BIN)/pip freeze --exclude-editable | grep -v '^peacewatch'; \
	} > constraints.txt.tmp
	@mv constraints.txt.tmp constraints.txt
	@if [ -f $(STAMP) ]; then touch $(STAMP); fi

clean:
	@echo "==> removing caches and build output"
	rm -rf .pytest_cache .ruff_cache .hypothesis build dist *.egg-info constraints.txt.tmp
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	@echo "==> removing $(VENV)"
	rm -rf $(VENV)
