# Targets named in the README. Everything installs into .venv from this repo's own files.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= etc/ganeti-agent.conf
ARGS ?=

.PHONY: install run test lint typecheck unit system-deps bench clean

$(BIN)/twistd: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --config-settings editable_mode=compat -e '.[test]'
	touch $@

install: $(BIN)/twistd

## run: start the agent in the foreground with the shipped configuration
run: install
	$(BIN)/twistd --nodaemon --pidfile= ganeti-agent --config $(CONFIG) $(ARGS)

## system-deps: Debian packages the real-component tests use (lvm2, prometheus), when we may install them
system-deps:
	@if ! command -v lvs >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get install -y -qq lvm2 >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq lvm2 >/dev/null 2>&1)) || \
		echo "lvm2 could not be installed; the real-LVM tests will be skipped"; \
	fi
	@if ! command -v prometheus >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		(DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1)) || \
		echo "prometheus could not be installed; the Prometheus tests will be skipped"; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest $(ARGS)

## test: everything CI runs: lint, strict typing and the whole test suite
test: system-deps lint typecheck unit

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache

## deb: build ganeti-agent_*.deb with Debian's own Python into DEB_OUT and run lintian
## (Debian bookworm and the build dependencies of docs/debian.md; not part of test)
DEB_OUT ?= /tmp/ganeti-agent-deb
.PHONY: deb
deb:
	packaging/build-deb.sh $(DEB_OUT)
