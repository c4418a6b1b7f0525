# 矛调通 — the README's two commands. Everything installs into .venv; nothing global but Debian packages
# for the browser tests (chromium, fonts-wqy-microhei) when they are missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test install install-dev browser-deps lint bandit audit lock test-sqlite test-pg clean

# Installs come from the hash-pinned lock files (requirements.lock: what `make run` needs; requirements-dev.lock:
# that plus the dev extras, same versions), then the project itself, editable, with no dependencies and no
# build isolation (its build backend, setuptools, is in the locks too), so nothing unhashed comes from the index.
# `make lock` regenerates both from pyproject.toml; a changed lock re-installs on the next run/test.
$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; echo "the lock does not satisfy pyproject.toml: run make lock (or make clean for a .venv with leftovers)"; exit 1; }
	touch $@

$(VENV)/.installed-dev: requirements-dev.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; echo "the lock does not satisfy pyproject.toml: run make lock (or make clean for a .venv with leftovers)"; exit 1; }
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# `PORT=5100 make run`: the web server on 5100, the WeChat stand-in on PORT+81 (5181) unless WECHAT_FAKE_PORT
# is set (environment or `make run WECHAT_FAKE_PORT=...`, which make exports); "serving on" once it answers.
run: install
	MEDIATION_ENV=development PORT=$(PORT) $(BIN)/python -m core.runner

browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi wqy; then \
		echo "installing chromium and fonts-wqy-microhei (Debian packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	fi

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# bandit over the application packages; fails on a finding bandit-waivers.toml does not accept (offline, seconds)
BANDIT_TARGETS := core center township village notify
bandit: install-dev
	$(BIN)/python tools/bandit_gate.py $(BANDIT_TARGETS)

# bandit, then pip-audit: known vulnerabilities in exactly what `make run` installs and in the dev lock, each one
# fixed or accepted in audit-waivers.toml with its reason; a package it cannot look up fails (--strict). It asks the
# package index's advisory service, so it is not part of `make test`: a new advisory must not turn main red by itself.
# `make audit AUDIT_ARGS="-s osv"` asks OSV instead.
audit: bandit
	$(BIN)/python tools/pip_audit_gate.py requirements.lock requirements-dev.lock -- $(AUDIT_ARGS)

# Re-resolve both locks from pyproject.toml (needs the package index); `make lock LOCK_ARGS=--upgrade` moves
# every unpinned dependency to its newest release, `LOCK_ARGS="--upgrade-package requests"` one of them.
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --build-deps-for editable \
	--no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
# pip-tools comes from the current dev lock (not install-dev: its pip check fails on exactly the stale lock this fixes).
lock: | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_FLAGS) -o requirements.lock pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_FLAGS) --extra dev -c requirements.lock \
		-o requirements-dev.lock pyproject.toml

test-sqlite: install-dev browser-deps
	MEDIATION_ENV=test MEDIATION_TEST_ENGINE=sqlite $(BIN)/python -m pytest

test-pg: install-dev
	MEDIATION_ENV=test MEDIATION_TEST_ENGINE=postgresql $(BIN)/python -m pytest -m "not browser"

test: bandit lint test-sqlite
	@if [ -n "$$MEDIATION_TEST_PG_URL" ]; then $(MAKE) --no-print-directory test-pg; \
	else echo "MEDIATION_TEST_PG_URL not set: PostgreSQL run skipped"; fi

clean:
	rm -rf $(VENV) instance/*.db instance/*.db-*
