# 矛调通 — the README's two commands. Everything installs into .venv; nothing global but Debian packages
# for the browser tests (chromium, fonts-wqy-microhei) when they are missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test install install-dev browser-deps lint test-sqlite test-pg clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
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

test-sqlite: install-dev browser-deps
	MEDIATION_ENV=test MEDIATION_TEST_ENGINE=sqlite $(BIN)/python -m pytest

test-pg: install-dev
	MEDIATION_ENV=test MEDIATION_TEST_ENGINE=postgresql $(BIN)/python -m pytest -m "not browser"

test: lint test-sqlite
	@if [ -n "$$MEDIATION_TEST_PG_URL" ]; then $(MAKE) --no-print-directory test-pg; \
	else echo "MEDIATION_TEST_PG_URL not set: PostgreSQL run skipped"; fi

clean:
	rm -rf $(VENV) instance/*.db instance/*.db-*
